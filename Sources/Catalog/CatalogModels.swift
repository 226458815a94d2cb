import BoxofficeKit
import Foundation

/// A place with a seat map, owned by the organizer who created it.
public struct Venue: Codable, Sendable, Equatable {
    public let id: String
    public let organizerId: String
    public let name: String
    public let address: String
    public let seatCount: Int
}

/// One seat of a venue's map.
public struct Seat: Codable, Sendable, Equatable {
    public let id: String
    public let label: String
    public let section: String
    public let row: String
    public let x: Double
    public let y: Double
    public let tier: String
    public let attributes: [String]
}

public enum EventStatus: String, Codable, Sendable {
    case draft, published, cancelled
}

/// A show, tour stop or match: what fans browse. Sold through its performances.
public struct Event: Codable, Sendable, Equatable {
    public let id: String
    public let organizerId: String
    public let venueId: String
    public let title: String
    public let description: String
    public let artist: String
    public let category: String
    public let imageUrls: [String]
    public let status: EventStatus
    /// When the earliest performance starts.
    public let startsAt: Date?
    public var performances: [Performance]?
}

public enum Seating: String, Codable, Sendable {
    /// Every ticket is a seat on the map.
    case reserved
    /// Tickets are a count per tier, up to a quota.
    case general
}

/// One price tier of a performance.
public struct TierPrice: Codable, Sendable, Equatable {
    public let tier: String
    public let price: Money
    /// General admission only: how many tickets this tier may sell.
    public let quota: Int?
}

/// One date of an event, with what it costs and how it sells.
public struct Performance: Codable, Sendable, Equatable {
    public let id: String
    public let eventId: String
    public let startsAt: Date
    public let onSaleFrom: Date
    public let onSaleUntil: Date
    public let holdMinutes: Int
    public let maxSeatsPerOrder: Int
    public let maxSeatsPerFan: Int
    /// Fans may cancel for a refund until this many hours before the start.
    public let refundCutoffHours: Int
    /// Kept from a fan's refund when they cancel, in percent of the price.
    public let cancellationFeePercent: Int
    public let seating: Seating
    public let status: String
    public let tiers: [TierPrice]
}

// MARK: - Domain events

/// An event went on the public listing.
public struct EventPublished: DomainEvent {
    public static let eventType = "event.published"
    public static let aggregateType = "event"
    public let eventId: String
    public let organizerId: String
    public var aggregateID: String { eventId }
}

/// An event was called off; everything sold for it is to be refunded.
public struct EventCancelled: DomainEvent {
    public static let eventType = "event.cancelled"
    public static let aggregateType = "event"
    public let eventId: String
    public let performanceIds: [String]
    public var aggregateID: String { eventId }
}

/// One performance was called off (its event goes on). Shaped like `event.cancelled`, so
/// whoever stops sales and refunds orders reads both the same way.
public struct PerformanceCancelled: DomainEvent {
    public static let eventType = "performance.cancelled"
    public static let aggregateType = "event"
    public let eventId: String
    public let performanceIds: [String]
    public var aggregateID: String { eventId }
}

/// A performance was added, with everything inventory needs to start selling it.
public struct PerformanceScheduled: DomainEvent {
    public static let eventType = "performance.scheduled"
    public static let aggregateType = "performance"
    public let performance: Performance
    public let venueId: String
    /// Sales open only once the event is published (then with `event.published`).
    public let eventPublished: Bool
    public var aggregateID: String { performance.id }
}

/// A performance's times, limits, refund terms or prices changed: inventory sells under the
/// new ones from then on. Same aggregate as `performance.scheduled`, so it never overtakes it.
public struct PerformanceChanged: DomainEvent {
    public static let eventType = "performance.changed"
    public static let aggregateType = "performance"
    public let performance: Performance
    public var aggregateID: String { performance.id }
}

/// Whether sales of published performances are open yet where holds are taken (inventory is
/// built from the catalog's events, after they are delivered). The composition root answers
/// it from reservations.
public protocol SalesOpening: Sendable {
    func areOpen(performanceIDs: [String]) async throws -> Bool
}

/// Nothing to wait for.
public struct NoSalesOpening: SalesOpening {
    public init() {}
    public func areOpen(performanceIDs: [String]) async throws -> Bool { true }
}
