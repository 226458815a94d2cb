import Foundation
import Messaging
import PostgresNIO

/// The seat-hold path's statements on PostgreSQL, prepared once per connection.
///
/// At an on-sale these run thousands of times a second; as unnamed statements PostgreSQL
/// planned each one every time, and planning was a quarter of its CPU per hold
/// (Benchmarks/README.md). Seat lists are one array parameter (`= ANY($n)`), so each statement
/// has one text whatever the number of seats. SQLite keeps the portable statements.
enum HoldStatements {
    /// The common seat hold, whole, in one round trip that commits on its own (see
    /// `ReservationService.holdSeatsFunction`): `held` rows, `taken` rows, or none — "not this
    /// way", and the caller runs the hold as a transaction with the statements below.
    struct HoldSeatsInOneCall: PostgresPreparedStatement {
        static let sql = """
            SELECT outcome, held_until, held_seat_id, held_label, held_tier
            FROM reservations_hold_seats($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """
        typealias Row = (outcome: String, heldUntil: Date?, seatID: String, label: String?, tier: String?)
        let holdID: String
        let performanceID: String
        let fanID: String
        let seatIDs: [String]
        let now: Date
        let fanLockClass: Int32
        let event: Outbox.Row

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 11)
            bindings.append(holdID)
            bindings.append(performanceID)
            bindings.append(fanID)
            bindings.append(seatIDs)
            bindings.append(now)
            bindings.append(fanLockClass)
            bindings.appendHoldEvent(event)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            let (outcome, heldUntil, seatID, label, tier) = try row.decode((String, Date?, String, String?, String?).self)
            return (outcome, heldUntil, seatID, label, tier)
        }
    }

    /// The common general-admission hold, whole, in one round trip that commits on its own (see
    /// `ReservationService.holdUnitsFunction`): one `held` or `sold-out` row with the units left,
    /// or none — "not this way".
    struct HoldUnitsInOneCall: PostgresPreparedStatement {
        static let sql = """
            SELECT outcome, held_until, units_left
            FROM reservations_hold_units($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """
        typealias Row = (outcome: String, heldUntil: Date?, unitsLeft: Int)
        let holdID: String
        let performanceID: String
        let fanID: String
        let tier: String
        let quantity: Int
        let now: Date
        let fanLockClass: Int32
        let event: Outbox.Row

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 12)
            bindings.append(holdID)
            bindings.append(performanceID)
            bindings.append(fanID)
            bindings.append(tier)
            bindings.append(Int32(clamping: quantity))
            bindings.append(now)
            bindings.append(fanLockClass)
            bindings.appendHoldEvent(event)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            let (outcome, heldUntil, unitsLeft) = try row.decode((String, Date?, Int).self)
            return (outcome, heldUntil, unitsLeft)
        }
    }

    /// One fan's holds for one performance queue here.
    struct FanLock: PostgresPreparedStatement {
        static let sql = "SELECT pg_advisory_xact_lock($1, hashtext($2))"
        typealias Row = Void
        let lockClass: Int32
        let key: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(lockClass)
            bindings.append(key)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {}
    }

    /// The sale settings and what the fan already holds or bought for the performance.
    struct SaleSettings: PostgresPreparedStatement {
        static let sql = """
            SELECT seating, on_sale_from, on_sale_until, hold_minutes, max_seats_per_order, max_seats_per_fan, status,
                   (SELECT COALESCE(SUM(quantity), 0) FROM holds
                    WHERE performance_id = $1 AND fan_id = $2 AND status = 'active' AND expires_at > $3)
                 + (SELECT COUNT(*) FROM tickets WHERE performance_id = $1 AND purchaser_id = $2 AND status = 'valid') AS held_by_fan
            FROM sale_performances WHERE performance_id = $1
            """
        typealias Row = (String, Date, Date, Int, Int, Int, String, Int)
        let performanceID: String
        let fanID: String
        let now: Date

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(performanceID)
            bindings.append(fanID)
            bindings.append(now)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            try row.decode(Row.self)
        }
    }

    /// Claims the seats and, only when every one was free, writes the hold, its items and the
    /// `reservation.held` outbox row. Returns the seats claimed.
    struct ClaimSeats: PostgresPreparedStatement {
        static let sql = """
            WITH claimed AS (
                UPDATE performance_seats SET state = 'held', hold_id = $1
                WHERE performance_id = $2 AND seat_id = ANY($3) AND state = 'available'
                RETURNING seat_id, label, tier
            ), complete AS (
                SELECT 1 FROM (SELECT COUNT(*) AS n FROM claimed) c WHERE n = $4
            ), new_hold AS (
                INSERT INTO holds (id, performance_id, fan_id, tier, quantity, status, expires_at, created_at)
                SELECT $1, $2, $5, NULL, $4, 'active', $6, $7 FROM complete RETURNING id
            ), items AS (
                INSERT INTO hold_items (hold_id, performance_id, seat_id, active)
                SELECT $1, $2, seat_id, TRUE FROM claimed WHERE EXISTS (SELECT 1 FROM complete)
            ), event AS (
                INSERT INTO outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
                SELECT $8, $9, $10, $11, $12, $13, 0 FROM new_hold
            )
            SELECT seat_id, label, tier FROM claimed
            """
        typealias Row = (String, String, String)
        let holdID: String
        let performanceID: String
        let seatIDs: [String]
        let fanID: String
        let expiresAt: Date
        let now: Date
        let event: Outbox.Row

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 13)
            bindings.append(holdID)
            bindings.append(performanceID)
            bindings.append(seatIDs)
            bindings.append(seatIDs.count)
            bindings.append(fanID)
            bindings.append(expiresAt)
            bindings.append(now)
            bindings.append(event.id)
            bindings.append(event.eventType)
            bindings.append(event.aggregateType)
            bindings.append(event.aggregateID)
            bindings.append(event.payload)
            bindings.append(event.occurredAt)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            try row.decode(Row.self)
        }
    }
}

extension PostgresBindings {
    /// The hold functions' last parameters: the `reservation.held` outbox row (its aggregate is
    /// the hold, whose ID the function has already).
    fileprivate mutating func appendHoldEvent(_ event: Outbox.Row) {
        append(event.id)
        append(event.eventType)
        append(event.aggregateType)
        append(event.payload)
        append(event.occurredAt)
    }
}
