import BoxofficeKit
import Foundation

/// A fan's claim on seats (or general-admission units) for a few minutes, while they pay.
public struct Hold: Codable, Sendable, Equatable {
    public struct Seat: Codable, Sendable, Equatable {
        public let id: String
        public let label: String
        public let tier: String
    }

    public let id: String
    public let performanceId: String
    public let fanId: String
    public let seats: [Seat]
    /// General admission: the tier held.
    public let tier: String?
    public let quantity: Int
    public let expiresAt: Date
    /// active, released, expired or confirmed. An active hold past its expiry reads as expired.
    public let status: String
    public let remainingSeconds: Int
}

/// A seat of the venue as inventory needs it; supplied by the catalog through the composition root.
public struct InventorySeat: Sendable, Equatable {
    public let id: String
    public let label: String
    public let section: String
    public let row: String
    public let x: Double
    public let y: Double
    public let tier: String

    public init(id: String, label: String, section: String, row: String, x: Double, y: Double, tier: String) {
        self.id = id
        self.label = label
        self.section = section
        self.row = row
        self.x = x
        self.y = y
        self.tier = tier
    }
}

/// Where inventory learns a venue's seats. Reservations does not read the catalog's tables;
/// the composition root answers from the catalog.
public protocol SeatMapSource: Sendable {
    func seats(venueID: String) async throws -> [InventorySeat]
}

// MARK: - Events this context publishes

public struct ReservationHeld: DomainEvent {
    public static let eventType = "reservation.held"
    public static let aggregateType = "hold"
    public let holdId: String
    public let performanceId: String
    public let fanId: String
    public let seatIds: [String]
    public let tier: String?
    public let quantity: Int
    public let expiresAt: Date
    public var aggregateID: String { holdId }
}

public struct ReservationReleased: DomainEvent {
    public static let eventType = "reservation.released"
    public static let aggregateType = "hold"
    public let holdId: String
    public let performanceId: String
    public let fanId: String
    public let seatIds: [String]
    public let tier: String?
    public let quantity: Int
    public var aggregateID: String { holdId }
}

public struct ReservationExpired: DomainEvent {
    public static let eventType = "reservation.expired"
    public static let aggregateType = "hold"
    public let holdId: String
    public let performanceId: String
    public let fanId: String
    public let seatIds: [String]
    public let tier: String?
    public let quantity: Int
    public var aggregateID: String { holdId }
}

public struct ReservationConfirmed: DomainEvent {
    public static let eventType = "reservation.confirmed"
    public static let aggregateType = "hold"
    public let holdId: String
    public let orderId: String
    public let performanceId: String
    public let fanId: String
    public let ticketIds: [String]
    public let seatIds: [String]
    public let tier: String?
    public let quantity: Int
    public var aggregateID: String { holdId }
}

/// Tickets cancelled (by their fan, or because the performance was): their seats are for sale again.
public struct ReservationCancelled: DomainEvent {
    public static let eventType = "reservation.cancelled"
    public static let aggregateType = "order"
    public let orderId: String
    public let performanceId: String
    public let ticketIds: [String]
    public let seatIds: [String]
    /// General admission: the tier and how many units went back.
    public let tier: String?
    public let quantity: Int
    public var aggregateID: String { orderId }
}

public struct TicketTransferred: DomainEvent {
    public static let eventType = "ticket.transferred"
    public static let aggregateType = "ticket"
    public let ticketId: String
    public let fromUserId: String
    public let toUserId: String
    public var aggregateID: String { ticketId }
}

// MARK: - Events this context consumes, in its own terms

/// The catalog's `performance.changed`: the same details as when it was scheduled.
struct ChangedPerformance: Decodable {
    let performance: ScheduledPerformance.Details
}

/// The shape of the catalog's `performance.scheduled` that inventory reads. Declared here, not
/// imported: contexts agree on the wire format, not on types.
struct ScheduledPerformance: Decodable {
    struct Details: Decodable {
        struct Tier: Decodable {
            struct Price: Decodable {
                let amount: Int64
                let currency: String
            }

            let tier: String
            let price: Price
            let quota: Int?
        }

        let id: String
        let eventId: String
        let startsAt: Date
        let refundCutoffHours: Int?
        let cancellationFeePercent: Int?
        let onSaleFrom: Date
        let onSaleUntil: Date
        let holdMinutes: Int
        let maxSeatsPerOrder: Int
        let maxSeatsPerFan: Int
        let seating: String
        let tiers: [Tier]
    }

    let performance: Details
    let venueId: String
    /// Absent in events written before unpublished events were kept off sale.
    let eventPublished: Bool?
}

struct PublishedEvent: Decodable {
    let eventId: String
}

struct CancelledEvent: Decodable {
    let eventId: String
    let performanceIds: [String]
}
