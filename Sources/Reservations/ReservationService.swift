import BoxofficeKit
import Foundation
import Logging
import Messaging
import Persistence
import SQLKit

/// Holds: all-or-nothing claims on seats or general-admission units, with an expiry.
///
/// A seat never ends up in two holds. The claim is one conditional `UPDATE … WHERE state =
/// 'available'` (row locks taken in seat order on PostgreSQL, so concurrent holds cannot
/// deadlock), and a partial unique index on active hold items backs it up. Expiry is lazy: a
/// hold past its time stops counting at once, because the next claim on its seats (or the
/// sweeper, whichever comes first) moves it to `expired` with a conditional update that only
/// one transaction can win, so `reservation.expired` is written exactly once per hold.
public final class ReservationService: Sendable {
    private let database: Database
    private let outbox: Outbox
    private let clock: any WallClock
    private let ids: IDGenerator
    private let logger: Logger
    /// When a performance sells through a waiting room, only admitted fans may hold: checked
    /// here, in the service, so no caller can skip it.
    private let admission: any ShopperAdmission

    public init(
        database: Database, outbox: Outbox, clock: any WallClock, logger: Logger, admission: any ShopperAdmission = OpenAdmission()
    ) {
        self.admission = admission
        self.database = database
        self.outbox = outbox
        self.clock = clock
        self.ids = IDGenerator(clock: clock)
        self.logger = logger
    }

    /// The advisory-lock class of per-fan hold locks (the migrator's lock is a single bigint).
    private static let fanLockClass: Int32 = 0x686F_6C64  // "hold"

    public enum HoldRequest: Sendable {
        case seats([String])
        case generalAdmission(tier: String, quantity: Int)
    }

    // MARK: Holding

    /// `accessToken` is the waiting room's admission (the `Queue-Access` header), when it has one.
    public func hold(performanceID: String, _ request: HoldRequest, fan: Principal, accessToken: String? = nil) async throws -> Hold {
        try await admission.requireAdmission(
            performanceID: performanceID, fanID: fan.userID, accessToken: accessToken, sessionMustBeRunning: true)
        if case .seats(let seatIDs) = request, Set(seatIDs).count != seatIDs.count {
            throw Problem.validation([.init(field: "seatIds", message: "lists a seat twice")])
        }
        let holdID = ids.next()
        let now = clock.now()
        // PostgreSQL: one call applies the sale rules and holds, or says why not.
        if database.dialect == .postgres {
            switch request {
            case .seats(let seatIDs):
                return try await holdSeatsInOneCall(seatIDs, holdID: holdID, performanceID: performanceID, fanID: fan.userID, now: now)
            case .generalAdmission(let tier, let quantity):
                return try await holdUnitsInOneCall(
                    tier: tier, quantity: quantity, holdID: holdID, performanceID: performanceID, fanID: fan.userID, now: now)
            }
        }
        // SQLite: a transaction in its one writer, which serializes holds (and so each fan's count).
        return try await database.withTransaction { transaction in
            let performance = try await self.salePerformance(performanceID, fanID: fan.userID, now: now, in: transaction)
            let quantity: Int
            switch request {
            case .seats(let seatIDs): quantity = seatIDs.count
            case .generalAdmission(_, let count): quantity = count
            }
            let wantedSeats = if case .seats = request { true } else { false }
            if let refusal = SaleRules.check(performance, wantedSeats: wantedSeats, quantity: quantity, now: now) { throw refusal.problem }
            let holdMinutes = performance?.holdMinutes ?? 0
            let expiresAt = now.addingTimeInterval(Double(holdMinutes) * 60)
            var seats: [Hold.Seat] = []
            var heldTier: String?
            switch request {
            case .seats(let seatIDs):
                seats = try await self.holdSeats(
                    seatIDs, holdID: holdID, performanceID: performanceID, fanID: fan.userID, now: now, expiresAt: expiresAt,
                    in: transaction)
            case .generalAdmission(let tier, let count):
                try await self.holdUnits(
                    tier: tier, quantity: count, holdID: holdID, performanceID: performanceID, fanID: fan.userID, now: now,
                    expiresAt: expiresAt, in: transaction)
                heldTier = tier
            }
            // Answered from what the transaction wrote, without reading the hold back.
            return Hold(
                id: holdID, performanceId: performanceID, fanId: fan.userID, seats: seats, tier: heldTier, quantity: quantity,
                expiresAt: expiresAt, status: "active", remainingSeconds: holdMinutes * 60)
        }
    }

