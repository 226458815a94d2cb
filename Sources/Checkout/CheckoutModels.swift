import BoxofficeKit
import Foundation
import Payments
import Reservations

/// Where an order can be. Paid orders with goods to deliver move on through preparing, shipped
/// and delivered as their shipment does.
enum OrderStatus {
    /// Paid for and not wholly cancelled: what is in it counts as sold.
    static let live = ["paid", "partially_cancelled", "preparing", "shipped", "delivered"]
    static let all: Set<String> = Set(live + ["pending_payment", "payment_failed", "cancelled"])
    /// Goods can still be cancelled: they have not left.
    static let goodsCancellable = ["paid", "partially_cancelled", "preparing"]
}

/// Where an order's goods are on their way to the fan (the shipment may carry other orders of
/// theirs too: combined shipping).
public struct OrderShipment: Codable, Sendable {
    public let id: String
    public let status: String
    public let orderIds: [String]
    public let carrier: String?
    public let trackingNumber: String?
    public let recipient: String
    public let postcode: String
    public let address: String

    public init(
        id: String, status: String, orderIds: [String], carrier: String?, trackingNumber: String?, recipient: String, postcode: String,
        address: String
    ) {
        self.id = id
        self.status = status
        self.orderIds = orderIds
        self.carrier = carrier
        self.trackingNumber = trackingNumber
        self.recipient = recipient
        self.postcode = postcode
        self.address = address
    }
}

/// Where Checkout asks about delivery: whether an address is the fan's, and the shipment of an
/// order. The composition root answers from Fulfilment.
public protocol Deliveries: Sendable {
    func isAddress(_ addressID: String, ofFan fanID: String) async throws -> Bool
    func shipment(forOrder orderID: String) async throws -> OrderShipment?
}

/// No delivery: goods are picked up at the venue.
public struct NoDeliveries: Deliveries {
    public init() {}
    public func isAddress(_ addressID: String, ofFan fanID: String) async throws -> Bool { false }
    public func shipment(forOrder orderID: String) async throws -> OrderShipment? { nil }
}

/// What a confirmation says about an order: how it was paid, what it cost, its tickets and goods.
public struct OrderReceipt: Sendable {
    public let orderId: String
    public let method: String
    public let total: Money
    /// Taken off by a coupon (zero without one).
    public let discount: Money
    public let items: [Order.Item]
    public let goods: [Order.GoodsItem]
    /// Where the goods go; nil: picked up at the venue.
    public let addressId: String?
}

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
    /// The delivery charge in `total` (goods sent to an address); none for pick-up at the venue.
    public let shippingFee: Money
    public let addressId: String?
    /// Where the goods are: filled in when the order is read, once the shipment exists.
    public var shipment: OrderShipment?
    public let refunded: Money
    public let payments: [Payment]
    public let refunds: [Refund]
    public let history: [HistoryEntry]
    public let createdAt: Date
}

extension Order.Item {
    /// The items of tickets just issued, in the order an order lists them (by seat).
    static func issued(_ tickets: [Ticket]) -> [Order.Item] {
        tickets.map { ticket in
            Order.Item(ticketId: ticket.id, seatId: ticket.seat?.id, label: ticket.seat?.label, tier: ticket.tier, price: ticket.price, status: "active")
        }.sorted { ($0.label ?? "", $0.ticketId) < ($1.label ?? "", $1.ticketId) }
    }
}

extension Order {
    /// This order with `payment` added to its payments (a wallet checkout writes the order first).
    func paid(by payment: Payment) -> Order {
        Order(
            id: id, status: status, performanceId: performanceId, holdId: holdId, method: method, items: items, goods: goods, total: total, discount: discount, couponId: couponId, shippingFee: shippingFee,
            addressId: addressId, shipment: shipment,
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

// MARK: - Events this context publishes

/// An order of goods alone is paid: what its confirmation goes out from (an order with tickets
/// is told by `reservation.confirmed`).
public struct GoodsOrderPaid: DomainEvent {
    public static let eventType = "order.goods_order_paid"
    public static let aggregateType = "order"
    public let orderId: String
    public let fanId: String
    public let paidAt: Date
    public var aggregateID: String { orderId }
}

/// An order with goods to deliver is paid: Fulfilment puts them in a shipment.
public struct OrderGoodsPaid: DomainEvent {
    public static let eventType = "order.goods_paid"
    public static let aggregateType = "order"
    public let orderId: String
    public let fanId: String
    public let addressId: String
    public let shippingFee: Int64
    /// What to pack: each goods line's name, option and quantity.
    public let goods: [PackLine]
    public let paidAt: Date

    public struct PackLine: Codable, Sendable {
        public let name: String
        public let optionName: String
        public let quantity: Int
    }
    public var aggregateID: String { orderId }
}

/// Goods lines of an order were cancelled; `goodsLeft` is how many active lines remain (none:
/// nothing of it is to be delivered).
public struct OrderGoodsCancelled: DomainEvent {
    public static let eventType = "order.goods_cancelled"
    public static let aggregateType = "order"
    public let orderId: String
    public let goodsLeft: Int
    public let at: Date
    public var aggregateID: String { orderId }
}
