import BoxofficeKit
import Foundation

/// One movement of a wallet. The ledger only grows; a wallet's balance is the sum of its entries.
public struct LedgerEntry: Codable, Sendable, Equatable {
    public let id: String
    /// Positive adds to the wallet, negative takes from it.
    public let amount: Money
    /// topup, grant, purchase or refund.
    public let reason: String
    public let orderId: String?
    public let paymentId: String?
    public let note: String?
    public let balanceAfter: Money
    public let createdAt: Date
}

public struct WalletBalance: Codable, Sendable, Equatable {
    public let balance: Money
}

/// Money received for an order (or a top-up).
public struct Payment: Codable, Sendable, Equatable {
    public let id: String
    public let orderId: String?
    /// order or topup.
    public let purpose: String
    /// wallet or gateway.
    public let method: String
    public let amount: Money
    public let refunded: Money
    /// pending, paid, failed or refunded (wholly).
    public let status: String
    /// Why a payment failed.
    public let failure: String?
    public let createdAt: Date
    public let paidAt: Date?
}

/// Money given back.
public struct Refund: Codable, Sendable, Equatable {
    public let id: String
    public let paymentId: String
    public let orderId: String?
    public let amount: Money
    public let reason: String
    /// Where it went: wallet or gateway.
    public let method: String
    /// pending (a gateway refund not yet confirmed by the gateway) or completed.
    public let status: String
    public let createdAt: Date
}

// MARK: - Events this context publishes

public struct PaymentCompleted: DomainEvent {
    public static let eventType = "payment.completed"
    public static let aggregateType = "payment"
    public let paymentId: String
    public let orderId: String?
    public let userId: String
    /// order or topup.
    public let purpose: String
    public let method: String
    public let amount: Money
    public var aggregateID: String { paymentId }
}

/// A gateway payment that will not complete: declined, or paid with the wrong amount (which
/// is then given back).
public struct PaymentFailed: DomainEvent {
    public static let eventType = "payment.failed"
    public static let aggregateType = "payment"
    public let paymentId: String
    public let orderId: String?
    public let userId: String
    public let purpose: String
    public let reason: String
    public var aggregateID: String { paymentId }
}

/// A gateway refund to carry out: recorded with the cancellation, sent to the gateway by the
/// relay (retried until the gateway confirms).
public struct RefundRequested: DomainEvent {
    public static let eventType = "refund.requested"
    public static let aggregateType = "payment"
    public let refundId: String
    public let paymentId: String
    public let amount: Money
    public let reason: String
    public var aggregateID: String { paymentId }
}

public struct PaymentRefunded: DomainEvent {
    public static let eventType = "payment.refunded"
    public static let aggregateType = "payment"
    public let refundId: String
    public let paymentId: String
    public let orderId: String?
    public let userId: String
    public let method: String
    public let amount: Money
    public let reason: String
    public var aggregateID: String { paymentId }
}

public struct WalletCredited: DomainEvent {
    public static let eventType = "wallet.credited"
    public static let aggregateType = "wallet"
    public let userId: String
    public let entryId: String
    public let amount: Money
    public let reason: String
    public var aggregateID: String { userId }
}

/// A top-up under way: the pending payment and what the client needs to pay it at the gateway.
public struct TopUpStarted: Codable, Sendable {
    public let payment: Payment
    public let paymentIntent: PaymentIntent
}