    /// How many times a one-call hold is tried when it finds lapsed holds in its way (each try
    /// expires the ones it found first).
    private static let lapsedRetries = 3

    /// The answer when holds kept lapsing under a hold's feet (every try found more).
    private static var stillChanging: Problem {
        Problem.conflict(detail: "These seats are changing hands right now; try again.", slug: "seats-taken")
    }

    /// PostgreSQL: a seat hold in one round trip (`reservations_hold_seats`): held, or the
    /// reason it is not — taken or unknown seats, or a sale rule (`SaleRuleRefusal`). When the
    /// seats are in holds that ran out but are not expired yet, those are expired and it tries again.
    private func holdSeatsInOneCall(
        _ requested: [String], holdID: String, performanceID: String, fanID: String, now: Date
    ) async throws -> Hold {
        let seatIDs = requested.sorted()
        for _ in 0..<Self.lapsedRetries {
            // The function sets the event's expiresAt from the performance's hold minutes.
            let event = try outbox.row(for: ReservationHeld(
                holdId: holdID, performanceId: performanceID, fanId: fanID, seatIds: seatIDs, tier: nil, quantity: seatIDs.count,
                expiresAt: now))
            let rows = try await database.executeAlone(HoldStatements.HoldSeatsInOneCall(
                holdID: holdID, performanceID: performanceID, fanID: fanID, seatIDs: seatIDs, now: now,
                fanLockClass: Self.fanLockClass, event: event))
            guard let first = rows.first else { throw UnexpectedHoldAnswer(detail: "no row") }
            switch first.outcome {
            case "held":
                outbox.wakeRelay()
                let seats = try rows.map { row in
                    guard let seatID = row.seatID, let label = row.label, let tier = row.tier, row.heldUntil != nil else {
                        throw UnexpectedHoldAnswer(detail: "a held seat without its label or tier")
                    }
                    return Hold.Seat(id: seatID, label: label, tier: tier)
                }
                let expiresAt = first.heldUntil ?? now
                return Hold(
                    id: holdID, performanceId: performanceID, fanId: fanID, seats: seats.sorted { $0.label < $1.label }, tier: nil,
                    quantity: seatIDs.count, expiresAt: expiresAt, status: "active",
                    remainingSeconds: Int(expiresAt.timeIntervalSince(now).rounded()))
            case "taken":
                throw Self.seatsTaken(rows.compactMap(\.seatID))
            case "unknown":
                throw Self.unknownSeats(Set(rows.compactMap(\.seatID)), requested: requested)
            case "lapsed":
                try await database.withTransaction { transaction in
                    try await self.expireDueHolds(in: transaction, now: now, matching: Self.holdsOnSeats(seatIDs, of: performanceID))
                }
            default:
                guard let refusal = SaleRuleRefusal(
                    code: first.outcome, limit: first.limit, fanHas: first.fanHas, opensAt: first.opensAt, wantedSeats: true)
                else { throw UnexpectedHoldAnswer(detail: "outcome \(first.outcome)") }
                throw refusal.problem
            }
        }
        throw Self.stillChanging
    }

