import BoxofficeKit
import Foundation

/// Something an organizer sells beside tickets: a T-shirt, a light stick, a photo book.
public struct Product: Codable, Sendable, Equatable {
    /// One variant (a size, a colour) with its own price and stock.
    public struct Option: Codable, Sendable, Equatable {
        public let id: String
        public let name: String
        public let price: Money
        /// Units still for sale.
        public let stock: Int
    }

    public let id: String
    public let organizerId: String
    public let eventId: String?
    public let name: String
    public let description: String
    public let options: [Option]
    /// Most units of this product one fan may have (held or bought); nil is no limit.
    public let maxPerFan: Int?
    public let onSaleFrom: Date?
    public let onSaleUntil: Date?
    /// active or archived.
    public let status: String
    public let createdAt: Date
    public let updatedAt: Date

    /// Whether a fan can buy it at `now`: active and inside its sale window.
    public func isOnSale(at now: Date) -> Bool {
        status == "active" && (onSaleFrom.map { now >= $0 } ?? true) && (onSaleUntil.map { now < $0 } ?? true)
    }
}

/// A line of goods a checkout asks for.
public struct GoodsRequest: Codable, Sendable, Equatable {
    public let optionId: String
    public let quantity: Int

    public init(optionId: String, quantity: Int) {
        self.optionId = optionId
        self.quantity = quantity
    }
}

/// Goods taken from stock for an order, priced when they were taken.
public struct ReservedGoods: Codable, Sendable, Equatable {
    public let reservationId: String
    public let productId: String
    public let optionId: String
    public let productName: String
    public let optionName: String
    public let quantity: Int
    public let unitPrice: Money
    public let total: Money
}

/// Who organizes an event, asked when a product is tied to one. Commerce does not read the
/// catalog's tables; the composition root answers from the catalog.
public protocol EventOrganizers: Sendable {
    /// The organizer's user ID, or nil when there is no such event.
    func organizer(ofEvent eventID: String) async throws -> String?
}

// MARK: - Events this context publishes

/// A product was created or changed (its options, prices or stock): caches of it are stale.
public struct ProductChanged: DomainEvent {
    public static let eventType = "product.changed"
    public static let aggregateType = "product"
    public let product: Product
    public var aggregateID: String { product.id }
}

/// Units of goods were sold (an order's goods were paid for): what popular products count.
public struct GoodsSold: DomainEvent {
    public static let eventType = "goods.sold"
    public static let aggregateType = "order"
    public let orderId: String
    public let fanId: String
    public let items: [ReservedGoods]
    public let soldAt: Date
    public var aggregateID: String { orderId }
}

/// Sold goods came back (the order or some of its goods were cancelled) and are on sale again.
public struct GoodsReturned: DomainEvent {
    public static let eventType = "goods.returned"
    public static let aggregateType = "order"
    public let orderId: String
    public let items: [ReservedGoods]
    public let returnedAt: Date
    public var aggregateID: String { orderId }
}
