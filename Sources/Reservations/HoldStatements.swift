import Foundation
import Messaging
import PostgresNIO

/// The hold's statements on PostgreSQL, prepared once per connection: one call to a hold
/// function, which commits on its own.
///
/// At an on-sale these run thousands of times a second; as unnamed statements PostgreSQL
/// planned each one every time, and planning was a quarter of its CPU per hold
/// (Benchmarks/README.md). Seat lists are one array parameter, so each statement has one text
/// whatever the number of seats. SQLite holds in a transaction of portable statements.
enum HoldStatements {
    /// A seat hold, whole, in one round trip that commits on its own (see
    /// `ReservationService.holdSeatsAnsweringWhyFunction`): `held` rows, or why not.
    struct HoldSeatsInOneCall: PostgresPreparedStatement {
        static let sql = """
            SELECT outcome, held_until, held_seat_id, held_label, held_tier, rule_limit, rule_fan_has, rule_opens_at
            FROM reservations_hold_seats($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """
        typealias Row = (
            outcome: String, heldUntil: Date?, seatID: String?, label: String?, tier: String?, limit: Int?, fanHas: Int?, opensAt: Date?
        )
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
            let (outcome, heldUntil, seatID, label, tier, limit, fanHas, opensAt) =
                try row.decode((String, Date?, String?, String?, String?, Int32?, Int32?, Date?).self)
            return (outcome, heldUntil, seatID, label, tier, limit.map(Int.init), fanHas.map(Int.init), opensAt)
        }
    }

    /// A general-admission hold, whole, in one round trip that commits on its own (see
    /// `ReservationService.holdUnitsAnsweringWhyFunction`): one row, `held` or why not.
    struct HoldUnitsInOneCall: PostgresPreparedStatement {
        static let sql = """
            SELECT outcome, held_until, units_left, rule_limit, rule_fan_has, rule_opens_at
            FROM reservations_hold_units($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """
        typealias Row = (outcome: String, heldUntil: Date?, unitsLeft: Int?, limit: Int?, fanHas: Int?, opensAt: Date?)
        let holdID: String
        let performanceID: String
        let fanID: String
        let tier: String
        let quantity: Int32
        let now: Date
        let fanLockClass: Int32
        let event: Outbox.Row

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 12)
            bindings.append(holdID)
            bindings.append(performanceID)
            bindings.append(fanID)
            bindings.append(tier)
            bindings.append(quantity)
            bindings.append(now)
            bindings.append(fanLockClass)
            bindings.appendHoldEvent(event)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            let (outcome, heldUntil, unitsLeft, limit, fanHas, opensAt) = try row.decode((String, Date?, Int?, Int32?, Int32?, Date?).self)
            return (outcome, heldUntil, unitsLeft, limit.map(Int.init), fanHas.map(Int.init), opensAt)
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
