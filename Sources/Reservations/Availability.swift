import BoxofficeKit
import Coordination
import Foundation
import Messaging
import Persistence
import SQLKit
import Synchronization

/// What a seat map draws: every seat's state, plus counts per tier.
public struct Availability: Codable, Sendable {
    public struct Seat: Codable, Sendable {
        public let id: String
        public let label: String
        public let section: String
        public let row: String
        public let x: Double
        public let y: Double
        public let tier: String
        /// available, held or sold.
        public let state: String
    }

    public struct Tier: Codable, Sendable {
        public let tier: String
        public let price: Money
        public let available: Int
        public let held: Int
        public let sold: Int
    }

    public let seats: [Seat]
    public let tiers: [Tier]
}

/// Keeps the availability read model in step with reservation events.
///
/// Seat updates name the hold they concern, so a late or repeated event cannot free a seat
/// that another hold has taken since; general-admission counters only add and subtract, so
/// their order does not matter. The inbox applies each event once.
public struct AvailabilityProjection: EventSubscriber {
    public let name = "reservations.availability"
    public let eventTypes: Set<String> = [
        "performance.scheduled", "performance.changed", ReservationHeld.eventType, ReservationReleased.eventType, ReservationExpired.eventType,
        ReservationConfirmed.eventType, ReservationCancelled.eventType,
    ]
    private let seatMaps: any SeatMapSource

    public init(seatMaps: any SeatMapSource) {
        self.seatMaps = seatMaps
    }

    private struct HoldChange: Decodable {
        let holdId: String?
        let performanceId: String
        let seatIds: [String]
        let tier: String?
        let quantity: Int
    }