    /// PostgreSQL: a general-admission hold in one round trip (`reservations_hold_units`): held,
    /// sold out, an unknown tier or a sale rule's refusal; lapsed holds of the tier are expired
    /// and it tries again, as for seats.
    private func holdUnitsInOneCall(
        tier: String, quantity: Int, holdID: String, performanceID: String, fanID: String, now: Date
    ) async throws -> Hold {
        let units = Int32(clamping: quantity)
        for _ in 0..<Self.lapsedRetries {
            let event = try outbox.row(for: ReservationHeld(
                holdId: holdID, performanceId: performanceID, fanId: fanID, seatIds: [], tier: tier, quantity: quantity, expiresAt: now))
            let rows = try await database.executeAlone(HoldStatements.HoldUnitsInOneCall(
                holdID: holdID, performanceID: performanceID, fanID: fanID, tier: tier, quantity: units, now: now,
                fanLockClass: Self.fanLockClass, event: event))
            guard let row = rows.first else { throw UnexpectedHoldAnswer(detail: "no row") }
            switch row.outcome {
            case "held":
                outbox.wakeRelay()
                let expiresAt = row.heldUntil ?? now
                return Hold(
                    id: holdID, performanceId: performanceID, fanId: fanID, seats: [], tier: tier, quantity: quantity, expiresAt: expiresAt,
                    status: "active", remainingSeconds: Int(expiresAt.timeIntervalSince(now).rounded()))
            case "sold-out":
                throw Self.soldOut(tier: tier, left: row.unitsLeft ?? 0)
            case "unknown-tier":
                throw Self.unknownTier(tier)
            case "lapsed":
                let key = TierCounts.Tier(performanceID: performanceID, tier: tier)
                try await database.withTransaction { transaction in
                    try await TierCounts.lock([key], in: transaction)
                    try await self.expireDueHolds(
                        in: transaction, now: now, matching: "performance_id = \(bind: performanceID) AND tier = \(bind: tier)")
                }
            default:
                guard let refusal = SaleRuleRefusal(
                    code: row.outcome, limit: row.limit, fanHas: row.fanHas, opensAt: row.opensAt, wantedSeats: false)
                else { throw UnexpectedHoldAnswer(detail: "outcome \(row.outcome)") }
                throw refusal.problem
            }
        }
        throw Self.stillChanging
    }

    /// What could still be bought at this moment: seats neither sold nor in a running hold
    /// (a hold past its expiry no longer counts, as for holding), plus general-admission units
    /// left. The waiting room's gate admits no more fans than this.
    public func availableUnits(performanceID: String) async throws -> Int {
        let now = clock.now()
        return try await database.read { sql in
            let row = try await sql.raw("""
                SELECT
                    (SELECT COUNT(*) FROM performance_seats s WHERE s.performance_id = \(bind: performanceID)
                       AND (s.state = 'available' OR (s.state = 'held' AND NOT EXISTS (
                           SELECT 1 FROM holds h WHERE h.id = s.hold_id AND h.status = 'active' AND h.expires_at > \(bind: now))))) AS seats,
                    (SELECT COALESCE(SUM(quota), 0) FROM ga_tiers WHERE performance_id = \(bind: performanceID)) AS quota,
                    (SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE performance_id = \(bind: performanceID) AND tier IS NOT NULL
                       AND status = 'active' AND expires_at > \(bind: now)) AS held,
                    (SELECT COUNT(*) FROM tickets WHERE performance_id = \(bind: performanceID) AND status = 'valid'
                       AND seat_id IS NULL) AS sold
                """).first()
            let seats = try row?.decode(column: "seats", as: Int.self) ?? 0
            let quota = try row?.decode(column: "quota", as: Int.self) ?? 0
            let taken = try (row?.decode(column: "held", as: Int.self) ?? 0) + (row?.decode(column: "sold", as: Int.self) ?? 0)
            return seats + max(0, quota - taken)
        }
    }

