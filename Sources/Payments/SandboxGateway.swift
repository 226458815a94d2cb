import BoxofficeKit
import Foundation
import HTTPKit
import Hummingbird
import Logging
import Synchronization

/// A payment gateway that runs inside Boxoffice and behaves like PortOne: payments are
/// registered with an amount, "paid" on a page of its own (`POST /v1/sandbox/payments/{id}/pay`),
/// reported by webhooks signed with the webhook secret after a delay, and cancellable in part or
/// whole. It can fail a payment, or take a different amount than registered, to exercise the
/// paths a real gateway takes rarely. Its state lives in memory: one node, development and tests.
///
/// It also answers PortOne's REST API (`addPortOneRoutes`), so the HTTP adapter can be pointed
/// at it — that is how `PortOneGateway` is tested without the internet.
public final class SandboxGateway: PaymentGateway {
    public let provider = "sandbox"
    public let apiSecret: String
    private let signature: WebhookSignature
    private let webhookDelay: Duration
    private let clock: any WallClock
    private let logger: Logger
    private let state = Mutex<[String: Record]>([:])
    private let webhookSink = Mutex<(@Sendable ([UInt8], [String: String]) async throws -> Void)?>(nil)
    private let publicURL: String

    struct Record {
        var amount: Int64
        var currency: String
        var orderName = ""
        var status: GatewayPayment.Status = .ready
        var paid: Int64 = 0
        var cancelled: Int64 = 0
    }

    public init(
        apiSecret: String, webhookSecret: String, webhookDelay: Duration = .milliseconds(200), publicURL: String,
        clock: any WallClock = SystemClock(), logger: Logger
    ) {
        self.apiSecret = apiSecret
        self.signature = WebhookSignature(secret: webhookSecret)
        self.webhookDelay = webhookDelay
        self.publicURL = publicURL
        self.clock = clock
        self.logger = logger
    }

    /// Where webhooks go: the composition root points this at the payments service.
    public func deliverWebhooks(to sink: @escaping @Sendable ([UInt8], [String: String]) async throws -> Void) {
        webhookSink.withLock { $0 = sink }
    }

    // MARK: PaymentGateway

    public func prepare(_ request: GatewayPaymentRequest) async throws -> PaymentIntent {
        try register(
            id: request.paymentID, amount: request.amount.amount, currency: request.amount.currency.rawValue, orderName: request.orderName)
        return PaymentIntent(
            provider: provider, paymentId: request.paymentID, amount: request.amount, orderName: request.orderName, storeId: "sandbox",
            channelKey: "sandbox", payUrl: "\(publicURL)/v1/sandbox/payments/\(request.paymentID)/pay")
    }

    public func payment(id: String) async throws -> GatewayPayment {
        guard let record = state.withLock({ $0[id] }) else { throw GatewayError("the sandbox has no payment \(id)") }
        return GatewayPayment(id: id, status: record.status, paidAmount: record.paid, cancelledAmount: record.cancelled, currency: record.currency)
    }

    /// Refuses what PortOne refuses, with its error types: an unknown or unpaid payment, one
    /// already cancelled in full, an amount that is not positive or more than is left, and a
    /// `cancellableBefore` that is not what is left (so a repeated cancel never refunds twice).
    public func cancel(paymentID: String, amount: Int64, cancellableBefore: Int64, reason: String) async throws {
        try cancel(paymentID: paymentID, amount: amount, checking: cancellableBefore)
    }

