import AsyncHTTPClient
import BoxofficeKit
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// The wire format of PortOne's V2 REST API as Boxoffice uses it; the HTTP adapter speaks it
/// and the sandbox answers it, so the adapter is tested against a real local server.
enum PortOneWire {
    struct PreRegister: Codable {
        let storeId: String?
        let totalAmount: Int64
        let currency: String
    }

    struct PaymentRecord: Codable {
        struct Amount: Codable {
            let total: Int64
            let paid: Int64
            let cancelled: Int64
        }

        let id: String
        let status: String
        let amount: Amount
        let currency: String
    }

    struct Cancel: Codable {
        let amount: Int64
        let reason: String
        /// What the caller believes is still cancellable: PortOne refuses when it differs.
        let currentCancellableAmount: Int64?
    }

    struct CancelResult: Codable {
        struct Cancellation: Codable {
            let status: String
            let totalAmount: Int64
        }

        let cancellation: Cancellation
    }

    struct Failure: Codable {
        let type: String
        let message: String
    }
}

/// PortOne over HTTP: `Authorization: PortOne <api secret>` against a configurable base URL.
public struct PortOneGateway: PaymentGateway {
    public struct Configuration: Sendable {
        public var apiURL: String
        public var apiSecret: String
        public var storeID: String?
        public var channelKey: String?
        public var webhookSecret: String
        public var timeout: TimeAmount = .seconds(10)

        public init(apiURL: String, apiSecret: String, storeID: String?, channelKey: String?, webhookSecret: String) {
            self.apiURL = apiURL
            self.apiSecret = apiSecret
            self.storeID = storeID
            self.channelKey = channelKey
            self.webhookSecret = webhookSecret
        }
    }

    public let provider = "portone"
    private let configuration: Configuration
    private let signature: WebhookSignature
    private let client: HTTPClient
    private let clock: any WallClock
    private let logger: Logger

    public init(configuration: Configuration, client: HTTPClient = .shared, clock: any WallClock = SystemClock(), logger: Logger) {
        self.configuration = configuration
        self.signature = WebhookSignature(secret: configuration.webhookSecret)
        self.client = client
        self.clock = clock
        self.logger = logger
    }

    public func prepare(_ request: GatewayPaymentRequest) async throws -> PaymentIntent {
        _ = try await send(
            .POST, "/payments/\(escaped(request.paymentID))/pre-register",
            body: PortOneWire.PreRegister(
                storeId: configuration.storeID, totalAmount: request.amount.amount, currency: request.amount.currency.rawValue))
        return PaymentIntent(
            provider: provider, paymentId: request.paymentID, amount: request.amount, orderName: request.orderName,
            storeId: configuration.storeID, channelKey: configuration.channelKey, payUrl: nil)
    }

    public func payment(id: String) async throws -> GatewayPayment {
        let data = try await send(.GET, "/payments/\(escaped(id))", body: Optional<PortOneWire.Cancel>.none)
        guard let record = try? JSONDecoder().decode(PortOneWire.PaymentRecord.self, from: data),
              let status = GatewayPayment.Status(rawValue: record.status)
        else { throw GatewayError("the gateway's payment record could not be read") }
        return GatewayPayment(
            id: record.id, status: status, paidAmount: record.amount.paid, cancelledAmount: record.amount.cancelled, currency: record.currency)
    }

    public func cancel(paymentID: String, amount: Int64, cancellableBefore: Int64, reason: String) async throws {
        let data = try await send(
            .POST, "/payments/\(escaped(paymentID))/cancel",
            body: PortOneWire.Cancel(amount: amount, reason: reason, currentCancellableAmount: cancellableBefore))
        guard let result = try? JSONDecoder().decode(PortOneWire.CancelResult.self, from: data), result.cancellation.status == "SUCCEEDED"
        else { throw GatewayError("the gateway did not confirm the cancellation") }
    }

    public func verifyWebhook(body: [UInt8], headers: [String: String]) throws -> GatewayWebhook {
        let (id, _) = try signature.verify(body: body, headers: headers, now: clock.now())
        guard let payload = try? JSONDecoder().decode(WebhookBody.self, from: Data(body)) else {
            throw Problem.badRequest(detail: "The webhook body is not a PortOne webhook.")
        }
        return GatewayWebhook(id: id, type: payload.type, paymentID: payload.data.paymentId)
    }

    private func escaped(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? id
    }

    private func send(_ method: HTTPMethod, _ path: String, body: (some Encodable)?) async throws -> Data {
        var request = HTTPClientRequest(url: configuration.apiURL.trimmingSuffix("/") + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "PortOne \(configuration.apiSecret)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request, timeout: configuration.timeout)
            bytes = try await response.body.collect(upTo: 1 << 20)
        } catch {
            logger.warning("payment gateway unreachable", metadata: ["path": .string(path), "error": .string(String(describing: error))])
            throw GatewayError("the payment gateway could not be reached")
        }
        let data = Data(buffer: bytes)
        guard (200..<300).contains(response.status.code) else {
            let failure = try? JSONDecoder().decode(PortOneWire.Failure.self, from: data)
            logger.warning("payment gateway refused", metadata: [
                "path": .string(path), "status": .stringConvertible(response.status.code), "type": .string(failure?.type ?? "?"),
            ])
            throw GatewayError("the payment gateway answered \(response.status.code) \(failure?.type ?? "")", code: failure?.type)
        }
        return data
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