    /// SQLite: claims the seats, then writes the hold, its items and `reservation.held`. Seats
    /// still in holds that ran out are freed (those holds expired) only when the claim comes up
    /// short, and claimed then, as PostgreSQL's hold function does: a hold of free seats, nearly
    /// every hold, is one statement less in the one writer. The writer serializes holds; SQLite
    /// has no data-modifying WITH.
    private func holdSeats(
        _ requested: [String], holdID: String, performanceID: String, fanID: String, now: Date, expiresAt: Date,
        in transaction: DatabaseTransaction
    ) async throws -> [Hold.Seat] {
        let claim = SeatClaim(
            holdID: holdID, performanceID: performanceID, fanID: fanID, seatIDs: requested.sorted(), now: now, expiresAt: expiresAt)
        func take(_ seatIDs: [String]) async throws -> [Hold.Seat] {
            try await transaction.sql.raw("""
                UPDATE performance_seats SET state = 'held', hold_id = \(bind: holdID)
                WHERE performance_id = \(bind: performanceID) AND seat_id IN \(SQLQueryString.list(seatIDs)) AND state = 'available'
                RETURNING seat_id, label, tier
                """).all().map(Self.seat)
        }
        var claimed = try await take(claim.seatIDs)
        if claimed.count < claim.seatIDs.count {
            let missing = Array(Set(claim.seatIDs).subtracting(claimed.map(\.id))).sorted()
            if try await expireDueHolds(in: transaction, now: now, matching: Self.holdsOnSeats(missing, of: performanceID)) > 0 {
                claimed += try await take(missing)
            }
        }
        guard claimed.count == claim.seatIDs.count else {
            throw try await Self.claimFailure(claim, requested: requested, claimed: claimed, in: transaction)
        }
        try await insertHold(
            id: holdID, performanceID: performanceID, fanID: fanID, tier: nil, quantity: claim.seatIDs.count, now: now,
            expiresAt: expiresAt, in: transaction)
        try await transaction.sql.raw("INSERT INTO hold_items (hold_id, performance_id, seat_id, active) VALUES \(claim.itemRows)").run()
        try await outbox.publish(claim.event, in: transaction)
        return claimed.sorted { $0.label < $1.label }
    }

    /// The running holds on these seats (to expire those that ran out).
    private static func holdsOnSeats(_ seatIDs: [String], of performanceID: String) -> SQLQueryString {
        """
        id IN (SELECT hold_id FROM performance_seats WHERE performance_id = \(bind: performanceID) \
        AND seat_id IN \(SQLQueryString.list(seatIDs)) AND state = 'held')
        """
    }

    /// What one seat hold writes, in the shapes both dialects' statements need.
    private struct SeatClaim {
        let holdID: String
        let performanceID: String
        let fanID: String
        let seatIDs: [String]
        let now: Date
        let expiresAt: Date

        var inList: SQLQueryString { SQLQueryString.list(seatIDs) }

        var itemRows: SQLQueryString {
            var rows: SQLQueryString = ""
            for (index, seatID) in seatIDs.enumerated() {
                if index > 0 { rows += ", " }
                rows += "(\(bind: holdID), \(bind: performanceID), \(bind: seatID), \(bind: true))"
            }
            return rows
        }

        var event: ReservationHeld {
            ReservationHeld(
                holdId: holdID, performanceId: performanceID, fanId: fanID, seatIds: seatIDs, tier: nil, quantity: seatIDs.count,
                expiresAt: expiresAt)
        }
    }

    private static func seat(_ row: any SQLRow) throws -> Hold.Seat {
        Hold.Seat(
            id: try row.decode(column: "seat_id", as: String.self), label: try row.decode(column: "label", as: String.self),
            tier: try row.decode(column: "tier", as: String.self))
    }

    /// Why a claim came up short: unknown seats (422), else the taken ones (409). Only the
    /// losing path pays for this read. Rolling back returns the seats the claim did take.
    private static func claimFailure(
        _ claim: SeatClaim, requested: [String], claimed: [Hold.Seat], in transaction: DatabaseTransaction
    ) async throws -> Problem {
        let known = try await transaction.sql.raw("""
            SELECT seat_id FROM performance_seats WHERE performance_id = \(bind: claim.performanceID) AND seat_id IN \(claim.inList)
            """).all().map { try $0.decode(column: "seat_id", as: String.self) }
        let unknown = Set(claim.seatIDs).subtracting(known)
        guard unknown.isEmpty else { return unknownSeats(unknown, requested: requested) }
        return seatsTaken(Set(claim.seatIDs).subtracting(claimed.map(\.id)).sorted())
    }

    private static func unknownSeats(_ unknown: Set<String>, requested: [String]) -> Problem {
        Problem.validation(requested.enumerated().filter { unknown.contains($0.element) }.map {
            .init(field: "seatIds[\($0.offset)]", message: "is not a seat of this performance")
        })
    }