    /// PortOne's `currentCancellableAmount` is optional: without it nothing is checked.
    private func cancel(paymentID: String, amount: Int64, checking cancellableBefore: Int64?) throws {
        try state.withLock { payments throws(GatewayError) in
            func refuse(_ code: String) -> GatewayError { GatewayError(code, code: code) }
            guard var record = payments[paymentID] else { throw refuse(GatewayError.notFound) }
            if record.status == .cancelled { throw refuse(GatewayError.alreadyCancelled) }
            guard record.status == .paid || record.status == .partiallyCancelled else { throw refuse(GatewayError.notPaid) }
            guard amount > 0 else { throw refuse(GatewayError.invalidRequest) }
            let cancellable = record.paid - record.cancelled
            if let cancellableBefore, cancellableBefore != cancellable { throw refuse(GatewayError.cancellableAmountChanged) }
            guard amount <= cancellable else { throw refuse(GatewayError.exceedsCancellable) }
            record.cancelled += amount
            record.status = record.cancelled == record.paid ? .cancelled : .partiallyCancelled
            payments[paymentID] = record
        }
        logger.info("sandbox gateway refunded", metadata: ["payment_id": .string(paymentID), "amount": .stringConvertible(amount)])
    }

    public func verifyWebhook(body: [UInt8], headers: [String: String]) throws -> GatewayWebhook {
        let (id, _) = try signature.verify(body: body, headers: headers, now: clock.now())
        guard let payload = try? JSONDecoder().decode(WebhookBody.self, from: Data(body)) else {
            throw Problem.badRequest(detail: "The webhook body is not a gateway webhook.")
        }
        return GatewayWebhook(id: id, type: payload.type, paymentID: payload.data.paymentId)
    }

    // MARK: The fan at the gateway

    public enum Outcome: String, Codable, Sendable {
        case paid
        case failed
    }

    /// The fan pays (or fails to) on the sandbox's page. `amount` pays a smaller sum than
    /// registered, as a tampered client would; like PortOne, nothing that is not positive or
    /// that exceeds the registered amount can be paid. The webhook follows after the configured
    /// delay unless `sendWebhook` is false (tests deliver it themselves, in the order they choose).
    public func pay(paymentID: String, outcome: Outcome, amount: Int64? = nil, sendWebhook: Bool = true) throws -> GatewayPayment {
        let record = try state.withLock { payments throws(Problem) in
            guard var record = payments[paymentID] else { throw Problem.notFound(detail: "The sandbox has no such payment.") }
            if let amount, amount <= 0 || amount > record.amount {
                throw Problem.validation([.init(field: "amount", message: "must be from 1 to the registered \(record.amount)")])
            }
            guard record.status == .ready else {
                throw Problem.conflict(detail: "This payment is already \(record.status.rawValue.lowercased()).", slug: "payment-not-ready")
            }
            switch outcome {
            case .paid:
                record.status = .paid
                record.paid = amount ?? record.amount
            case .failed:
                record.status = .failed
            }
            payments[paymentID] = record
            return record
        }
        if sendWebhook { scheduleWebhook(type: outcome == .paid ? "Transaction.Paid" : "Transaction.Failed", paymentID: paymentID) }
        return GatewayPayment(id: paymentID, status: record.status, paidAmount: record.paid, currency: record.currency)
    }

    /// What the sandbox's pay page shows before the fan pays: what for, how much, and whether
    /// it is still to be paid.
    public struct PayPage: Codable, Sendable {
        public let paymentId: String
        public let orderName: String
        public let amount: Int64
        public let currency: String
        /// READY until paid or failed.
        public let status: String
    }

    public func payPage(paymentID: String) throws(Problem) -> PayPage {
        guard let record = state.withLock({ $0[paymentID] }) else { throw Problem.notFound(detail: "The sandbox has no such payment.") }
        return PayPage(
            paymentId: paymentID, orderName: record.orderName, amount: record.amount, currency: record.currency, status: record.status.rawValue)
    }

    /// A signed webhook as the sandbox sends it (tests replay and tamper with these).
    public func signedWebhook(type: String, paymentID: String, id: String = UUID().uuidString) -> (body: [UInt8], headers: [String: String]) {
        let now = clock.now()
        let body = WebhookBody(
            type: type, timestamp: now.formatted(Date.ISO8601FormatStyle()), data: .init(paymentId: paymentID, storeId: "sandbox"))
        let bytes = Array((try? JSONEncoder().encode(body)) ?? Data())
        let timestamp = Int(now.timeIntervalSince1970)
        return (bytes, [
            "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature.sign(id: id, timestamp: timestamp, body: bytes),
        ])
    }

