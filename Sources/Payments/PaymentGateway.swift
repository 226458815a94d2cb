import BoxofficeKit
import Crypto
import Foundation

/// An external payment gateway (PortOne-style): Boxoffice registers a payment with its amount,
/// the fan pays on the gateway's page, and the gateway reports the outcome by a signed webhook.
///
/// The webhook only says "look at payment X"; Boxoffice then asks the gateway for the payment
/// and trusts only that answer, checked against the amount it registered.
public protocol PaymentGateway: Sendable {
    /// The name in `/v1/payments/webhooks/{provider}`.
    var provider: String { get }
    /// Registers a payment the client will pay; the amount is fixed here, server-side.
    func prepare(_ request: GatewayPaymentRequest) async throws -> PaymentIntent
    /// The gateway's own record of a payment.
    func payment(id: String) async throws -> GatewayPayment
    /// Returns `amount` of a paid payment to the payer. `requestID` makes a retry harmless.
    func cancel(paymentID: String, amount: Int64, reason: String, requestID: String) async throws
    /// Checks a webhook's signature and freshness; returns what it is about.
    func verifyWebhook(body: [UInt8], headers: [String: String]) throws -> GatewayWebhook
}

public struct GatewayPaymentRequest: Sendable {
    public let paymentID: String
    public let amount: Money
    public let orderName: String
    public let customerID: String

    public init(paymentID: String, amount: Money, orderName: String, customerID: String) {
        self.paymentID = paymentID
        self.amount = amount
        self.orderName = orderName
        self.customerID = customerID
    }
}

/// What the client needs to pay at the gateway.
public struct PaymentIntent: Codable, Sendable, Equatable {
    public let provider: String
    public let paymentId: String
    public let amount: Money
    public let orderName: String
    /// The gateway's store and channel, for its browser SDK.
    public let storeId: String?
    public let channelKey: String?
    /// Where the fan pays, when the gateway has a page of its own (the sandbox does).
    public let payUrl: String?
}

public struct GatewayPayment: Sendable, Equatable {
    public enum Status: String, Sendable {
        case ready = "READY"
        case paid = "PAID"
        case failed = "FAILED"
        case cancelled = "CANCELLED"
        case partiallyCancelled = "PARTIAL_CANCELLED"
    }

    public let id: String
    public let status: Status
    /// What the payer actually paid (for a paid payment), in minor units.
    public let paidAmount: Int64
    public let currency: String
}

public struct GatewayWebhook: Sendable, Equatable {
    /// The webhook's own ID, for dropping duplicates.
    public let id: String
    /// e.g. Transaction.Paid, Transaction.Failed.
    public let type: String
    public let paymentID: String
}

/// Failures talking to the gateway: the caller answers 502 and retries later.
public struct GatewayError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The Standard Webhooks signature PortOne uses: `webhook-signature: v1,<base64 HMAC-SHA256>`
/// over `<webhook-id>.<webhook-timestamp>.<body>`, with the timestamp in Unix seconds.
public struct WebhookSignature: Sendable {
    private let key: SymmetricKey
    /// How far a webhook's timestamp may be from now, against replays of old deliveries.
    public static let tolerance: TimeInterval = 300

    public init(secret: String) {
        key = SymmetricKey(data: Data(secret.utf8))
    }

    public func sign(id: String, timestamp: Int, body: [UInt8]) -> String {
        var message = Data("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        return "v1," + Data(HMAC<SHA256>.authenticationCode(for: message, using: key)).base64EncodedString()
    }

    /// Throws a 401 problem unless the headers carry a valid, fresh signature of `body`.
    public func verify(body: [UInt8], headers: [String: String], now: Date) throws -> (id: String, timestamp: Int) {
        guard let id = headers["webhook-id"], let stamp = headers["webhook-timestamp"], let timestamp = Int(stamp),
              let signatures = headers["webhook-signature"]
        else { throw Problem(type: Problem.typeURI("bad-webhook-signature"), title: "Unsigned webhook.", status: 401, detail: "webhook-id, webhook-timestamp and webhook-signature are required.") }
        guard abs(now.timeIntervalSince1970 - Double(timestamp)) <= Self.tolerance else {
            throw Problem(type: Problem.typeURI("bad-webhook-signature"), title: "Stale webhook.", status: 401, detail: "The webhook's timestamp is too far from now.")
        }
        let expected = sign(id: id, timestamp: timestamp, body: body)
        // Several space-separated signatures may be sent while the secret rotates.
        guard signatures.split(separator: " ").contains(where: { Secrets.constantTimeEquals(String($0), expected) }) else {
            throw Problem(type: Problem.typeURI("bad-webhook-signature"), title: "Bad webhook signature.", status: 401, detail: "The signature does not match the body.")
        }
        return (id, timestamp)
    }
}

/// The webhook body PortOne sends (V2): `{ type, timestamp, data: { paymentId, storeId } }`.
struct WebhookBody: Codable {
    struct Payload: Codable {
        let paymentId: String
        let storeId: String?
    }

    let type: String
    let timestamp: String
    let data: Payload
}

extension WebhookSignature {
    /// A webhook secret derived from the server's signing secret, for the sandbox when none is
    /// configured: stable across restarts, never the signing key itself.
    public static func derivedSecret(from secret: [UInt8]) -> String {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret), info: Data("boxoffice webhooks v1".utf8), outputByteCount: 32)
        return key.withUnsafeBytes { Data($0).base64EncodedString() }
    }
}
