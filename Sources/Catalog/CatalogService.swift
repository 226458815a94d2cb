import BoxofficeKit
import Coordination
import Foundation
import Logging
import Messaging
import Persistence
import SQLKit

/// Venues, seat maps, events and performances: what is on sale, and when, and for how much.
public final class CatalogService: Sendable {
    private let database: Database
    private let outbox: Outbox
    private let clock: any WallClock
    private let ids: IDGenerator
    private let logger: Logger
    /// Published events, shared by the nodes (Redis) so an on-sale's crowd reloading the event
    /// page reads the database once per `cacheSeconds`, not per request. Every change to an
    /// event or its performances drops its copy.
    private let cache: any Cache
    private let cacheSeconds: TimeInterval = 2
    /// Where sales open once an event is published (inventory, from the events publishing sends).
    private let sales: any SalesOpening
    /// How long publishing waits for its sales to open, so that the organizer's next request
    /// (the seat map, a test hold) finds them open; zero does not wait.
    private let publishWait: Duration

    public init(
        database: Database, outbox: Outbox, clock: any WallClock, logger: Logger, cache: any Cache = InMemoryCache(),
        sales: any SalesOpening = NoSalesOpening(), publishWait: Duration = .zero
    ) {
        self.database = database
        self.outbox = outbox
        self.clock = clock
        self.ids = IDGenerator(clock: clock)
        self.logger = logger
        self.cache = cache
        self.sales = sales
        self.publishWait = publishWait
    }

    private static func eventKey(_ id: String) -> String { "catalog:event:\(id)" }

    /// After a change to an event or its performances: the next read goes to the database.
    private func forget(eventID: String) async {
        try? await cache.delete(Self.eventKey(eventID))
    }

    // MARK: Venues

