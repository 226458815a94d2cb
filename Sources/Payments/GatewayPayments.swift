import BoxofficeKit
import Foundation
import HTTPKit
import Logging
import Messaging
import Persistence
import SQLKit

/// Payments through the external gateway: registered with their amount, confirmed by the
/// gateway's signed webhook or by the client coming back — whichever is first; the other
/// finds the payment no longer pending and changes nothing.
extension PaymentService {
    /// Records a pending gateway payment inside the caller's transaction (a checkout's).
    @discardableResult
    public func recordPendingGatewayPayment(
        id: String, userID: String, orderID: String?, purpose: String, amount: Money, in transaction: DatabaseTransaction
    ) async throws -> Payment {
        let now = clock.now()
        try await transaction.sql.raw("""
            INSERT INTO payments (id, user_id, order_id, purpose, method, provider, amount, currency, refunded, status, created_at)
            VALUES (\(bind: id), \(bind: userID), \(bind: orderID), \(bind: purpose), 'gateway', \(bind: gateway.provider),
                    \(bind: amount.amount), \(bind: amount.currency.rawValue), 0, 'pending', \(bind: now))
            """).run()
        return Payment(
            id: id, orderId: orderID, purpose: purpose, method: "gateway", amount: amount, refunded: .zero(amount.currency), status: "pending",
            failure: nil, createdAt: now, paidAt: nil)
    }

    /// Registers a payment with the gateway; a 502 problem when the gateway cannot be reached.
    public func prepareAtGateway(paymentID: String, amount: Money, orderName: String, userID: String) async throws -> PaymentIntent {
        do {
            return try await gateway.prepare(
                GatewayPaymentRequest(paymentID: paymentID, amount: amount, orderName: orderName, customerID: userID))
        } catch let error as GatewayError {
            logger.warning("gateway prepare failed", metadata: ["payment_id": .string(paymentID), "error": .string(error.description)])
            throw Self.gatewayUnavailable
        }
    }

    static var gatewayUnavailable: Problem {
        Problem(
            type: Problem.typeURI("gateway-unavailable"), title: "The payment gateway is not answering.", status: 502,
            detail: "Nothing was charged; try again in a moment.")
    }

    /// A wallet top-up paid at the gateway: answers the payment and what the client needs to
    /// pay it, as the HTTP status and body a retry with the same `idempotencyKey` gets back
    /// (one payment, however often it is sent). The wallet is credited when the payment is confirmed.
    public func startTopUp(userID: String, amount: Int64, idempotencyKey: String) async throws -> (status: Int, body: String) {
        guard (1000...Self.maximumCredit).contains(amount) else {
            throw Problem.validation([.init(field: "amount", message: "must be from 1000 to \(Self.maximumCredit)")])
        }
        let scope = "topup/\(userID)"
        let request = TopUpFingerprint(amount: amount)
        // Answer a retry before registering another payment at the gateway.
        if let replay = try await database.read({ sql in
            try await IdempotencyKeys.recorded(scope: scope, key: idempotencyKey, request: request, in: sql)
        }) {
            return (replay.status, replay.body)
        }
        let money = Money(amount: amount, currency: Self.walletCurrency)
        let paymentID = ids.next()
        let intent = try await prepareAtGateway(paymentID: paymentID, amount: money, orderName: "Wallet top-up", userID: userID)
        let now = clock.now()
        return try await database.withTransaction { transaction -> (status: Int, body: String) in
            // A concurrent retry that got here first wins; this registration is never paid.
            if let replay = try await IdempotencyKeys.claim(scope: scope, key: idempotencyKey, request: request, now: now, in: transaction) {
                return (replay.status, replay.body)
            }
            try await self.recordPendingGatewayPayment(
                id: paymentID, userID: userID, orderID: nil, purpose: "topup", amount: money, in: transaction)
            let payment = try Self.payment(try await transaction.sql.raw("""
                SELECT \(unsafeRaw: Self.paymentColumns) FROM payments WHERE id = \(bind: paymentID)
                """).first() ?? { throw Problem.internalError() }())
            let body = String(decoding: try JSONCoding.encoder.encode(TopUpStarted(payment: payment, paymentIntent: intent)), as: UTF8.self)
            try await IdempotencyKeys.record(scope: scope, key: idempotencyKey, status: 202, body: body, in: transaction)
            return (202, body)
        }
    }

    private struct TopUpFingerprint: Encodable {
        let amount: Int64
    }

