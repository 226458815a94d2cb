import BoxofficeKit
import Foundation
import Messaging
import PostgresNIO

/// The purchase path's statements on PostgreSQL, prepared once per connection (as the hold's
/// are, `HoldStatements`). SQLite runs the same writes one statement at a time.
enum PurchaseStatements {
    /// Turns a paid hold into tickets in one round trip: confirms the hold (still active and
    /// unexpired), sells its seats by key, and — only when both succeeded whole — inserts the
    /// tickets and `reservation.confirmed`. Answers how many holds were confirmed (0 or 1) and
    /// seats sold; the caller refuses anything short, and its transaction then undoes the rest.
    struct ConfirmHold: PostgresPreparedStatement {
        static let sql = """
            WITH confirmed AS (
                UPDATE holds SET status = 'confirmed', order_id = $2, ended_at = $3
                WHERE id = $1 AND status = 'active' AND expires_at > $3
                RETURNING id
            ), sold AS (
                UPDATE performance_seats SET state = 'sold'
                WHERE performance_id = $4 AND seat_id = ANY($5) AND hold_id = $1 AND state = 'held'
                  AND EXISTS (SELECT 1 FROM confirmed)
                RETURNING seat_id
            ), complete AS (
                SELECT 1 FROM confirmed WHERE (SELECT COUNT(*) FROM sold) = cardinality($5::text[])
            ), issued AS (
                INSERT INTO tickets (id, performance_id, hold_id, order_id, purchaser_id, holder_id, seat_id, seat_label, tier,
                                     price_amount, price_currency, status, code_version, issued_at)
                SELECT t.id, $4, $1, $2, $6, $6, NULLIF(t.seat_id, ''), NULLIF(t.label, ''), t.tier, t.amount, t.currency, 'valid', 1, $3
                FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[])
                     AS t(id, seat_id, label, tier, amount, currency)
                WHERE EXISTS (SELECT 1 FROM complete)
            ), event AS (
                INSERT INTO outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
                SELECT $13, $14, $15, $16, $17, $18, 0 FROM complete
            )
            SELECT (SELECT COUNT(*) FROM confirmed)::int AS confirmed, (SELECT COUNT(*) FROM sold)::int AS sold
            """
        typealias Row = (confirmed: Int, sold: Int)
        let hold: PricedHold
        let orderID: String
        let seatIDs: [String]
        let tickets: [Ticket]
        let now: Date
        let event: Outbox.Row

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 18)
            bindings.append(hold.holdID)
            bindings.append(orderID)
            bindings.append(now)
            bindings.append(hold.performanceID)
            bindings.append(seatIDs)
            bindings.append(hold.fanID)
            // Unnested column by column; '' stands for "no seat" (standing), NULL in the row.
            bindings.append(tickets.map(\.id))
            bindings.append(tickets.map { $0.seat?.id ?? "" })
            bindings.append(tickets.map { $0.seat?.label ?? "" })
            bindings.append(tickets.map(\.tier))
            bindings.append(tickets.map(\.price.amount))
            bindings.append(tickets.map(\.price.currency.rawValue))
            bindings.append(event.id)
            bindings.append(event.eventType)
            bindings.append(event.aggregateType)
            bindings.append(event.aggregateID)
            bindings.append(event.payload)
            bindings.append(event.occurredAt)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            let (confirmed, sold) = try row.decode((Int32, Int32).self)
            return (Int(confirmed), Int(sold))
        }
    }
}