    /// One event is a batch of one: the same statements, so both paths stay alike.
    public func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        try await handle(batch: [event], in: transaction)
    }

    public var handlesBatches: Bool { true }

    /// A batch in few statements. General-admission counters only add up, so the whole batch's
    /// deltas go in one update per tier. Seat changes of different seats commute (each
    /// statement touches only its seats' rows), so the batch is cut into layers in which no seat
    /// changes twice, and each layer is one statement per event type — at an on-sale, where
    /// holds and purchases of random seats interleave, hundreds of events in two or three
    /// statements. A seat changing again starts a new layer, which keeps its changes in order.
    public func handle(batch events: [EventEnvelope], in transaction: DatabaseTransaction) async throws {
        var tierDeltas: [TierKey: (held: Int, sold: Int)] = [:]
        var layer = SeatChangeLayer()
        func flush() async throws {
            for (type, changes) in layer.changesByType { try await applySeatChanges(changes, type: type, in: transaction) }
            layer = SeatChangeLayer()
        }
        for event in events {
            if event.type == "performance.scheduled" {
                try await flush()
                try await build(try event.decodePayload(as: ScheduledPerformance.self), in: transaction)
                continue
            }
            if event.type == "performance.changed" {
                try await flush()
                let performance = try event.decodePayload(as: ChangedPerformance.self).performance
                for tier in performance.tiers {
                    try await transaction.sql.raw("""
                        UPDATE availability_tiers SET price_amount = \(bind: tier.price.amount), price_currency = \(bind: tier.price.currency)
                        WHERE performance_id = \(bind: performance.id) AND tier = \(bind: tier.tier)
                        """).run()
                }
                continue
            }
            let change = try event.decodePayload(as: HoldChange.self)
            if change.seatIds.isEmpty {
                guard let tier = change.tier else { continue }
                let delta = Self.tierDelta(type: event.type, quantity: change.quantity)
                let key = TierKey(performanceID: change.performanceId, tier: tier)
                tierDeltas[key, default: (0, 0)].held += delta.held
                tierDeltas[key, default: (0, 0)].sold += delta.sold
                continue
            }
            if !layer.accepts(change) { try await flush() }
            layer.add(change, type: event.type)
        }
        try await flush()
        for (key, delta) in tierDeltas.sorted(by: { ($0.key.performanceID, $0.key.tier) < ($1.key.performanceID, $1.key.tier) }) {
            try await transaction.sql.raw("""
                UPDATE availability_tiers SET held = held + \(bind: delta.held), sold = sold + \(bind: delta.sold)
                WHERE performance_id = \(bind: key.performanceID) AND tier = \(bind: key.tier)
                """).run()
        }
    }

    /// Seat changes none of which touches a seat another one touches, so they may be applied
    /// in any order: grouped by event type, in the order the types first appeared.
    private struct SeatChangeLayer {
        private(set) var changesByType: [(type: String, changes: [HoldChange])] = []
        private var seats = Set<SeatKey>()

        private struct SeatKey: Hashable {
            let performanceID: String
            let seatID: String
        }

        func accepts(_ change: HoldChange) -> Bool {
            change.seatIds.allSatisfy { !seats.contains(SeatKey(performanceID: change.performanceId, seatID: $0)) }
        }

        mutating func add(_ change: HoldChange, type: String) {
            for seatID in change.seatIds { seats.insert(SeatKey(performanceID: change.performanceId, seatID: seatID)) }
            if let index = changesByType.firstIndex(where: { $0.type == type }) {
                changesByType[index].changes.append(change)
            } else {
                changesByType.append((type, [change]))
            }
        }
    }

    private struct TierKey: Hashable {
        let performanceID: String
        let tier: String
    }

    private static func tierDelta(type: String, quantity: Int) -> (held: Int, sold: Int) {
        switch type {
        case ReservationHeld.eventType: (quantity, 0)
        case ReservationConfirmed.eventType: (-quantity, quantity)
        case ReservationCancelled.eventType: (0, -quantity)
        default: (-quantity, 0)
        }
    }

    /// One statement for many seat changes of one type, joined against a VALUES list.
    private func applySeatChanges(_ changes: [HoldChange], type: String, in transaction: DatabaseTransaction) async throws {
        var values: SQLQueryString = ""
        var first = true
        for change in changes {
            for seatID in change.seatIds {
                if !first { values += ", " }
                first = false
                values += "(\(bind: change.performanceId), \(bind: seatID), \(bind: change.holdId ?? ""))"
            }
        }
        guard !first else { return }
        let (assignment, condition): (String, String) =
            switch type {
            case ReservationHeld.eventType: ("state = 'held', hold_id = v.hold_id", "")
            case ReservationConfirmed.eventType: ("state = 'sold'", " AND availability_seats.hold_id = v.hold_id")
            case ReservationCancelled.eventType: ("state = 'available', hold_id = NULL", " AND availability_seats.state = 'sold'")
            // Released or expired: only if the seat still belongs to that hold.
            default: ("state = 'available', hold_id = NULL", " AND availability_seats.hold_id = v.hold_id")
            }
        try await transaction.sql.raw("""
            WITH v (performance_id, seat_id, hold_id) AS (VALUES \(values))
            UPDATE availability_seats SET \(unsafeRaw: assignment) FROM v
            WHERE availability_seats.performance_id = v.performance_id AND availability_seats.seat_id = v.seat_id\(unsafeRaw: condition)
            """).run()
    }

    private func build(_ scheduled: ScheduledPerformance, in transaction: DatabaseTransaction) async throws {
        let performance = scheduled.performance
        var capacity: [String: Int] = [:]
        if performance.seating == "reserved" {
            let seats = try await seatMaps.seats(venueID: scheduled.venueId)
            for seat in seats { capacity[seat.tier, default: 0] += 1 }
            for batch in seats.chunked(500) {
                var query: SQLQueryString =
                    "INSERT INTO availability_seats (performance_id, seat_id, label, section, row_label, x, y, tier, state) VALUES "
                for (offset, seat) in batch.enumerated() {
                    if offset > 0 { query += ", " }
                    query += """
                        (\(bind: performance.id), \(bind: seat.id), \(bind: seat.label), \(bind: seat.section), \(bind: seat.row),
                         \(bind: seat.x), \(bind: seat.y), \(bind: seat.tier), 'available')
                        """
                }
                try await transaction.sql.raw(query).run()
            }
        }
        for tier in performance.tiers {
            try await transaction.sql.raw("""
                INSERT INTO availability_tiers (performance_id, tier, price_amount, price_currency, capacity)
                VALUES (\(bind: performance.id), \(bind: tier.tier), \(bind: tier.price.amount), \(bind: tier.price.currency),
                        \(bind: tier.quota ?? capacity[tier.tier] ?? 0))
                """).run()
        }
    }
}