    public func payment(id: String, viewer: Principal? = nil) async throws -> Payment {
        let found = try await database.read { sql in
            try await sql.raw("SELECT user_id, \(unsafeRaw: Self.paymentColumns) FROM payments WHERE id = \(bind: id)").first()
        }
        guard let found else { throw Problem.notFound(detail: "No such payment.") }
        if let viewer { try viewer.requireOwnership(of: try found.decode(column: "user_id", as: String.self), resource: "payment") }
        return try Self.payment(found)
    }

    /// Asks the gateway about a pending payment and settles it: paid (crediting the wallet for a
    /// top-up), failed, or — when the amount paid is not the amount registered — failed and
    /// given back. Anything but a pending payment is returned as it is: the first confirmation
    /// won, this one is a no-op. `viewer` is the client coming back; nil for a webhook.
    @discardableResult
    public func confirmGatewayPayment(id: String, viewer: Principal?) async throws -> Payment {
        let current = try await payment(id: id, viewer: viewer)
        if current.method == "gateway", current.status == "failed" {
            // Given up on (never paid in time), yet the fan may have paid since: give it back.
            try await giveBackLatePayment(current)
            return try await payment(id: id)
        }
        guard current.method == "gateway", current.status == "pending" else { return current }
        let remote: GatewayPayment
        do {
            remote = try await gateway.payment(id: id)
        } catch let error as GatewayError {
            logger.warning("gateway lookup failed", metadata: ["payment_id": .string(id), "error": .string(error.description)])
            throw Self.gatewayUnavailable
        }
        switch remote.status {
        case .ready:
            return current
        case .failed, .cancelled:
            try await fail(current, reason: "declined by the payment gateway")
        case .paid, .partiallyCancelled:
            if remote.paidAmount != current.amount.amount || remote.currency != current.amount.currency.rawValue {
                // Never accept a different amount than was registered: fail it and give back
                // what was actually paid (through the relay, which retries until the gateway
                // confirms).
                logger.warning("gateway payment amount mismatch", metadata: [
                    "payment_id": .string(id), "registered": .stringConvertible(current.amount.amount),
                    "paid": .stringConvertible(remote.paidAmount),
                ])
                try await fail(
                    current, reason: "the amount paid did not match the amount due",
                    givingBack: remote.cancellableAmount > 0 ? Money(amount: remote.cancellableAmount, currency: current.amount.currency) : nil)
            } else {
                try await complete(current)
            }
        }
        return try await payment(id: id)
    }

    /// Pending → paid, once; a top-up credits the wallet in the same transaction.
    private func complete(_ pending: Payment) async throws {
        let now = clock.now()
        try await database.withTransaction { transaction in
            guard let row = try await transaction.sql.raw("""
                UPDATE payments SET status = 'paid', paid_at = \(bind: now) WHERE id = \(bind: pending.id) AND status = 'pending'
                RETURNING user_id
                """).first()
            else { return }
            let userID = try row.decode(column: "user_id", as: String.self)
            if pending.purpose == "topup" {
                _ = try await self.credit(
                    userID: userID, amount: pending.amount.amount, reason: "topup", orderID: nil, paymentID: pending.id, note: nil,
                    in: transaction)
            }
            try await self.outbox.publish(
                PaymentCompleted(
                    paymentId: pending.id, orderId: pending.orderId, userId: userID, purpose: pending.purpose, method: "gateway",
                    amount: pending.amount),
                in: transaction)
        }
        logger.info("gateway payment completed", metadata: ["payment_id": .string(pending.id), "purpose": .string(pending.purpose)])
    }

    /// Pending → failed, once; returns whether this call made the change. `givingBack` is money
    /// the gateway took anyway (a wrong amount): its refund is recorded in the same transaction.
    @discardableResult
    private func fail(_ pending: Payment, reason: String, givingBack taken: Money? = nil) async throws -> Bool {
        try await database.withTransaction { transaction in
            guard let row = try await transaction.sql.raw("""
                UPDATE payments SET status = 'failed', failure = \(bind: reason) WHERE id = \(bind: pending.id) AND status = 'pending'
                RETURNING user_id
                """).first()
            else { return false }
            if let taken {
                _ = try await self.requestGatewayRefund(
                    paymentID: pending.id, orderID: pending.orderId, amount: taken, cancellableBefore: taken.amount,
                    reason: "the amount paid did not match the amount due", in: transaction)
            }
            try await self.outbox.publish(
                PaymentFailed(
                    paymentId: pending.id, orderId: pending.orderId, userId: try row.decode(column: "user_id", as: String.self),
                    purpose: pending.purpose, reason: reason),
                in: transaction)
            return true
        }
    }

