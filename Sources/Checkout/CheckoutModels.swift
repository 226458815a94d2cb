import BoxofficeKit
import Foundation
import Payments
import Reservations

/// What a fan bought in one checkout, with its money and its story.
public struct Order: Codable, Sendable {
    public struct Item: Codable, Sendable {
        public let ticketId: String
        public let seatId: String?
        public let label: String?
        public let tier: String
        public let price: Money
        /// active or cancelled.
        public let status: String
    }

    /// Goods bought in the order: one line per product option.
    public struct GoodsItem: Codable, Sendable {
        public let id: String
        public let productId: String
        public let optionId: String
        public let name: String
        public let optionName: String
        public let quantity: Int
        public let unitPrice: Money
        public let total: Money
        /// The coupon's share of the order's discount on this line: it paid `total − discount`.
        public let discount: Money
        /// active or cancelled.
        public let status: String
    }

    public struct HistoryEntry: Codable, Sendable {
        public let status: String
        public let note: String?
        public let at: Date
    }

    public let id: String
    /// pending_payment, payment_failed, paid, partially_cancelled or cancelled.
    public let status: String
    /// The performance and hold whose seats it bought; absent for an order of goods alone.
    public let performanceId: String?
    public let holdId: String?
    public let method: String
    /// The tickets.
    public let items: [Item]
    public let goods: [GoodsItem]
    /// What was paid: tickets and goods, less `discount`.
    public let total: Money
    /// What the coupon (`couponId`) took off.
    public let discount: Money
    public let couponId: String?
    public let refunded: Money
    public let payments: [Payment]
    public let refunds: [Refund]
    public let history: [HistoryEntry]
    public let createdAt: Date
}

extension Order {
    /// This order with `payment` added to its payments (a wallet checkout writes the order first).
    func paid(by payment: Payment) -> Order {
        Order(
            id: id, status: status, performanceId: performanceId, holdId: holdId, method: method, items: items, goods: goods, total: total, discount: discount, couponId: couponId,
            refunded: refunded, payments: payments + [payment], refunds: refunds, history: history, createdAt: createdAt)
    }
}

/// The answer to a wallet checkout.
public struct CheckoutResult: Codable, Sendable {
    public let order: Order
    public let tickets: [Ticket]
}

/// The answer to a gateway checkout: the pending order and what the client pays with.
public struct GatewayCheckoutStarted: Codable, Sendable {
    public let order: Order
    public let paymentIntent: PaymentIntent
}

/// What cancelling would give back, asked before cancelling (`dryRun=true`): nothing changes.
public struct CancellationQuote: Codable, Sendable {
    public let orderId: String
    /// The tickets that would be cancelled: those named, or every one the fan still holds.
    public let ticketIds: [String]
    /// The goods lines that would be cancelled (no fee is taken on goods).
    public let goodsIds: [String]
    /// What those tickets cost.
    public let gross: Money
    /// The performance's cancellation fee on them (none when the performance was cancelled).
    public let fee: Money
    /// What goes back: gross less the fee.
    public let refund: Money
    public let feePercent: Int
    /// The last moment to cancel; absent when the performance itself was cancelled.
    public let deadline: Date?
    /// Where the refund goes: the wallet, or back through the payment gateway.
    public let method: String
}