/// Serves availability from the read model, keeping each performance's answer for half a
/// second: at an on-sale thousands of fans ask for the same map every second, and one read of
/// all its seats per half-second serves them all.
public final class AvailabilityReader: Sendable {
    private let database: Database
    private let sharedCache: any Cache
    private let freshFor: Duration
    /// Decoded copies, so a hot performance is not decoded again for every request.
    private let local = Mutex<[String: (at: ContinuousClock.Instant, value: Availability)]>([:])

    /// `sharedCache` is what every node reads first (Redis in distributed mode), so a busy
    /// performance's map is read from the database once per `freshFor` across the cluster
    /// rather than per node. A change shows within two `freshFor` (local copy, then shared).
    public init(database: Database, sharedCache: any Cache, freshFor: Duration = .milliseconds(400)) {
        self.database = database
        self.sharedCache = sharedCache
        self.freshFor = freshFor
    }

    public func availability(performanceID: String) async throws -> Availability {
        let now = ContinuousClock.now
        if let cached = local.withLock({ $0[performanceID] }), cached.at.duration(to: now) < freshFor {
            return cached.value
        }
        let key = "availability:\(performanceID)"
        let value: Availability
        // The cache is an optimisation: when it cannot answer, the database does.
        if let shared = await sharedCache.json(key, as: Availability.self) {
            value = shared
        } else {
            guard let loaded = try await database.read({ sql in try await Self.load(sql, performanceID: performanceID) }) else {
                throw Problem.notFound(detail: "No such performance on sale.")
            }
            value = loaded
            let seconds = Double(freshFor.components.seconds) + Double(freshFor.components.attoseconds) / 1e18
            await sharedCache.setJSON(loaded, key, ttl: seconds)
        }
        local.withLock { local in
            if local.count > 1000 { local.removeAll() }  // bounded: a few hot performances at a time
            local[performanceID] = (now, value)
        }
        return value
    }

    private static func load(_ sql: any SQLDatabase, performanceID: String) async throws -> Availability? {
        let tierRows = try await sql.raw("""
            SELECT tier, price_amount, price_currency, capacity, held, sold FROM availability_tiers
            WHERE performance_id = \(bind: performanceID) ORDER BY tier
            """).all()
        guard !tierRows.isEmpty else { return nil }
        let seats = try await sql.raw("""
            SELECT seat_id, label, section, row_label, x, y, tier, state FROM availability_seats
            WHERE performance_id = \(bind: performanceID) ORDER BY section, row_label, label
            """).all().map { row in
                Availability.Seat(
                    id: try row.decode(column: "seat_id", as: String.self), label: try row.decode(column: "label", as: String.self),
                    section: try row.decode(column: "section", as: String.self), row: try row.decode(column: "row_label", as: String.self),
                    x: try row.decode(column: "x", as: Double.self), y: try row.decode(column: "y", as: Double.self),
                    tier: try row.decode(column: "tier", as: String.self), state: try row.decode(column: "state", as: String.self))
            }
        var seatCounts: [String: (held: Int, sold: Int)] = [:]
        for seat in seats {
            if seat.state == "held" { seatCounts[seat.tier, default: (0, 0)].held += 1 }
            if seat.state == "sold" { seatCounts[seat.tier, default: (0, 0)].sold += 1 }
        }
        let tiers = try tierRows.map { row in
            let tier = try row.decode(column: "tier", as: String.self)
            let capacity = try row.decode(column: "capacity", as: Int.self)
            // Reserved seating counts its seats; general admission keeps counters.
            let held = seats.isEmpty ? try row.decode(column: "held", as: Int.self) : seatCounts[tier]?.held ?? 0
            let sold = seats.isEmpty ? try row.decode(column: "sold", as: Int.self) : seatCounts[tier]?.sold ?? 0
            return Availability.Tier(
                tier: tier,
                price: try row.decodeMoney("price_amount", currency: "price_currency"),
                available: max(0, capacity - held - sold), held: held, sold: sold)
        }
        return Availability(seats: seats, tiers: tiers)
    }
}