    /// A webhook from the gateway: verified, recorded once per webhook ID, then the payment it
    /// names is settled from the gateway's own record.
    public func receiveWebhook(provider: String, body: [UInt8], headers: [String: String]) async throws {
        guard provider == gateway.provider else { throw Problem.notFound(detail: "No payment provider '\(provider)' here.") }
        let webhook = try gateway.verifyWebhook(body: body, headers: headers)
        let seen = try await database.read { sql in
            try await sql.raw("""
                SELECT webhook_id FROM payment_webhooks WHERE provider = \(bind: provider) AND webhook_id = \(bind: webhook.id)
                """).first() != nil
        }
        guard !seen else {
            logger.debug("duplicate webhook", metadata: ["webhook_id": .string(webhook.id)])
            return
        }
        let known = try await database.read { sql in
            try await sql.raw("SELECT id FROM payments WHERE id = \(bind: webhook.paymentID)").first() != nil
        }
        if known {
            try await confirmGatewayPayment(id: webhook.paymentID, viewer: nil)
        } else {
            logger.warning("webhook for an unknown payment", metadata: ["payment_id": .string(webhook.paymentID)])
        }
        // Recorded only once handled: a webhook whose handling failed (the gateway did not
        // answer) is handled again when the gateway delivers it again. Settling is idempotent,
        // so two copies racing here do no harm.
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                INSERT INTO payment_webhooks (provider, webhook_id, payment_id, received_at)
                VALUES (\(bind: provider), \(bind: webhook.id), \(bind: webhook.paymentID), \(bind: self.clock.now()))
                ON CONFLICT DO NOTHING
                """).run()
        }
    }

    /// A payment we had failed that the gateway says was paid after all: the whole amount paid
    /// goes back, once (a refund already recorded for it means this was done before).
    private func giveBackLatePayment(_ failed: Payment) async throws {
        let remote: GatewayPayment
        do {
            remote = try await gateway.payment(id: failed.id)
        } catch let error as GatewayError {
            logger.warning("gateway lookup failed", metadata: ["payment_id": .string(failed.id), "error": .string(error.description)])
            throw Self.gatewayUnavailable
        }
        guard remote.status == .paid || remote.status == .partiallyCancelled, remote.cancellableAmount > 0 else { return }
        let recorded = try await database.withTransaction { transaction -> Bool in
            let lock = transaction.dialect == .postgres ? " FOR UPDATE" : ""
            _ = try await transaction.sql.raw("SELECT id FROM payments WHERE id = \(bind: failed.id)\(unsafeRaw: lock)").first()
            guard try await transaction.sql.raw("SELECT id FROM refunds WHERE payment_id = \(bind: failed.id)").first() == nil else {
                return false
            }
            _ = try await self.requestGatewayRefund(
                paymentID: failed.id, orderID: failed.orderId, amount: Money(amount: remote.cancellableAmount, currency: failed.amount.currency),
                cancellableBefore: remote.cancellableAmount, reason: "paid after the payment had been given up (\(failed.failure ?? "failed"))",
                in: transaction)
            return true
        }
        if recorded {
            logger.notice("a payment made after it was given up is being refunded", metadata: [
                "payment_id": .string(failed.id), "amount": .stringConvertible(remote.cancellableAmount),
            ])
        }
    }

    // MARK: Reconciling (see Checkout's reconciler)

    /// Gateway payments for `purpose` (order or topup) still pending that were started before
    /// `cutoff`, oldest first.
    public func pendingGatewayPayments(purpose: String, startedBefore cutoff: Date, limit: Int = 100) async throws -> [Payment] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.paymentColumns) FROM payments
                WHERE method = 'gateway' AND status = 'pending' AND purpose = \(bind: purpose) AND created_at < \(bind: cutoff)
                ORDER BY created_at LIMIT \(bind: limit)
                """).all().map(Self.payment)
        }
    }

    /// A pending payment nobody paid within its bound is failed, so what waits on it can end.
    /// Returns whether this call failed it. Paid later after all, it is given back
    /// (`confirmGatewayPayment`).
    @discardableResult
    public func giveUpUnpaid(id: String, reason: String) async throws -> Bool {
        let current = try await payment(id: id)
        guard current.status == "pending" else { return false }
        return try await fail(current, reason: reason)
    }

    /// Gateway refunds recorded before `cutoff` that the gateway has not confirmed (their
    /// `refund.requested` may have been lost on the way): carried out now, each in a transaction
    /// of its own. Returns how many were completed.
    @discardableResult
    public func completeStuckRefunds(requestedBefore cutoff: Date, limit: Int = 100) async throws -> Int {
        let stuck = try await database.read { sql in
            try await sql.raw("""
                SELECT id, payment_id, amount, currency, reason FROM refunds
                WHERE status = 'pending' AND method = 'gateway' AND created_at < \(bind: cutoff) ORDER BY created_at LIMIT \(bind: limit)
                """).all().map { row in
                    RefundRequested(
                        refundId: try row.decode(column: "id", as: String.self), paymentId: try row.decode(column: "payment_id", as: String.self),
                        amount: try row.decodeMoney("amount", currency: "currency"), reason: try row.decode(column: "reason", as: String.self))
                }
        }
        var completed = 0
        for request in stuck {
            do {
                try await database.withTransaction { transaction in try await self.carryOut(request, in: transaction) }
                completed += 1
                logger.notice("reconciler completed a stuck refund", metadata: ["refund_id": .string(request.refundId)])
            } catch {
                logger.warning("stuck refund still failing", metadata: [
                    "refund_id": .string(request.refundId), "error": .string(String(describing: error)),
                ])
            }
        }
        return completed
    }

    /// Records a gateway refund and asks the relay to carry it out. `cancellableBefore` is what
    /// the gateway can still give back before this refund, assuming every earlier refund of the
    /// payment went through: the relay carries a payment's refunds out in order.
    func requestGatewayRefund(
        paymentID: String, orderID: String?, amount: Money, cancellableBefore: Int64, reason: String, in transaction: DatabaseTransaction
    ) async throws -> Refund {
        let refundID = ids.next()
        let now = clock.now()
        try await transaction.sql.raw("""
            INSERT INTO refunds (id, payment_id, order_id, amount, currency, reason, method, status, created_at, cancellable_before)
            VALUES (\(bind: refundID), \(bind: paymentID), \(bind: orderID), \(bind: amount.amount), \(bind: amount.currency.rawValue),
                    \(bind: reason), 'gateway', 'pending', \(bind: now), \(bind: cancellableBefore))
            """).run()
        try await outbox.publish(RefundRequested(refundId: refundID, paymentId: paymentID, amount: amount, reason: reason), in: transaction)
        return Refund(
            id: refundID, paymentId: paymentID, orderId: orderID, amount: amount, reason: reason, method: "gateway", status: "pending",
            createdAt: now)
    }

    /// Carries out a recorded gateway refund (from the relay): the gateway first, then the
    /// refund is marked completed and `payment.refunded` written. A failure is retried by the
    /// relay; a retry after the gateway already refunded is recognised (`giveBack`), never paid twice.
    func carryOut(_ request: RefundRequested, in transaction: DatabaseTransaction) async throws {
        // Refunds recorded before `cancellable_before` existed: the payment less every earlier refund.
        guard let row = try await transaction.sql.raw("""
            SELECT r.status, r.order_id, p.user_id,
                   CAST(COALESCE(r.cancellable_before,
                                 p.amount - (SELECT COALESCE(SUM(e.amount), 0) FROM refunds e WHERE e.payment_id = r.payment_id AND e.id < r.id))
                        AS BIGINT) AS cancellable_before
            FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.id = \(bind: request.refundId)\(unsafeRaw: transaction.dialect == .postgres ? " FOR UPDATE OF r" : "")
            """).first(),
            try row.decode(column: "status", as: String.self) == "pending"
        else { return }
        try await gateway.giveBack(
            paymentID: request.paymentId, amount: request.amount.amount,
            cancellableBefore: try row.decode(column: "cancellable_before", as: Int64.self), reason: request.reason)
        let now = clock.now()
        try await transaction.sql.raw("""
            UPDATE refunds SET status = 'completed', completed_at = \(bind: now) WHERE id = \(bind: request.refundId)
            """).run()
        try await outbox.publish(
            PaymentRefunded(
                refundId: request.refundId, paymentId: request.paymentId, orderId: try row.decode(column: "order_id", as: String?.self),
                userId: try row.decode(column: "user_id", as: String.self), method: "gateway", amount: request.amount, reason: request.reason),
            in: transaction)
        logger.info("gateway refund completed", metadata: ["refund_id": .string(request.refundId), "amount": .stringConvertible(request.amount.amount)])
    }
}

/// Sends recorded gateway refunds to the gateway, through the relay so they survive restarts
/// and are retried with back-off.
public struct GatewayRefunds: EventSubscriber {
    public let name = "payments.gateway-refunds"
    public let eventTypes: Set<String> = [RefundRequested.eventType]
    private let payments: PaymentService

    public init(payments: PaymentService) {
        self.payments = payments
    }

    public func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        try await payments.carryOut(try event.decodePayload(as: RefundRequested.self), in: transaction)
    }
}
