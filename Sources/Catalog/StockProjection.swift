import Foundation
import Messaging
import Persistence

/// Follows reservation events to keep what the listing needs from them: how much of each
/// performance is taken (for "has availability") and how much demand each event has seen (for
/// sorting by popularity). The catalog reads reservations only through these events.
public struct StockProjection: EventSubscriber {
    public let name = "catalog.stock"
    public let eventTypes: Set<String> = ["reservation.held", "reservation.released", "reservation.expired", "reservation.cancelled"]
    private let catalog: CatalogService

    public init(catalog: CatalogService) {
        self.catalog = catalog
    }

    /// The fields of the reservation events this projection reads.
    private struct Change: Decodable {
        let performanceId: String
        let quantity: Int
    }

    public var handlesBatches: Bool { true }

    /// Stock and demand only add up, so a batch is one update per performance it touches.
    public func handle(batch events: [EventEnvelope], in transaction: DatabaseTransaction) async throws {
        var totals: [String: (delta: Int, demand: Int)] = [:]
        for event in events {
            let change = try event.decodePayload(as: Change.self)
            let held = event.type == "reservation.held"
            totals[change.performanceId, default: (0, 0)].delta += held ? change.quantity : -change.quantity
            totals[change.performanceId, default: (0, 0)].demand += held ? change.quantity : 0
        }
        for (performanceID, total) in totals.sorted(by: { $0.key < $1.key }) {
            try await catalog.applyStockChange(performanceID: performanceID, delta: total.delta, newDemand: total.demand, in: transaction)
        }
    }

    public func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        try await handle(batch: [event], in: transaction)
    }
}