    private func scheduleWebhook(type: String, paymentID: String) {
        guard let sink = webhookSink.withLock({ $0 }) else { return }
        let webhook = signedWebhook(type: type, paymentID: paymentID)
        let (delay, logger) = (webhookDelay, logger)
        Task {
            // Like a real gateway: deliver after a while, retry a few times if refused.
            try? await Task.sleep(for: delay)
            for attempt in 1...5 {
                do {
                    try await sink(webhook.body, webhook.headers)
                    return
                } catch {
                    logger.warning("sandbox webhook refused", metadata: ["attempt": .stringConvertible(attempt), "error": .string(String(describing: error))])
                    try? await Task.sleep(for: .milliseconds(200 * attempt))
                }
            }
        }
    }

    private func register(id: String, amount: Int64, currency: String, orderName: String = "") throws {
        try state.withLock { payments throws(GatewayError) in
            if let existing = payments[id] {
                // Registering again is fine with the same amount (a retry), never with another.
                guard existing.amount == amount, existing.currency == currency else { throw GatewayError("ALREADY_PAID_OR_REGISTERED") }
                return
            }
            payments[id] = Record(amount: amount, currency: currency, orderName: orderName)
        }
    }

    // MARK: PortOne's REST API, served

    /// Mounts PortOne's payment endpoints (pre-register, get, cancel) under `prefix`.
    public func addPortOneRoutes<Context: RequestContext>(to router: Router<Context>, prefix: String = "") {
        let api = router.group(RouterPath(prefix.isEmpty ? "/" : prefix))
        api.post("payments/:paymentId/pre-register") { request, context in
            try self.authorize(request)
            let body = try await request.decodeJSON(as: PortOneWire.PreRegister.self, context: context)
            do {
                try self.register(id: try context.parameters.require("paymentId"), amount: body.totalAmount, currency: body.currency)
            } catch {
                return try Self.failure(.conflict, type: "ALREADY_PAID_OR_REGISTERED")
            }
            return try Self.json(["ok": true])
        }
        api.get("payments/:paymentId") { request, context in
            try self.authorize(request)
            let id = try context.parameters.require("paymentId")
            guard let record = self.state.withLock({ $0[id] }) else { return try Self.failure(.notFound, type: "PAYMENT_NOT_FOUND") }
            return try Self.json(PortOneWire.PaymentRecord(
                id: id, status: record.status.rawValue, amount: .init(total: record.amount, paid: record.paid, cancelled: record.cancelled),
                currency: record.currency))
        }
        api.post("payments/:paymentId/cancel") { request, context in
            try self.authorize(request)
            let body = try await request.decodeJSON(as: PortOneWire.Cancel.self, context: context)
            do {
                try self.cancel(
                    paymentID: try context.parameters.require("paymentId"), amount: body.amount, checking: body.currentCancellableAmount)
            } catch let error as GatewayError {
                return try Self.failure(error.code == GatewayError.notFound ? .notFound : .conflict, type: error.code ?? error.description)
            }
            return try Self.json(PortOneWire.CancelResult(cancellation: .init(status: "SUCCEEDED", totalAmount: body.amount)))
        }
    }

    private func authorize(_ request: Request) throws {
        guard let header = request.headers[.authorization], Secrets.constantTimeEquals(header, "PortOne \(apiSecret)") else {
            throw HTTPError(.unauthorized)
        }
    }

    private static func json(_ value: some Encodable) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(value))))
    }

    private static func failure(_ status: HTTPResponse.Status, type: String) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(PortOneWire.Failure(type: type, message: type)))))
    }
}
