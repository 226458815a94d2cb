import BoxofficeKit
import Foundation
import Persistence
import PostgresNIO
import Reservations
import SQLKit

/// Writing a new order: its row, its items (one per ticket) and its first history entry. On
/// PostgreSQL one prepared statement; SQLite runs the same writes one by one.
enum OrderStatements {
    /// What a checkout writes for a new order.
    struct Draft: Sendable {
        let id: String
        let hold: PricedHold
        let method: String
        let status: String
        let tickets: [Ticket]
        let historyID: String
        let note: String
        let at: Date
    }

    /// Inserts the order only when the hold has no live order (one not `payment_failed`), and
    /// its items and history with it. Answers 1 when it opened the order, 0 when another was live.
    struct OpenOrder: PostgresPreparedStatement {
        static let sql = """
            WITH new_order AS (
                INSERT INTO orders (id, fan_id, hold_id, performance_id, method, status, total_amount, refunded_amount, currency,
                                    created_at, updated_at)
                SELECT $1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $9
                WHERE NOT EXISTS (SELECT 1 FROM orders WHERE hold_id = $3 AND status <> 'payment_failed')
                RETURNING id
            ), items AS (
                INSERT INTO order_items (order_id, ticket_id, seat_id, seat_label, tier, price_amount, currency, status)
                SELECT $1, t.ticket_id, NULLIF(t.seat_id, ''), NULLIF(t.label, ''), t.tier, t.amount, t.currency, 'active'
                FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::text[])
                     AS t(ticket_id, seat_id, label, tier, amount, currency)
                WHERE EXISTS (SELECT 1 FROM new_order)
            ), history AS (
                INSERT INTO order_history (id, order_id, status, note, at) SELECT $16, $1, $6, $17, $9 FROM new_order
            )
            SELECT (SELECT COUNT(*) FROM new_order)::int AS opened
            """
        typealias Row = Int
        let draft: Draft

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 17)
            bindings.append(draft.id)
            bindings.append(draft.hold.fanID)
            bindings.append(draft.hold.holdID)
            bindings.append(draft.hold.performanceID)
            bindings.append(draft.method)
            bindings.append(draft.status)
            bindings.append(draft.hold.total.amount)
            bindings.append(draft.hold.total.currency.rawValue)
            bindings.append(draft.at)
            // Unnested column by column; '' stands for "no seat" (standing), NULL in the row.
            bindings.append(draft.tickets.map(\.id))
            bindings.append(draft.tickets.map { $0.seat?.id ?? "" })
            bindings.append(draft.tickets.map { $0.seat?.label ?? "" })
            bindings.append(draft.tickets.map(\.tier))
            bindings.append(draft.tickets.map(\.price.amount))
            bindings.append(draft.tickets.map(\.price.currency.rawValue))
            bindings.append(draft.historyID)
            bindings.append(draft.note)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            Int(try row.decode(Int32.self))
        }
    }

    /// The same writes as `OpenOrder`, statement by statement (SQLite, inside its one writer):
    /// false, having written nothing, when the hold has a live order.
    static func open(_ draft: Draft, in transaction: DatabaseTransaction) async throws -> Bool {
        let hold = draft.hold
        let opened = try await transaction.sql.raw("""
            INSERT INTO orders (id, fan_id, hold_id, performance_id, method, status, total_amount, refunded_amount, currency,
                                created_at, updated_at)
            SELECT \(bind: draft.id), \(bind: hold.fanID), \(bind: hold.holdID), \(bind: hold.performanceID), \(bind: draft.method),
                   \(bind: draft.status), \(bind: hold.total.amount), 0, \(bind: hold.total.currency.rawValue), \(bind: draft.at), \(bind: draft.at)
            WHERE NOT EXISTS (SELECT 1 FROM orders WHERE hold_id = \(bind: hold.holdID) AND status <> 'payment_failed')
            RETURNING id
            """).first() != nil
        guard opened else { return false }
        try await insertItems(orderID: draft.id, tickets: draft.tickets, in: transaction)
        try await transaction.sql.raw("""
            INSERT INTO order_history (id, order_id, status, note, at)
            VALUES (\(bind: draft.historyID), \(bind: draft.id), \(bind: draft.status), \(bind: draft.note), \(bind: draft.at))
            """).run()
        return true
    }

    /// One item per ticket (none for an order still waiting for its payment).
    static func insertItems(orderID: String, tickets: [Ticket], in transaction: DatabaseTransaction) async throws {
        guard !tickets.isEmpty else { return }
        var items: SQLQueryString = ""
        for (index, ticket) in tickets.enumerated() {
            if index > 0 { items += ", " }
            items += """
                (\(bind: orderID), \(bind: ticket.id), \(bind: ticket.seat?.id), \(bind: ticket.seat?.label), \(bind: ticket.tier),
                 \(bind: ticket.price.amount), \(bind: ticket.price.currency.rawValue), 'active')
                """
        }
        try await transaction.sql.raw("""
            INSERT INTO order_items (order_id, ticket_id, seat_id, seat_label, tier, price_amount, currency, status) VALUES \(items)
            """).run()
    }
}
