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
    /// Returns `amount` of a paid payment to the payer. `cancellableBefore` is what the caller
    /// believes can still be cancelled; the gateway refuses the cancel when its own figure
    /// differs (PortOne's `currentCancellableAmount`), so a repeat never refunds twice. Callers
    /// use `giveBack`, which recognises a repeat of a cancel that already went through.
    func cancel(paymentID: String, amount: Int64, cancellableBefore: Int64, reason: String) async throws
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
    /// How much of it has been given back so far.
    public let cancelledAmount: Int64
    public let currency: String

    public init(id: String, status: Status, paidAmount: Int64, cancelledAmount: Int64 = 0, currency: String) {
        self.id = id
        self.status = status
        self.paidAmount = paidAmount
        self.cancelledAmount = cancelledAmount
        self.currency = currency
    }

    /// What can still be given back.
    public var cancellableAmount: Int64 { paidAmount - cancelledAmount }
}

extension PaymentGateway {
    /// Gives back `amount` exactly once, however often it is called: the first call cancels;
    /// a repeat (a crash came between the gateway's yes and our record of it) is refused by the
    /// gateway because the cancellable amount moved, and is recognised here as already done
    /// when the gateway's figure is exactly what the first call left.
    public func giveBack(paymentID: String, amount: Int64, cancellableBefore: Int64, reason: String) async throws {
        do {
            try await cancel(paymentID: paymentID, amount: amount, cancellableBefore: cancellableBefore, reason: reason)
        } catch let error as GatewayError
            where error.code == GatewayError.cancellableAmountChanged || error.code == GatewayError.alreadyCancelled
        {
            let current = try await payment(id: paymentID)
            guard current.cancellableAmount == cancellableBefore - amount else { throw error }
        }
    }
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
    /// The gateway's error type when it refused (PortOne's `type`), nil when it was not reached.
    public let code: String?

    public init(_ description: String, code: String? = nil) {
        self.description = description
        self.code = code
    }

    /// PortOne's refusal types that Boxoffice acts on; the sandbox answers the same.
    public static let cancellableAmountChanged = "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN"
    public static let alreadyCancelled = "PAYMENT_ALREADY_CANCELLED"
    public static let exceedsCancellable = "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT"
    public static let notPaid = "PAYMENT_NOT_PAID"
    public static let notFound = "PAYMENT_NOT_FOUND"
    public static let invalidRequest = "INVALID_REQUEST"
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
