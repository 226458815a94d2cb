import BoxofficeKit
import Foundation

/// Where a fan has goods delivered, in the Korean form: recipient, phone, 5-digit postcode,
/// road address and detail, and a note for the courier.
public struct DeliveryAddress: Codable, Sendable, Equatable {
    public let id: String
    public let fanId: String
    public let recipient: String
    public let phone: String
    public let postcode: String
    public let address1: String
    public let address2: String?
    public let note: String?
    public let createdAt: Date
}

/// One parcel: the goods of one or more orders of one fan, to one address, for one fee.
public struct Shipment: Codable, Sendable, Equatable {
    public struct HistoryEntry: Codable, Sendable, Equatable {
        public let status: String
        public let note: String?
        /// Who did it: a staff member's user ID, or "system".
        public let by: String
        public let at: Date
    }

    /// One line of the packing list: what an order puts in the parcel.
    public struct PackingLine: Codable, Sendable, Equatable {
        public let orderId: String
        public let name: String
        public let optionName: String
        public let quantity: Int
    }

    public let id: String
    public let fanId: String
    /// preparing, shipped, delivered or cancelled.
    public let status: String
    public let orderIds: [String]
    public let packingList: [PackingLine]
    /// The address as it was when the shipment was made (or last changed).
    public let address: DeliveryAddress
    public let carrier: String?
    public let trackingNumber: String?
    public let history: [HistoryEntry]
    public let createdAt: Date
    public let updatedAt: Date
}

/// What an order asks to be packed (from Checkout's event).
public struct GoodsToPack: Codable, Sendable, Equatable {
    public let name: String
    public let optionName: String
    public let quantity: Int

    public init(name: String, optionName: String, quantity: Int) {
        self.name = name
        self.optionName = optionName
        self.quantity = quantity
    }
}

// MARK: - Events this context publishes

/// A paid order's goods joined a shipment: a new one, or one of the fan's not yet shipped to the
/// same address (combined shipping). `feeToRefund` is the order's shipping fee when it joined
/// one that another order already paid for.
public struct ShipmentJoined: DomainEvent {
    public static let eventType = "shipment.joined"
    public static let aggregateType = "shipment"
    public let shipmentId: String
    public let orderId: String
    public let orderIds: [String]
    public let combined: Bool
    public let feeToRefund: Int64
    public let at: Date
    public var aggregateID: String { shipmentId }
}

/// A shipment moved on (shipped, delivered), or lost its last order (cancelled), or its address
/// changed; each of its orders' histories says so. `feeToRefund` names orders whose shipping fee
/// goes back (nothing of their shipment ships any more).
public struct ShipmentChanged: DomainEvent {
    public static let eventType = "shipment.changed"
    public static let aggregateType = "shipment"
    public let shipmentId: String
    public let orderIds: [String]
    public let status: String
    public let note: String
    public let by: String
    public let feeToRefund: [String: Int64]
    public let at: Date
    public var aggregateID: String { shipmentId }
}