    private static func unknownTier(_ tier: String) -> Problem {
        Problem.validation([.init(field: "tier", message: "'\(tier)' is not a tier of this performance")])
    }

    private static func soldOut(tier: String, left: Int) -> Problem {
        Problem(
            type: Problem.typeURI("sold-out"), title: "Not enough tickets left.", status: 409,
            detail: "\(left) left in \(tier); nothing was held.", extensions: ["available": .int(left)])
    }

    private static func seatsTaken(_ taken: [String]) -> Problem {
        Problem(
            type: Problem.typeURI("seats-taken"), title: "Some seats are no longer available.", status: 409,
            detail: "\(taken.count) of the seats are held or sold; nothing was held.", extensions: ["takenSeatIds": .strings(taken)])
    }

    /// SQLite: a general-admission hold inside the one writer.
    private func holdUnits(
        tier: String, quantity: Int, holdID: String, performanceID: String, fanID: String, now: Date, expiresAt: Date,
        in transaction: DatabaseTransaction
    ) async throws {
        // SQLite (PostgreSQL holds units in one call): the tier's counts say what is taken once
        // the tier's lapsed holds are expired (TierCounts); the one writer serializes holds.
        let counts: SQLQueryString = """
            SELECT quota, held + sold AS taken FROM ga_tiers WHERE performance_id = \(bind: performanceID) AND tier = \(bind: tier)
            """
        guard try await transaction.sql.raw(counts).first() != nil else {
            throw Self.unknownTier(tier)
        }
        try await expireDueHolds(
            in: transaction, now: now, matching: "performance_id = \(bind: performanceID) AND tier = \(bind: tier)")
        let row = try await transaction.sql.raw(counts).first()
        let quota = try row?.decode(column: "quota", as: Int.self) ?? 0
        let taken = try row?.decode(column: "taken", as: Int.self) ?? 0
        guard taken + quantity <= quota else { throw Self.soldOut(tier: tier, left: max(0, quota - taken)) }
        try await insertHold(
            id: holdID, performanceID: performanceID, fanID: fanID, tier: tier, quantity: quantity, now: now, expiresAt: expiresAt,
            in: transaction)
        try await TierCounts.add(held: quantity, to: .init(performanceID: performanceID, tier: tier), in: transaction)
        try await outbox.publish(
            ReservationHeld(
                holdId: holdID, performanceId: performanceID, fanId: fanID, seatIds: [], tier: tier, quantity: quantity,
                expiresAt: expiresAt),
            in: transaction)
    }

    private func insertHold(
        id: String, performanceID: String, fanID: String, tier: String?, quantity: Int, now: Date, expiresAt: Date,
        in transaction: DatabaseTransaction
    ) async throws {
        try await transaction.sql.raw("""
            INSERT INTO holds (id, performance_id, fan_id, tier, quantity, status, expires_at, created_at)
            VALUES (\(bind: id), \(bind: performanceID), \(bind: fanID), \(bind: tier), \(bind: quantity), 'active',
                    \(bind: expiresAt), \(bind: now))
            """).run()
    }

    // MARK: Reading, releasing, expiring

    public func hold(id: String, viewer: Principal) async throws -> Hold {
        let now = clock.now()
        let found: Hold? = try await database.read { sql in
            guard let row = try await sql.raw("""
                SELECT id, performance_id, fan_id, tier, quantity, status, expires_at FROM holds WHERE id = \(bind: id)
                """).first() else { return nil }
            let seats = try await sql.raw("""
                SELECT s.seat_id, s.label, s.tier FROM hold_items i
                JOIN performance_seats s ON s.performance_id = i.performance_id AND s.seat_id = i.seat_id
                WHERE i.hold_id = \(bind: id) ORDER BY s.label
                """).all().map(Self.seat)
            let expiresAt = try row.decode(column: "expires_at", as: Date.self)
            var status = try row.decode(column: "status", as: String.self)
            if status == "active", expiresAt <= now { status = "expired" }
            return Hold(
                id: id, performanceId: try row.decode(column: "performance_id", as: String.self),
                fanId: try row.decode(column: "fan_id", as: String.self), seats: seats,
                tier: try row.decode(column: "tier", as: String?.self), quantity: try row.decode(column: "quantity", as: Int.self),
                expiresAt: expiresAt, status: status,
                remainingSeconds: status == "active" ? max(0, Int(expiresAt.timeIntervalSince(now).rounded(.down))) : 0)
        }
        guard let found else { throw Problem.notFound(detail: "No such hold.") }
        try viewer.requireOwnership(of: found.fanId, resource: "hold")
        return found
    }

