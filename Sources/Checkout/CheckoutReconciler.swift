import BoxofficeKit
import Foundation
import Logging
import Payments
import Persistence
import ServiceLifecycle
import SQLKit

/// Finds money and orders stuck between states and finishes them from the gateway's truth.
///
/// The saga normally moves an order on when `payment.completed` / `payment.failed` arrives.
/// If such an event is lost (a Redis failover inside its replication window) or a gateway
/// never called back, an order would wait in `pending_payment` forever with the fan charged.
/// Each pass, on one node:
/// - orders waiting longer than `settleAfter`: a pending payment is looked up at the gateway;
///   paid → tickets (or a refund when the hold ended); failed → the order says so; still unpaid
///   past the hold's bound → given up, so the order ends (and a payment made even later is
///   given back);
/// - top-ups pending as long: looked up, settled or given up the same way;
/// - gateway refunds recorded but not confirmed: carried out again (never twice: the gateway is
///   told what it should still be able to refund).
/// Every step is logged and, for an order, written in its history.
public struct CheckoutReconciler: Sendable {
    let checkout: CheckoutService
    let payments: PaymentService
    let database: Database
    let clock: any WallClock
    let logger: Logger
    /// An order or payment is looked at once it has waited this long.
    public var settleAfter: TimeInterval = 30
    /// Unpaid for this long, a gateway payment is given up (beyond the longest a hold is kept for it).
    public var giveUpAfter: TimeInterval
    public var interval: Duration = .seconds(15)

    public init(checkout: CheckoutService, payments: PaymentService, database: Database, clock: any WallClock, logger: Logger) {
        self.checkout = checkout
        self.payments = payments
        self.database = database
        self.clock = clock
        self.logger = logger
        // A hold is kept for a pending payment at most twice the gateway hold time from its start.
        self.giveUpAfter = 2 * checkout.gatewayHoldMinutes * 60 + 60
    }

    public struct Report: Sendable, Equatable {
        public var ordersSettled = 0
        public var paymentsGivenUp = 0
        public var refundsCompleted = 0

        public init() {}
    }

    /// One pass over everything stuck; what it finished.
    @discardableResult
    public func reconcilePass() async throws -> Report {
        var report = Report()
        let now = clock.now()
        for order in try await checkout.ordersAwaitingPayment(since: now.addingTimeInterval(-settleAfter)) {
            do {
                if try await reconcile(order: order, now: now, report: &report) { report.ordersSettled += 1 }
            } catch {
                logger.warning("could not reconcile an order yet", metadata: ["order_id": .string(order.id), "error": .string(String(describing: error))])
            }
        }
        // Top-ups apart from orders: a backlog of one never starves the other.
        for payment in try await payments.pendingGatewayPayments(purpose: "topup", startedBefore: now.addingTimeInterval(-settleAfter)) {
            do {
                let confirmed = try await payments.confirmGatewayPayment(id: payment.id, viewer: nil)
                if confirmed.status == "pending", payment.createdAt < now.addingTimeInterval(-giveUpAfter),
                   try await payments.giveUpUnpaid(id: payment.id, reason: "not paid in time") {
                    report.paymentsGivenUp += 1
                    logger.notice("reconciler gave up an unpaid top-up", metadata: ["payment_id": .string(payment.id)])
                }
            } catch {
                logger.warning("could not reconcile a top-up yet", metadata: ["payment_id": .string(payment.id), "error": .string(String(describing: error))])
            }
        }
        report.refundsCompleted = try await payments.completeStuckRefunds(requestedBefore: now.addingTimeInterval(-settleAfter))
        if report != Report() {
            logger.notice("reconciled", metadata: [
                "orders": .stringConvertible(report.ordersSettled), "payments_given_up": .stringConvertible(report.paymentsGivenUp),
                "refunds": .stringConvertible(report.refundsCompleted),
            ])
        }
        return report
    }

    /// Returns whether the order was settled now.
    private func reconcile(order: CheckoutService.AwaitingOrder, now: Date, report: inout Report) async throws -> Bool {
        let money = try await database.read { sql in try await payments.money(forOrder: order.id, in: sql) }
        guard let pending = money.payments.last(where: { $0.method == "gateway" }) else { return false }
        var payment = pending
        if payment.status == "pending" {
            payment = try await payments.confirmGatewayPayment(id: payment.id, viewer: nil)
        }
        if payment.status == "pending", order.createdAt < now.addingTimeInterval(-giveUpAfter) {
            if try await payments.giveUpUnpaid(id: payment.id, reason: "not paid in time") { report.paymentsGivenUp += 1 }
            payment = try await payments.payment(id: payment.id)
        }
        let paid: Bool
        switch payment.status {
        case "paid", "refunded": paid = true
        case "failed": paid = false
        default: return false
        }
        let settled = try await database.withTransaction { transaction in
            try await checkout.settleGatewayPayment(
                orderID: order.id, paid: paid, reason: payment.failure, reconciled: true, in: transaction)
        }
        if settled {
            logger.notice("reconciler settled a stuck order", metadata: [
                "order_id": .string(order.id), "payment_id": .string(payment.id), "paid": .stringConvertible(paid),
            ])
        }
        return settled
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await reconcilePass()
                } catch where Task.isCancelled {
                    return
                } catch {
                    logger.error("reconciling failed", metadata: ["error": .string(String(describing: error))])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
