import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Payments
import Persistence
import SQLKit
import TestSupport
import Testing

/// Money and orders stuck between states, finished by the reconciler from the gateway's truth.
@Suite struct ReconcilerTests {
    /// Drops undelivered events of a type, as a Redis failover inside its replication window would.
    private func lose(_ eventType: String, _ platform: BoxofficePlatform) async throws {
        try await platform.database.withTransaction { transaction in
            try await transaction.sql.raw("DELETE FROM outbox WHERE event_type = \(bind: eventType) AND delivered_at IS NULL").run()
        }
    }

    private func history(_ gateway: GatewaySale, _ orderID: String) async throws -> [String] {
        let fan = try await OnSale.token(gateway.sale.platform, userID: "fan-1")
        let order = try await gateway.sale.call(.get, "/v1/orders/\(orderID)", fan: fan)
        return (order.json["history"] as? [[String: Any]] ?? []).compactMap { $0["note"] as? String }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aPaidOrderWhosePaymentEventWasLostGetsItsTickets(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let (orderID, paymentID) = try await gateway.start()
                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, sendWebhook: false)
                #expect(try await platform.payments.confirmGatewayPayment(id: paymentID, viewer: nil).status == "paid")
                try await lose("payment.completed", platform)
                try await platform.relay.deliverPending()
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM tickets") == 0, "stuck: charged, no tickets")

                #expect(try await platform.reconciler.reconcilePass().ordersSettled == 0, "too early to call it stuck")
                clock.advance(by: 31)
                #expect(try await platform.reconciler.reconcilePass().ordersSettled == 1)
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM tickets WHERE status = 'valid'") == 2)
                #expect(try await platform.reconciler.reconcilePass() == .init(), "a second pass finds nothing")
                let notes = try await history(gateway, orderID)
                #expect(notes.contains { $0.contains("did not arrive") }, "\(notes)")
                #expect(notes.contains { $0.hasPrefix("Paid 220000") }, "\(notes)")
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aPaymentTheGatewayNeverReportedIsAskedForAndSettled(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let (orderID, paymentID) = try await gateway.start()
                // Paid at the gateway; no webhook and no returning client ever comes.
                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, sendWebhook: false)
                clock.advance(by: 31)
                #expect(try await platform.reconciler.reconcilePass().ordersSettled == 1)
                try await platform.relay.deliverPending()  // the late payment.completed changes nothing more
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM tickets") == 2)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                #expect(try await gateway.sale.call(.get, "/v1/orders/\(orderID)", fan: fan).json["status"] as? String == "paid")
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func anUnpaidOrderIsGivenUpAndAPaymentMadeEvenLaterIsGivenBack(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let (orderID, paymentID) = try await gateway.start()
                clock.advance(by: 31)
                #expect(try await platform.reconciler.reconcilePass().ordersSettled == 0, "the fan may still pay")
                clock.advance(by: 21 * 60)
                let report = try await platform.reconciler.reconcilePass()
                #expect(report.ordersSettled == 1 && report.paymentsGivenUp == 1)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                #expect(try await gateway.sale.call(.get, "/v1/orders/\(orderID)", fan: fan).json["status"] as? String == "payment_failed")

                // The fan pays anyway, long after: the money goes back, once.
                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, sendWebhook: false)
                #expect(try await gateway.webhook(payment: paymentID) == 200)
                #expect(try await gateway.webhook(payment: paymentID) == 200)
                try await platform.relay.deliverPending()
                let atGateway = try await gateway.sandbox.payment(id: paymentID)
                #expect(atGateway.status == .cancelled && atGateway.cancelledAmount == 220_000)
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM refunds WHERE status = 'completed'") == 1)
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM tickets") == 0)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aLatePaymentNoticedByEveryoneAtOnceIsGivenBackOnceToTheUnit(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let (_, paymentID) = try await gateway.start()
                clock.advance(by: 22 * 60)
                #expect(try await platform.reconciler.reconcilePass().paymentsGivenUp == 1)
                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, sendWebhook: false)
                clock.advance(by: 31)
                // Webhooks, returning clients, the reconciler and the relay, all at the same moment.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<6 { group.addTask { _ = try await gateway.webhook(payment: paymentID) } }
                    for _ in 0..<3 { group.addTask { _ = try await platform.payments.confirmGatewayPayment(id: paymentID, viewer: nil) } }
                    for _ in 0..<3 { group.addTask { _ = try await platform.reconciler.reconcilePass() } }
                    for _ in 0..<3 { group.addTask { try await platform.relay.deliverPending() } }
                    try await group.waitForAll()
                }
                try await platform.relay.deliverPending()
                _ = try await platform.reconciler.reconcilePass()
                let atGateway = try await gateway.sandbox.payment(id: paymentID)
                #expect(atGateway.paidAmount == 220_000 && atGateway.cancelledAmount == 220_000, "paid once, given back once, to the unit")
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM refunds WHERE payment_id = \(bind: paymentID)") == 1)
                #expect(try await gateway.sale.sum("SELECT CAST(SUM(amount) AS BIGINT) AS n FROM refunds WHERE status = 'completed'") == 220_000)
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM outbox WHERE event_type = 'payment.refunded'") == 1)
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM tickets") == 0)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aTopUpPaidWithoutAWordFromTheGatewayIsCreditedAndOneNobodyPaidIsGivenUp(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                func topUp(_ amount: Int) async throws -> String {
                    let reply = try await gateway.sale.call(
                        .post, "/v1/wallet/topups", fan: gateway.fan, body: ["amount": amount], headers: OnSale.idempotencyKey())
                    return try #require((reply.json["paymentIntent"] as? [String: Any])?["paymentId"] as? String)
                }
                let paid = try await topUp(30_000)
                let abandoned = try await topUp(40_000)
                _ = try gateway.sandbox.pay(paymentID: paid, outcome: .paid, sendWebhook: false)
                clock.advance(by: 31)
                _ = try await platform.reconciler.reconcilePass()
                let fan = try await OnSale.token(platform, userID: "fan-1")
                #expect(try await gateway.sale.balance(fan) == 30_000)
                #expect(try await platform.payments.payment(id: abandoned).status == "pending", "the fan may still pay")
                clock.advance(by: 22 * 60)
                #expect(try await platform.reconciler.reconcilePass().paymentsGivenUp == 1)
                #expect(try await platform.payments.payment(id: abandoned).status == "failed")
                #expect(try await gateway.sale.balance(try await OnSale.token(platform, userID: "fan-1")) == 30_000)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aRefundWhoseRequestWasLostIsCarriedOutOnce(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let (orderID, paymentID) = try await gateway.start()
                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, sendWebhook: false)
                #expect(try await gateway.webhook(payment: paymentID) == 200)
                #expect(try await gateway.order(orderID).json["status"] as? String == "paid")
                #expect(try await gateway.sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: gateway.fan).status == 200)
                try await lose("refund.requested", platform)
                clock.advance(by: 31)
                #expect(try await platform.reconciler.reconcilePass().refundsCompleted == 1)
                #expect(try await platform.reconciler.reconcilePass().refundsCompleted == 0)
                let atGateway = try await gateway.sandbox.payment(id: paymentID)
                #expect(atGateway.status == .cancelled && atGateway.cancelledAmount == 220_000, "refunded exactly once")
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM outbox WHERE event_type = 'payment.refunded'") == 1)
            }
        }
    }
}