    /// Gives the seats back before the hold runs out. Releasing twice is not an error.
    public func release(id: String, by fan: Principal) async throws {
        let hold = try await hold(id: id, viewer: fan)
        guard hold.status == "active" else { return }
        let tier = hold.tier.map { TierCounts.Tier(performanceID: hold.performanceId, tier: $0) }
        try await database.withTransaction { transaction in
            if let tier { try await TierCounts.lock([tier], in: transaction) }
            let ended = try await transaction.sql.raw("""
                UPDATE holds SET status = 'released', ended_at = \(bind: self.clock.now()) WHERE id = \(bind: id) AND status = 'active'
                RETURNING id
                """).first()
            guard ended != nil else { return }
            if let tier { try await TierCounts.add(held: -hold.quantity, to: tier, in: transaction) }
            let seatIDs = try await Self.freeItems(of: id, in: transaction)
            try await self.outbox.publish(
                ReservationReleased(
                    holdId: id, performanceId: hold.performanceId, fanId: hold.fanId, seatIds: seatIDs, tier: hold.tier,
                    quantity: hold.quantity),
                in: transaction)
        }
    }

    /// How many holds one sweep expires at most.
    public static let sweepBatchSize = 500

    /// Expires up to `limit` holds that have run out; returns how many this call expired.
    /// Safe to run on several nodes at once: each hold is expired by exactly one of them.
    @discardableResult
    public func expireDueHolds(limit: Int = ReservationService.sweepBatchSize) async throws -> Int {
        let now = clock.now()
        return try await database.withTransaction { transaction in
            let due = try await transaction.sql.raw("""
                SELECT id, performance_id, tier FROM holds WHERE status = 'active' AND expires_at <= \(bind: now)
                ORDER BY expires_at LIMIT \(bind: limit)
                """).all()
            guard !due.isEmpty else { return 0 }
            var tiers = Set<TierCounts.Tier>()
            for row in due {
                if let tier = try row.decode(column: "tier", as: String?.self) {
                    tiers.insert(.init(performanceID: try row.decode(column: "performance_id", as: String.self), tier: tier))
                }
            }
            try await TierCounts.lock(tiers, in: transaction)
            let ids = try due.map { try $0.decode(column: "id", as: String.self) }
            return try await self.expireDueHolds(in: transaction, now: now, matching: "id IN \(SQLQueryString.list(ids))")
        }
    }

    /// Expires the running holds that match `condition` and have run out. The caller has locked
    /// the general-admission tiers they may belong to (TierCounts' lock order).
    @discardableResult
    private func expireDueHolds(in transaction: DatabaseTransaction, now: Date, matching condition: SQLQueryString) async throws -> Int {
        var query: SQLQueryString = "UPDATE holds SET status = 'expired', ended_at = \(bind: now) WHERE status = 'active' AND expires_at <= \(bind: now) AND "
        query += condition
        query += " RETURNING id, performance_id, fan_id, tier, quantity"
        let expired = try await transaction.sql.raw(query).all()
        let unitsBack = TierCounts.units(try expired.compactMap { row -> (TierCounts.Tier, Int)? in
            guard let tier = try row.decode(column: "tier", as: String?.self) else { return nil }
            return (
                TierCounts.Tier(performanceID: try row.decode(column: "performance_id", as: String.self), tier: tier),
                try row.decode(column: "quantity", as: Int.self))
        })
        try await TierCounts.add(unitsBack, held: -1, in: transaction)
        for row in expired {
            let id = try row.decode(column: "id", as: String.self)
            let seatIDs = try await Self.freeItems(of: id, in: transaction)
            try await outbox.publish(
                ReservationExpired(
                    holdId: id, performanceId: try row.decode(column: "performance_id", as: String.self),
                    fanId: try row.decode(column: "fan_id", as: String.self), seatIds: seatIDs,
                    tier: try row.decode(column: "tier", as: String?.self), quantity: try row.decode(column: "quantity", as: Int.self)),
                in: transaction)
        }
        if !expired.isEmpty { logger.debug("holds expired", metadata: ["count": .stringConvertible(expired.count)]) }
        return expired.count
    }