    public func createVenue(name: String, address: String, by organizer: Principal) async throws -> Venue {
        try organizer.require(anyOf: .organizer, .admin)
        var errors: [Problem.FieldError] = []
        if let problem = Self.textProblem(name, limit: 200) { errors.append(.init(field: "name", message: problem)) }
        if let problem = Self.textProblem(address, limit: 500) { errors.append(.init(field: "address", message: problem)) }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        let venue = Venue(
            id: ids.next(), organizerId: organizer.userID, name: Self.trimmed(name), address: Self.trimmed(address), seatCount: 0)
        let now = clock.now()
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                INSERT INTO venues (id, organizer_id, name, address, seat_count, created_at, updated_at)
                VALUES (\(bind: venue.id), \(bind: venue.organizerId), \(bind: venue.name), \(bind: venue.address), 0,
                        \(bind: now), \(bind: now))
                """).run()
        }
        return venue
    }

    public func venue(id: String) async throws -> Venue {
        guard let venue = try await database.read({ sql in try await Self.fetchVenue(sql, id: id) }) else {
            throw Problem.notFound(detail: "No such venue.")
        }
        return venue
    }

    /// Every seat of a venue's map, in map order.
    public func seatMap(venueID: String) async throws -> [Seat] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT id, section, row_label, seat_label, x, y, tier, attributes FROM seats
                WHERE venue_id = \(bind: venueID) ORDER BY position
                """).all().map { row in
                    let section = try row.decode(column: "section", as: String.self)
                    let rowLabel = try row.decode(column: "row_label", as: String.self)
                    let seatLabel = try row.decode(column: "seat_label", as: String.self)
                    return Seat(
                        id: try row.decode(column: "id", as: String.self), label: "\(section)-\(rowLabel)-\(seatLabel)",
                        section: section, row: rowLabel, x: try row.decode(column: "x", as: Double.self),
                        y: try row.decode(column: "y", as: Double.self), tier: try row.decode(column: "tier", as: String.self),
                        attributes: try row.decode(column: "attributes", as: String.self).split(separator: ",").map(String.init))
                }
        }
    }

    /// Replaces a venue's seat map. Refused while a performance at the venue is scheduled,
    /// because sold and held seats refer to the map's seat IDs.
    public func replaceSeatMap(venueID: String, seats: [SeatInput], by organizer: Principal) async throws -> Int {
        let venue = try await venue(id: venueID)
        try organizer.requireOwnership(of: venue.organizerId, resource: "venue")
        let now = clock.now()
        try await database.withTransaction { transaction in
            let inUse = try await transaction.sql.raw("""
                SELECT p.id FROM performances p JOIN events e ON e.id = p.event_id
                WHERE e.venue_id = \(bind: venueID) AND p.status = 'scheduled' LIMIT 1
                """).first()
            guard inUse == nil else {
                throw Problem.conflict(
                    detail: "A scheduled performance uses this seat map; cancel it before replacing the map.", slug: "seat-map-in-use")
            }
            try await transaction.sql.raw("DELETE FROM seats WHERE venue_id = \(bind: venueID)").run()
            // Multi-row inserts in batches: one round trip per 500 seats instead of per seat.
            for (batchIndex, batch) in seats.chunked(500).enumerated() {
                var query: SQLQueryString = "INSERT INTO seats (id, venue_id, section, row_label, seat_label, x, y, tier, attributes, position) VALUES "
                for (offset, seat) in batch.enumerated() {
                    if offset > 0 { query += ", " }
                    let position = batchIndex * 500 + offset
                    query += """
                        (\(bind: self.ids.next()), \(bind: venueID), \(bind: seat.section), \(bind: seat.row), \(bind: seat.seat),
                         \(bind: seat.x), \(bind: seat.y), \(bind: seat.tier), \(bind: (seat.attributes ?? []).joined(separator: ",")),
                         \(bind: position))
                        """
                }
                try await transaction.sql.raw(query).run()
            }
            try await transaction.sql.raw("""
                UPDATE venues SET seat_count = \(bind: seats.count), updated_at = \(bind: now) WHERE id = \(bind: venueID)
                """).run()
        }
        logger.info("seat map replaced", metadata: ["venue_id": .string(venueID), "seats": .stringConvertible(seats.count)])
        return seats.count
    }

    // MARK: Events

    public struct EventDraft: Codable, Sendable {
        public var title: String
        public var description: String
        public var artist: String
        public var category: String
        public var venueId: String
        public var imageUrls: [String]?
    }

    public struct EventChanges: Codable, Sendable {
        public var title: String?
        public var description: String?
        public var artist: String?
        public var category: String?
        public var imageUrls: [String]?
    }

    public func createEvent(_ draft: EventDraft, by organizer: Principal) async throws -> Event {
        try organizer.require(anyOf: .organizer, .admin)
        try Self.validate(title: draft.title, description: draft.description, artist: draft.artist, category: draft.category,
                          imageUrls: draft.imageUrls ?? [])
        let venue = try await venue(id: draft.venueId)
        try organizer.requireOwnership(of: venue.organizerId, resource: "venue")
        let now = clock.now()
        let id = ids.next()
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                INSERT INTO events (id, organizer_id, venue_id, title, description, artist, category, image_urls, status,
                                    search_text, first_starts_at, created_at, updated_at)
                VALUES (\(bind: id), \(bind: organizer.userID), \(bind: venue.id), \(bind: Self.trimmed(draft.title)),
                        \(bind: draft.description), \(bind: Self.trimmed(draft.artist)), \(bind: Self.category(draft.category)),
                        \(bind: Self.json(draft.imageUrls ?? [])), 'draft',
                        \(bind: Self.searchText(draft.title, draft.artist, draft.description)), NULL, \(bind: now), \(bind: now))
                """).run()
        }
        await forget(eventID: id)
        return try await loadEvent(id: id, viewer: organizer)
    }

    public func updateEvent(id: String, changes: EventChanges, by organizer: Principal) async throws -> Event {
        let current = try await ownedEvent(id: id, by: organizer)
        guard current.status != .cancelled else { throw Problem.conflict(detail: "The event is cancelled.", slug: "event-cancelled") }
        let title = changes.title ?? current.title
        let description = changes.description ?? current.description
        let artist = changes.artist ?? current.artist
        let category = changes.category ?? current.category
        let imageUrls = changes.imageUrls ?? current.imageUrls
        try Self.validate(title: title, description: description, artist: artist, category: category, imageUrls: imageUrls)
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                UPDATE events SET title = \(bind: Self.trimmed(title)), description = \(bind: description),
                    artist = \(bind: Self.trimmed(artist)), category = \(bind: Self.category(category)),
                    image_urls = \(bind: Self.json(imageUrls)), search_text = \(bind: Self.searchText(title, artist, description)),
                    updated_at = \(bind: self.clock.now())
                WHERE id = \(bind: id)
                """).run()
        }
        await forget(eventID: id)
        return try await loadEvent(id: id, viewer: organizer)
    }

    public func publishEvent(id: String, by organizer: Principal) async throws -> Event {
        let current = try await ownedEvent(id: id, by: organizer)
        switch current.status {
        case .published: return current
        case .cancelled: throw Problem.conflict(detail: "A cancelled event cannot be published.", slug: "event-cancelled")
        case .draft: break
        }
        guard !(current.performances ?? []).isEmpty else {
            throw Problem.conflict(detail: "Add a performance before publishing.", slug: "event-has-no-performances")
        }
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                UPDATE events SET status = 'published', updated_at = \(bind: self.clock.now()) WHERE id = \(bind: id) AND status = 'draft'
                """).run()
            try await self.outbox.publish(EventPublished(eventId: id, organizerId: current.organizerId), in: transaction)
        }
        await forget(eventID: id)
        let performances: [Performance] = current.performances ?? []
        try await waitForSalesToOpen(performanceIDs: performances.filter { $0.status != "cancelled" }.map(\.id))
        return try await loadEvent(id: id, viewer: organizer)
    }

    /// Read your own writes: sales open from events delivered after the commit, a few
    /// milliseconds later; the answer to publishing waits for them (bounded), so the seat map
    /// and holds work the moment it returns.
    private func waitForSalesToOpen(performanceIDs: [String]) async throws {
        guard publishWait > .zero, !performanceIDs.isEmpty else { return }
        let deadline = ContinuousClock.now + publishWait
        var pause: Duration = .milliseconds(5)
        while try await !sales.areOpen(performanceIDs: performanceIDs) {
            guard ContinuousClock.now < deadline else {
                logger.warning("published, but its sales did not open in time; they open when event delivery catches up", metadata: [
                    "performances": .stringConvertible(performanceIDs.count),
                ])
                return
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(100))
        }
    }

    public func cancelEvent(id: String, by organizer: Principal) async throws -> Event {
        let current = try await ownedEvent(id: id, by: organizer)
        guard current.status != .cancelled else { return current }
        try await database.withTransaction { transaction in
            let now = self.clock.now()
            try await transaction.sql.raw("UPDATE events SET status = 'cancelled', updated_at = \(bind: now) WHERE id = \(bind: id)").run()
            try await transaction.sql.raw("UPDATE performances SET status = 'cancelled' WHERE event_id = \(bind: id)").run()
            try await self.outbox.publish(
                EventCancelled(eventId: id, performanceIds: (current.performances ?? []).map(\.id)), in: transaction)
        }
        logger.notice("event cancelled", metadata: ["event_id": .string(id), "by": .string(organizer.userID)])
        await forget(eventID: id)
        return try await loadEvent(id: id, viewer: organizer)
    }

    /// Calls one performance off: its sales stop and every order of it is refunded (through
    /// `performance.cancelled`). Cancelling twice is not an error.
    public func cancelPerformance(id: String, by organizer: Principal) async throws -> Performance {
        let current = try await performance(id: id, viewer: organizer)
        _ = try await ownedEvent(id: current.eventId, by: organizer)
        guard current.status != "cancelled" else { return current }
        try await database.withTransaction { transaction in
            let changed = try await transaction.sql.raw("""
                UPDATE performances SET status = 'cancelled' WHERE id = \(bind: id) AND status <> 'cancelled' RETURNING id
                """).all()
            guard !changed.isEmpty else { return }
            try await self.outbox.publish(PerformanceCancelled(eventId: current.eventId, performanceIds: [id]), in: transaction)
        }
        logger.notice("performance cancelled", metadata: ["performance_id": .string(id), "by": .string(organizer.userID)])
        await forget(eventID: current.eventId)
        return try await performance(id: id, viewer: organizer)
    }

    /// An event with its performances. Drafts are visible to their organizer (and admins) only;
    /// published and cancelled events are the same for everyone, so they are cached.
    public func event(id: String, viewer: Principal?) async throws -> Event {
        if let cached = await cache.json(Self.eventKey(id), as: Event.self) { return cached }
        let event = try await loadEvent(id: id, viewer: viewer)
        if event.status != .draft { await cache.setJSON(event, Self.eventKey(id), ttl: cacheSeconds) }
        return event
    }

    /// The event as the database has it now: what changes and ownership checks read.
    private func loadEvent(id: String, viewer: Principal?) async throws -> Event {
        let found = try await database.read { sql in try await Self.fetchEvent(sql, id: id) }
        guard var event = found else { throw Problem.notFound(detail: "No such event.") }
        if event.status == .draft {
            guard let viewer, viewer.userID == event.organizerId || viewer.has(.admin) else {
                throw Problem.notFound(detail: "No such event.")
            }
        }
        event.performances = try await database.read { sql in try await Self.fetchPerformances(sql, eventID: id) }
        return event
    }

    /// An organizer's own events, drafts included, newest first, each with its performances:
    /// what the organizer's desk lists.
    public func organizerEvents(of organizer: Principal) async throws -> [Event] {
        try organizer.require(anyOf: .organizer, .admin)
        return try await database.read { sql in
            let rows = try await sql.raw("""
                SELECT id, organizer_id, venue_id, title, description, artist, category, image_urls, status, first_starts_at
                FROM events WHERE organizer_id = \(bind: organizer.userID) ORDER BY created_at DESC, id LIMIT 200
                """).all()
            var events = try rows.map(Self.decodeEvent)
            for index in events.indices {
                events[index].performances = try await Self.fetchPerformances(sql, eventID: events[index].id)
            }
            return events
        }
    }

    /// An organizer's own venues, newest first.
    public func organizerVenues(of organizer: Principal) async throws -> [Venue] {
        try organizer.require(anyOf: .organizer, .admin)
        return try await database.read { sql in
            try await sql.raw("""
                SELECT id, organizer_id, name, address, seat_count FROM venues
                WHERE organizer_id = \(bind: organizer.userID) ORDER BY created_at DESC, id LIMIT 200
                """).all().map(Self.decodeVenue)
        }
    }

    private func ownedEvent(id: String, by organizer: Principal) async throws -> Event {
        let event = try await loadEvent(id: id, viewer: organizer)
        try organizer.requireOwnership(of: event.organizerId, resource: "event")
        return event
    }

    // MARK: Door staff

    /// The organizer takes someone on as door staff for all of their performances.
    public func addStaff(_ staffID: String, by organizer: Principal) async throws {
        try organizer.require(anyOf: .organizer, .admin)
        try Self.requireUserID(staffID)
        let now = clock.now()
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                INSERT INTO organizer_staff (organizer_id, staff_id, added_at) VALUES (\(bind: organizer.userID), \(bind: staffID), \(bind: now))
                ON CONFLICT DO NOTHING
                """).run()
        }
        logger.notice("door staff added", metadata: ["organizer_id": .string(organizer.userID), "staff_id": .string(staffID)])
    }

    public func removeStaff(_ staffID: String, by organizer: Principal) async throws {
        try organizer.require(anyOf: .organizer, .admin)
        try Self.requireUserID(staffID)
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                DELETE FROM organizer_staff WHERE organizer_id = \(bind: organizer.userID) AND staff_id = \(bind: staffID)
                """).run()
        }
    }

    private static func requireUserID(_ id: String) throws {
        guard (1...64).contains(id.unicodeScalars.count) else { throw Problem.validation([.init(field: "userId", message: "is not a user ID")]) }
    }

    public struct StaffMember: Codable, Sendable, Equatable {
        public let userId: String
        public let addedAt: Date
    }

    public func staff(of organizer: Principal) async throws -> [StaffMember] {
        try organizer.require(anyOf: .organizer, .admin)
        return try await database.read { sql in
            try await sql.raw("""
                SELECT staff_id, added_at FROM organizer_staff WHERE organizer_id = \(bind: organizer.userID) ORDER BY added_at, staff_id
                """).all().map {
                    StaffMember(userId: try $0.decode(column: "staff_id", as: String.self), addedAt: try $0.decode(column: "added_at", as: Date.self))
                }
        }
    }

    /// Whether `principal` may admit people to the performance at its door: an admin, the
    /// event's organizer, or staff the organizer took on.
    public func mayAdmit(performanceID: String, principal: Principal) async throws -> Bool {
        if principal.has(.admin) { return true }
        return try await database.read { sql in
            guard let organizer = try await sql.raw("""
                SELECT e.organizer_id FROM performances p JOIN events e ON e.id = p.event_id WHERE p.id = \(bind: performanceID)
                """).first()?.decode(column: "organizer_id", as: String.self)
            else { return false }
            if organizer == principal.userID { return true }
            guard principal.has(.staff) else { return false }
            return try await sql.raw("""
                SELECT 1 AS found FROM organizer_staff WHERE organizer_id = \(bind: organizer) AND staff_id = \(bind: principal.userID)
                """).first() != nil
        }
    }

    // MARK: Performances

    public struct PerformanceDraft: Codable, Sendable {
        public struct Price: Codable, Sendable {
            public var tier: String
            public var price: Money
        }

        public struct Quota: Codable, Sendable {
            public var tier: String
            public var quota: Int
        }

        public var startsAt: Date
        public var onSaleFrom: Date
        public var onSaleUntil: Date
        public var prices: [Price]
        public var holdMinutes: Int?
        public var maxSeatsPerOrder: Int?
        public var maxSeatsPerFan: Int?
        public var refundCutoffHours: Int?
        public var cancellationFeePercent: Int?
        public var generalAdmission: [Quota]?
    }

    public func addPerformance(eventID: String, _ draft: PerformanceDraft, by organizer: Principal) async throws -> Performance {
        let event = try await ownedEvent(id: eventID, by: organizer)
        guard event.status != .cancelled else { throw Problem.conflict(detail: "The event is cancelled.", slug: "event-cancelled") }
        let venueTiers = try await database.read { sql in
            try await sql.raw("SELECT DISTINCT tier FROM seats WHERE venue_id = \(bind: event.venueId)").all()
                .map { try $0.decode(column: "tier", as: String.self) }
        }
        let performance = try validatedPerformance(draft, eventID: eventID, venueTiers: Set(venueTiers))
        let capacity = performance.seating == .general
            ? performance.tiers.reduce(0) { $0 + ($1.quota ?? 0) }
            : try await venue(id: event.venueId).seatCount
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                INSERT INTO performances (id, event_id, starts_at, on_sale_from, on_sale_until, hold_minutes, max_seats_per_order,
                                          max_seats_per_fan, refund_cutoff_hours, cancellation_fee_percent, seating, status,
                                          capacity, created_at)
                VALUES (\(bind: performance.id), \(bind: eventID), \(bind: performance.startsAt), \(bind: performance.onSaleFrom),
                        \(bind: performance.onSaleUntil), \(bind: performance.holdMinutes), \(bind: performance.maxSeatsPerOrder),
                        \(bind: performance.maxSeatsPerFan), \(bind: performance.refundCutoffHours),
                        \(bind: performance.cancellationFeePercent), \(bind: performance.seating.rawValue), 'scheduled', \(bind: capacity),
                        \(bind: self.clock.now()))
                """).run()
            for tier in performance.tiers {
                try await transaction.sql.raw("""
                    INSERT INTO performance_tiers (performance_id, tier, price_amount, price_currency, quota)
                    VALUES (\(bind: performance.id), \(bind: tier.tier), \(bind: tier.price.amount), \(bind: tier.price.currency.rawValue),
                            \(bind: tier.quota))
                    """).run()
            }
            let first = min(performance.startsAt, event.startsAt ?? performance.startsAt)
            try await transaction.sql.raw("""
                UPDATE events SET first_starts_at = \(bind: first), first_starts_at_key = \(bind: Self.sortKey(first))
                WHERE id = \(bind: eventID)
                """).run()
            // Read under the event's lock, so a publish racing this is either seen here or
            // comes after this event in the outbox.
            let lock = transaction.dialect == .postgres ? " FOR UPDATE" : ""
            let status = try await transaction.sql.raw("SELECT status FROM events WHERE id = \(bind: eventID)\(unsafeRaw: lock)").first()?
                .decode(column: "status", as: String.self)
            try await self.outbox.publish(
                PerformanceScheduled(performance: performance, venueId: event.venueId, eventPublished: status == EventStatus.published.rawValue),
                in: transaction)
        }
        await forget(eventID: eventID)
        return performance
    }

    /// What an organizer may change about a performance; every field is optional.
    public struct PerformanceChanges: Codable, Sendable {
        public var startsAt: Date?
        public var onSaleFrom: Date?
        public var onSaleUntil: Date?
        public var prices: [PerformanceDraft.Price]?
        public var holdMinutes: Int?
        public var maxSeatsPerOrder: Int?
        public var maxSeatsPerFan: Int?
        public var refundCutoffHours: Int?
        public var cancellationFeePercent: Int?
    }

    /// Changes a performance under the rules it was made with. Once its sale has opened, fans
    /// have bought at its prices and under its refund terms: prices are fixed, and the terms
    /// may only get kinder (an earlier cut-off, a lower fee). Its tiers never change.
    public func updatePerformance(id: String, changes: PerformanceChanges, by organizer: Principal) async throws -> Performance {
        let current = try await performance(id: id, viewer: organizer)
        let event = try await ownedEvent(id: current.eventId, by: organizer)
        guard current.status != "cancelled", event.status != .cancelled else {
            throw Problem.conflict(detail: "The performance is cancelled.", slug: "performance-cancelled")
        }
        let currentPrices = current.tiers.map { PerformanceDraft.Price(tier: $0.tier, price: $0.price) }
        let draft = PerformanceDraft(
            startsAt: changes.startsAt ?? current.startsAt, onSaleFrom: changes.onSaleFrom ?? current.onSaleFrom,
            onSaleUntil: changes.onSaleUntil ?? current.onSaleUntil, prices: changes.prices ?? currentPrices,
            holdMinutes: changes.holdMinutes ?? current.holdMinutes, maxSeatsPerOrder: changes.maxSeatsPerOrder ?? current.maxSeatsPerOrder,
            maxSeatsPerFan: changes.maxSeatsPerFan ?? current.maxSeatsPerFan,
            refundCutoffHours: changes.refundCutoffHours ?? current.refundCutoffHours,
            cancellationFeePercent: changes.cancellationFeePercent ?? current.cancellationFeePercent,
            generalAdmission: current.seating == .general
                ? current.tiers.map { PerformanceDraft.Quota(tier: $0.tier, quota: $0.quota ?? 0) } : nil)
        let checked = try validatedPerformance(draft, eventID: current.eventId, venueTiers: Set(current.tiers.map(\.tier)))
        var errors: [Problem.FieldError] = []
        if Set(checked.tiers.map(\.tier)) != Set(current.tiers.map(\.tier)) {
            errors.append(.init(field: "prices", message: "must price the tiers it has: \(current.tiers.map(\.tier).sorted().joined(separator: ", "))"))
        }
        if current.onSaleFrom <= clock.now() {
            let was = Dictionary(current.tiers.map { ($0.tier, $0.price) }, uniquingKeysWith: { first, _ in first })
            if checked.tiers.contains(where: { was[$0.tier] != $0.price }) {
                errors.append(.init(field: "prices", message: "cannot change once the sale has opened"))
            }
            if checked.refundCutoffHours > current.refundCutoffHours {
                errors.append(.init(field: "refundCutoffHours", message: "can only get shorter once the sale has opened (now \(current.refundCutoffHours))"))
            }
            if checked.cancellationFeePercent > current.cancellationFeePercent {
                errors.append(.init(field: "cancellationFeePercent", message: "can only go down once the sale has opened (now \(current.cancellationFeePercent))"))
            }
        }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        let updated = Performance(
            id: current.id, eventId: current.eventId, startsAt: checked.startsAt, onSaleFrom: checked.onSaleFrom,
            onSaleUntil: checked.onSaleUntil, holdMinutes: checked.holdMinutes, maxSeatsPerOrder: checked.maxSeatsPerOrder,
            maxSeatsPerFan: checked.maxSeatsPerFan, refundCutoffHours: checked.refundCutoffHours,
            cancellationFeePercent: checked.cancellationFeePercent, seating: current.seating, status: current.status, tiers: checked.tiers)
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                UPDATE performances SET starts_at = \(bind: updated.startsAt), on_sale_from = \(bind: updated.onSaleFrom),
                    on_sale_until = \(bind: updated.onSaleUntil), hold_minutes = \(bind: updated.holdMinutes),
                    max_seats_per_order = \(bind: updated.maxSeatsPerOrder), max_seats_per_fan = \(bind: updated.maxSeatsPerFan),
                    refund_cutoff_hours = \(bind: updated.refundCutoffHours), cancellation_fee_percent = \(bind: updated.cancellationFeePercent)
                WHERE id = \(bind: id)
                """).run()
            for tier in updated.tiers {
                try await transaction.sql.raw("""
                    UPDATE performance_tiers SET price_amount = \(bind: tier.price.amount), price_currency = \(bind: tier.price.currency.rawValue)
                    WHERE performance_id = \(bind: id) AND tier = \(bind: tier.tier)
                    """).run()
            }
            // The event lists by its first performance: a rescheduled one may move it.
            if let first = try await transaction.sql.raw("""
                SELECT MIN(starts_at) AS first FROM performances WHERE event_id = \(bind: current.eventId)
                """).first()?.decode(column: "first", as: Date?.self) {
                try await transaction.sql.raw("""
                    UPDATE events SET first_starts_at = \(bind: first), first_starts_at_key = \(bind: Self.sortKey(first)),
                        updated_at = \(bind: self.clock.now())
                    WHERE id = \(bind: current.eventId)
                    """).run()
            }
            try await self.outbox.publish(PerformanceChanged(performance: updated), in: transaction)
        }
        logger.info("performance changed", metadata: ["performance_id": .string(id), "by": .string(organizer.userID)])
        await forget(eventID: current.eventId)
        return try await performance(id: id, viewer: organizer)
    }

    public func performance(id: String, viewer: Principal?) async throws -> Performance {
        let eventID = try await database.read { sql in
            try await sql.raw("SELECT event_id FROM performances WHERE id = \(bind: id)").first()?.decode(column: "event_id", as: String.self)
        }
        guard let eventID, let performance = try await event(id: eventID, viewer: viewer).performances?.first(where: { $0.id == id }) else {
            throw Problem.notFound(detail: "No such performance.")
        }
        return performance
    }

    private func validatedPerformance(_ draft: PerformanceDraft, eventID: String, venueTiers: Set<String>) throws -> Performance {
        var errors: [Problem.FieldError] = []
        func fail(_ field: String, _ message: String) { errors.append(.init(field: field, message: message)) }
        let now = clock.now()
        if draft.startsAt <= now { fail("startsAt", "must be in the future") }
        if draft.onSaleFrom >= draft.onSaleUntil { fail("onSaleUntil", "must be after onSaleFrom") }
        if draft.onSaleUntil > draft.startsAt { fail("onSaleUntil", "must not be after startsAt") }
        let holdMinutes = draft.holdMinutes ?? 5
        if !(1...30).contains(holdMinutes) { fail("holdMinutes", "must be from 1 to 30") }
        let perOrder = draft.maxSeatsPerOrder ?? 4
        if !(1...20).contains(perOrder) { fail("maxSeatsPerOrder", "must be from 1 to 20") }
        let perFan = draft.maxSeatsPerFan ?? perOrder
        if perFan < perOrder || perFan > 100 { fail("maxSeatsPerFan", "must be from maxSeatsPerOrder to 100") }
        let refundCutoffHours = draft.refundCutoffHours ?? 24
        if !(0...8760).contains(refundCutoffHours) { fail("refundCutoffHours", "must be from 0 to 8760") }
        let feePercent = draft.cancellationFeePercent ?? 0
        if !(0...100).contains(feePercent) { fail("cancellationFeePercent", "must be from 0 to 100") }

        var prices: [String: Money] = [:]
        for (index, price) in draft.prices.enumerated() {
            let tier = price.tier.trimmingCharacters(in: .whitespaces)
            if tier.isEmpty { fail("prices[\(index)].tier", "is empty") }
            if prices[tier] != nil { fail("prices[\(index)].tier", "'\(tier)' is priced twice") }
            if !(0...Money.maximumAmount).contains(price.price.amount) {
                fail("prices[\(index)].price.amount", "must be from 0 to \(Money.maximumAmount)")
            }
            if let first = prices.values.first, first.currency != price.price.currency {
                fail("prices[\(index)].price.currency", "all tiers must be priced in one currency")
            }
            prices[tier] = price.price
        }
        if prices.isEmpty { fail("prices", "needs at least one tier") }

        let seating: Seating
        var quotas: [String: Int] = [:]
        if let generalAdmission = draft.generalAdmission {
            seating = .general
            for (index, entry) in generalAdmission.enumerated() {
                if prices[entry.tier] == nil { fail("generalAdmission[\(index)].tier", "'\(entry.tier)' has no price") }
                if !(1...1_000_000).contains(entry.quota) { fail("generalAdmission[\(index)].quota", "must be from 1 to 1000000") }
                quotas[entry.tier] = entry.quota
            }
            if generalAdmission.isEmpty { fail("generalAdmission", "needs at least one tier") }
        } else {
            seating = .reserved
            if venueTiers.isEmpty { fail("venueId", "the venue has no seat map yet") }
            for tier in venueTiers.subtracting(prices.keys).sorted() { fail("prices", "tier '\(tier)' of the seat map has no price") }
            for tier in Set(prices.keys).subtracting(venueTiers).sorted() { fail("prices", "tier '\(tier)' is not in the seat map") }
        }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        return Performance(
            id: ids.next(), eventId: eventID, startsAt: draft.startsAt, onSaleFrom: draft.onSaleFrom, onSaleUntil: draft.onSaleUntil,
            holdMinutes: holdMinutes, maxSeatsPerOrder: perOrder, maxSeatsPerFan: perFan, refundCutoffHours: refundCutoffHours,
            cancellationFeePercent: feePercent, seating: seating, status: "scheduled",
            tiers: prices.keys.sorted().map { TierPrice(tier: $0, price: prices[$0]!, quota: quotas[$0]) })  // keys from prices
    }

    // MARK: Browsing

    public struct ListQuery: Sendable {
        public enum Sort: String, Sendable { case date, title, popularity }
        public var text: String?
        /// Only events with a performance that still has seats to sell.
        public var onlyAvailable = false
        public var category: String?
        public var venueID: String?
        public var from: Date?
        public var to: Date?
        public var sort: Sort = .date
        public var limit: Int = 20
        public var cursor: String?
        public init() {}
    }

    private struct ListCursor: Codable {
        let key: String
        let id: String
    }

    /// Published events, filtered, sorted and paged with an opaque cursor. Not cached: a
    /// publish or a sell-out must show at once, and the query is one indexed read.
    public func listEvents(_ query: ListQuery) async throws -> Page<Event> {
        let key = sortKey(query.sort)
        var sql: SQLQueryString = """
            SELECT e.id, e.organizer_id, e.venue_id, e.title, e.description, e.artist, e.category, e.image_urls, e.status,
                   e.first_starts_at, \(unsafeRaw: key) AS sort_key
            FROM events e WHERE e.status = 'published'
            """
        if query.onlyAvailable {
            sql += " AND EXISTS (SELECT 1 FROM performances p WHERE p.event_id = e.id AND p.status = 'scheduled' AND p.taken < p.capacity)"
        }
        if let text = query.text?.trimmingCharacters(in: .whitespaces).lowercased(), !text.isEmpty {
            sql += " AND e.search_text LIKE \(bind: SQLQueryString.likePattern(containing: text)) ESCAPE '\\'"
        }
        if let category = query.category { sql += " AND e.category = \(bind: Self.category(category))" }
        if let venueID = query.venueID { sql += " AND e.venue_id = \(bind: venueID)" }
        if query.from != nil || query.to != nil {
            sql += " AND EXISTS (SELECT 1 FROM performances p WHERE p.event_id = e.id AND p.status = 'scheduled'"
            if let from = query.from { sql += " AND p.starts_at >= \(bind: from)" }
            if let to = query.to { sql += " AND p.starts_at < \(bind: to)" }
            sql += ")"
        }
        if let cursor = query.cursor {
            let position = try Cursor.decode(cursor, as: ListCursor.self)
            sql += " AND (\(unsafeRaw: key) > \(bind: position.key) OR (\(unsafeRaw: key) = \(bind: position.key) AND e.id > \(bind: position.id)))"
        }
        sql += " ORDER BY sort_key, e.id LIMIT \(bind: query.limit + 1)"
        let finalQuery = sql
        let rows = try await database.read { sql in try await sql.raw(finalQuery).all() }
        var events = try rows.map(Self.decodeEvent)
        var nextCursor: String?
        if events.count > query.limit {
            events.removeLast()
            let last = rows[query.limit - 1]
            nextCursor = Cursor.encode(ListCursor(key: try last.decode(column: "sort_key", as: String.self), id: events[events.count - 1].id))
        }
        return Page(items: events, nextCursor: nextCursor)
    }

    /// Every sort is ascending text, identical on both databases, so one cursor shape works:
    /// dates as fixed-width UTC text, titles lower-cased, popularity as a zero-padded countdown
    /// (most popular first).
    private func sortKey(_ sort: ListQuery.Sort) -> String {
        switch sort {
        case .date: "e.first_starts_at_key"
        case .title: "LOWER(e.title)"
        case .popularity:
            database.dialect == .postgres
                ? "LPAD((999999999999 - e.popularity)::text, 12, '0') || e.first_starts_at_key"
                : "printf('%012d', 999999999999 - e.popularity) || e.first_starts_at_key"
        }
    }

    /// Keeps stock and demand figures from reservation events (a subscriber calls it).
    func applyStockChange(performanceID: String, delta: Int, newDemand: Int, in transaction: DatabaseTransaction) async throws {
        try await transaction.sql.raw("UPDATE performances SET taken = taken + \(bind: delta) WHERE id = \(bind: performanceID)").run()
        if newDemand > 0 {
            try await transaction.sql.raw("""
                UPDATE events SET popularity = popularity + \(bind: newDemand)
                WHERE id = (SELECT event_id FROM performances WHERE id = \(bind: performanceID))
                """).run()
        }
    }

    static func sortKey(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    // MARK: Rows

    static func fetchVenue(_ sql: any SQLDatabase, id: String) async throws -> Venue? {
        try await sql.raw("SELECT id, organizer_id, name, address, seat_count FROM venues WHERE id = \(bind: id)").first().map(decodeVenue)
    }

    static func decodeVenue(_ row: any SQLRow) throws -> Venue {
        Venue(
            id: try row.decode(column: "id", as: String.self), organizerId: try row.decode(column: "organizer_id", as: String.self),
            name: try row.decode(column: "name", as: String.self), address: try row.decode(column: "address", as: String.self),
            seatCount: try row.decode(column: "seat_count", as: Int.self))
    }

    static func fetchEvent(_ sql: any SQLDatabase, id: String) async throws -> Event? {
        try await sql.raw("""
            SELECT id, organizer_id, venue_id, title, description, artist, category, image_urls, status, first_starts_at
            FROM events WHERE id = \(bind: id)
            """).first().map(decodeEvent)
    }

    static func decodeEvent(_ row: any SQLRow) throws -> Event {
        Event(
            id: try row.decode(column: "id", as: String.self), organizerId: try row.decode(column: "organizer_id", as: String.self),
            venueId: try row.decode(column: "venue_id", as: String.self), title: try row.decode(column: "title", as: String.self),
            description: try row.decode(column: "description", as: String.self), artist: try row.decode(column: "artist", as: String.self),
            category: try row.decode(column: "category", as: String.self),
            imageUrls: (try? JSONDecoder().decode([String].self, from: Data(try row.decode(column: "image_urls", as: String.self).utf8))) ?? [],
            status: EventStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .draft,
            startsAt: try row.decode(column: "first_starts_at", as: Date?.self), performances: nil)
    }

    static func fetchPerformances(_ sql: any SQLDatabase, eventID: String) async throws -> [Performance] {
        let rows = try await sql.raw("""
            SELECT id, event_id, starts_at, on_sale_from, on_sale_until, hold_minutes, max_seats_per_order, max_seats_per_fan,
                   refund_cutoff_hours, cancellation_fee_percent, seating, status
            FROM performances WHERE event_id = \(bind: eventID) ORDER BY starts_at, id
            """).all()
        let tierRows = try await sql.raw("""
            SELECT t.performance_id, t.tier, t.price_amount, t.price_currency, t.quota
            FROM performance_tiers t JOIN performances p ON p.id = t.performance_id
            WHERE p.event_id = \(bind: eventID) ORDER BY t.tier
            """).all()
        var tiers: [String: [TierPrice]] = [:]
        for row in tierRows {
            let currency = Currency(rawValue: try row.decode(column: "price_currency", as: String.self)) ?? .krw
            tiers[try row.decode(column: "performance_id", as: String.self), default: []].append(TierPrice(
                tier: try row.decode(column: "tier", as: String.self),
                price: Money(amount: try row.decode(column: "price_amount", as: Int64.self), currency: currency),
                quota: try row.decode(column: "quota", as: Int?.self)))
        }
        return try rows.map { row in
            let id = try row.decode(column: "id", as: String.self)
            return Performance(
                id: id, eventId: try row.decode(column: "event_id", as: String.self),
                startsAt: try row.decode(column: "starts_at", as: Date.self), onSaleFrom: try row.decode(column: "on_sale_from", as: Date.self),
                onSaleUntil: try row.decode(column: "on_sale_until", as: Date.self),
                holdMinutes: try row.decode(column: "hold_minutes", as: Int.self),
                maxSeatsPerOrder: try row.decode(column: "max_seats_per_order", as: Int.self),
                maxSeatsPerFan: try row.decode(column: "max_seats_per_fan", as: Int.self),
                refundCutoffHours: try row.decode(column: "refund_cutoff_hours", as: Int.self),
                cancellationFeePercent: try row.decode(column: "cancellation_fee_percent", as: Int.self),
                seating: Seating(rawValue: try row.decode(column: "seating", as: String.self)) ?? .reserved,
                status: try row.decode(column: "status", as: String.self), tiers: tiers[id] ?? [])
        }
    }

    // MARK: Rules

    private static func validate(title: String, description: String, artist: String, category: String, imageUrls: [String]) throws {
        var errors: [Problem.FieldError] = []
        if let problem = textProblem(title, limit: 200) { errors.append(.init(field: "title", message: problem)) }
        // Lengths in Unicode code points, as JSON Schema's maxLength counts them.
        if description.unicodeScalars.count > 10_000 { errors.append(.init(field: "description", message: "is longer than 10000 characters")) }
        if let problem = textProblem(artist, limit: 200) { errors.append(.init(field: "artist", message: problem)) }
        if let problem = textProblem(category, limit: 50) { errors.append(.init(field: "category", message: problem)) }
        if imageUrls.count > 20 { errors.append(.init(field: "imageUrls", message: "at most 20 images")) }
        for (index, url) in imageUrls.enumerated() {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
                errors.append(.init(field: "imageUrls[\(index)]", message: "is not an http(s) URL"))
                continue
            }
        }
        guard errors.isEmpty else { throw Problem.validation(errors) }
    }

    private static func textProblem(_ text: String, limit: Int) -> String? { TextRules.problem(text, limit: limit) }

    private static func trimmed(_ text: String) -> String { TextRules.trimmed(text) }

    private static func category(_ text: String) -> String { trimmed(text).lowercased() }

    private static func searchText(_ parts: String...) -> String { parts.joined(separator: " ").lowercased() }


    private static func json(_ urls: [String]) -> String {
        (try? String(decoding: JSONEncoder().encode(urls), as: UTF8.self)) ?? "[]"
    }
}
