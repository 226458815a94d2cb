import BoxofficeKit
import Foundation
import Messaging
import Persistence
import SQLKit

/// Builds a performance's inventory when the catalog schedules it, opens its sales when its
/// event is published (never before: a draft's performances are not for sale to anyone who
/// guesses an ID), and stops sales when its event is cancelled. Runs inside the relay's transaction, once per event (the inbox).
public struct InventoryBuilder: EventSubscriber {
    public let name = "reservations.inventory"
    public let eventTypes: Set<String> = [
        "performance.scheduled", "performance.changed", "event.published", "event.cancelled", "performance.cancelled",
    ]
    private let seatMaps: any SeatMapSource

    public init(seatMaps: any SeatMapSource) {
        self.seatMaps = seatMaps
    }

    public func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        switch event.type {
        case "performance.scheduled":
            try await schedule(try event.decodePayload(as: ScheduledPerformance.self), in: transaction)
        case "performance.changed":
            try await change(try event.decodePayload(as: ChangedPerformance.self).performance, in: transaction)
        case "event.published":
            let published = try event.decodePayload(as: PublishedEvent.self)
            try await transaction.sql.raw("""
                UPDATE sale_performances SET status = 'on_sale' WHERE event_id = \(bind: published.eventId) AND status = 'unpublished'
                """).run()
        case "event.cancelled", "performance.cancelled":
            let cancelled = try event.decodePayload(as: CancelledEvent.self)
            for id in cancelled.performanceIds {
                try await transaction.sql.raw("UPDATE sale_performances SET status = 'cancelled' WHERE performance_id = \(bind: id)").run()
            }
        default:
            break
        }
    }

    /// Sells under the performance's new times, limits, refund terms and prices from now on.
    /// Tickets already sold keep the price they were sold at; its seats and tiers stay as built.
    private func change(_ performance: ScheduledPerformance.Details, in transaction: DatabaseTransaction) async throws {
        try await transaction.sql.raw("""
            UPDATE sale_performances SET on_sale_from = \(bind: performance.onSaleFrom), on_sale_until = \(bind: performance.onSaleUntil),
                hold_minutes = \(bind: performance.holdMinutes), max_seats_per_order = \(bind: performance.maxSeatsPerOrder),
                max_seats_per_fan = \(bind: performance.maxSeatsPerFan), starts_at = \(bind: performance.startsAt),
                refund_cutoff_hours = \(bind: performance.refundCutoffHours ?? 24),
                cancellation_fee_percent = \(bind: performance.cancellationFeePercent ?? 0)
            WHERE performance_id = \(bind: performance.id)
            """).run()
        for tier in performance.tiers {
            try await transaction.sql.raw("""
                UPDATE sale_prices SET amount = \(bind: tier.price.amount), currency = \(bind: tier.price.currency)
                WHERE performance_id = \(bind: performance.id) AND tier = \(bind: tier.tier)
                """).run()
        }
    }

    private func schedule(_ scheduled: ScheduledPerformance, in transaction: DatabaseTransaction) async throws {
        let performance = scheduled.performance
        try await transaction.sql.raw("""
            INSERT INTO sale_performances (performance_id, event_id, seating, on_sale_from, on_sale_until, hold_minutes,
                                           max_seats_per_order, max_seats_per_fan, status, starts_at, refund_cutoff_hours,
                                           cancellation_fee_percent)
            VALUES (\(bind: performance.id), \(bind: performance.eventId), \(bind: performance.seating), \(bind: performance.onSaleFrom),
                    \(bind: performance.onSaleUntil), \(bind: performance.holdMinutes), \(bind: performance.maxSeatsPerOrder),
                    \(bind: performance.maxSeatsPerFan), \(bind: scheduled.eventPublished == false ? "unpublished" : "on_sale"),
                    \(bind: performance.startsAt),
                    \(bind: performance.refundCutoffHours ?? 24), \(bind: performance.cancellationFeePercent ?? 0))
            """).run()
        for tier in performance.tiers {
            try await transaction.sql.raw("""
                INSERT INTO sale_prices (performance_id, tier, amount, currency)
                VALUES (\(bind: performance.id), \(bind: tier.tier), \(bind: tier.price.amount), \(bind: tier.price.currency))
                """).run()
        }
        if performance.seating == "general" {
            for tier in performance.tiers {
                try await transaction.sql.raw("""
                    INSERT INTO ga_tiers (performance_id, tier, quota) VALUES (\(bind: performance.id), \(bind: tier.tier), \(bind: tier.quota ?? 0))
                    """).run()
            }
            return
        }
        for batch in try await seatMaps.seats(venueID: scheduled.venueId).chunked(500) {
            var query: SQLQueryString = "INSERT INTO performance_seats (performance_id, seat_id, label, tier, state) VALUES "
            for (offset, seat) in batch.enumerated() {
                if offset > 0 { query += ", " }
                query += "(\(bind: performance.id), \(bind: seat.id), \(bind: seat.label), \(bind: seat.tier), 'available')"
            }
            try await transaction.sql.raw(query).run()
        }
    }
}