    /// Frees a hold's seats; returns their IDs (none for general admission).
    @discardableResult
    private static func freeItems(of holdID: String, in transaction: DatabaseTransaction) async throws -> [String] {
        // The hold's seats come from its items (keyed by hold): performance_seats has no index
        // by hold, and must not be scanned whole to release one hold.
        let seatIDs = try await transaction.sql.raw("""
            UPDATE performance_seats SET state = 'available', hold_id = NULL
            WHERE (performance_id, seat_id) IN (SELECT performance_id, seat_id FROM hold_items WHERE hold_id = \(bind: holdID))
              AND hold_id = \(bind: holdID) AND state = 'held'
            RETURNING seat_id
            """).all().map { try $0.decode(column: "seat_id", as: String.self) }
        try await transaction.sql.raw("UPDATE hold_items SET active = \(bind: false) WHERE hold_id = \(bind: holdID)").run()
        return seatIDs.sorted()
    }

    /// Whether every one of these performances is on sale here, with its seat map readable
    /// (the inventory and the availability read model both built).
    public func salesOpen(performanceIDs: [String]) async throws -> Bool {
        guard !performanceIDs.isEmpty else { return true }
        let ids = SQLQueryString.list(performanceIDs)
        return try await database.read { sql in
            let onSale = try await sql.raw("""
                SELECT COUNT(*) AS n FROM sale_performances WHERE performance_id IN \(ids) AND status = 'on_sale'
                """).first()?.decode(column: "n", as: Int.self) ?? 0
            guard onSale == performanceIDs.count else { return false }
            let mapped = try await sql.raw("""
                SELECT COUNT(DISTINCT performance_id) AS n FROM availability_tiers WHERE performance_id IN \(ids)
                """).first()?.decode(column: "n", as: Int.self) ?? 0
            return mapped == performanceIDs.count
        }
    }

    /// SQLite: the performance's sale settings and, in the same statement, what the fan already
    /// has; nil when it is not on sale here.
    private func salePerformance(
        _ id: String, fanID: String, now: Date, in transaction: DatabaseTransaction
    ) async throws -> SalePerformance? {
        guard let row = try await transaction.sql.raw("""
            SELECT seating, on_sale_from, on_sale_until, hold_minutes, max_seats_per_order, max_seats_per_fan, status,
                   (SELECT COALESCE(SUM(quantity), 0) FROM holds
                    WHERE performance_id = \(bind: id) AND fan_id = \(bind: fanID) AND status = 'active' AND expires_at > \(bind: now))
                 + (SELECT COUNT(*) FROM tickets
                    WHERE performance_id = \(bind: id) AND purchaser_id = \(bind: fanID) AND status = 'valid') AS held_by_fan
            FROM sale_performances WHERE performance_id = \(bind: id)
            """).first()
        else { return nil }
        return SalePerformance(
            seating: try row.decode(column: "seating", as: String.self),
            onSaleFrom: try row.decode(column: "on_sale_from", as: Date.self),
            onSaleUntil: try row.decode(column: "on_sale_until", as: Date.self),
            holdMinutes: try row.decode(column: "hold_minutes", as: Int.self),
            maxPerOrder: try row.decode(column: "max_seats_per_order", as: Int.self),
            maxPerFan: try row.decode(column: "max_seats_per_fan", as: Int.self),
            status: try row.decode(column: "status", as: String.self),
            heldByFan: try row.decode(column: "held_by_fan", as: Int.self))
    }
}

/// A hold function answered something it never should: a bug, answered with 500.
struct UnexpectedHoldAnswer: Error, CustomStringConvertible {
    let detail: String
    var description: String { "the hold function answered \(detail)" }
}
