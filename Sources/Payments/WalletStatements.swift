import BoxofficeKit
import Foundation
import Messaging
import PostgresNIO

/// The wallet purchase's statement on PostgreSQL, prepared once per connection. SQLite runs
/// the same writes one statement at a time (`PaymentService.payWithWallet`).
enum WalletStatements {
    /// Debits the wallet only if it covers the amount and, only then, appends the ledger entry,
    /// records the payment and writes `payment.completed`. Answers the balance left, or no row
    /// when the wallet could not pay (nothing was written).
    struct PayFromWallet: PostgresPreparedStatement {
        static let sql = """
            WITH debited AS (
                UPDATE wallets SET balance = balance - $5, updated_at = $6
                WHERE user_id = $3 AND balance >= $5
                RETURNING balance
            ), entry AS (
                INSERT INTO wallet_ledger (id, user_id, amount, currency, balance_after, reason, order_id, payment_id, note, created_at)
                SELECT $2, $3, -$5, $7, balance, 'purchase', $4, $1, NULL, $6 FROM debited
            ), payment AS (
                INSERT INTO payments (id, user_id, order_id, purpose, method, amount, currency, refunded, status, created_at, paid_at)
                SELECT $1, $3, $4, 'order', 'wallet', $5, $7, 0, 'paid', $6, $6 FROM debited
            ), event AS (
                INSERT INTO outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
                SELECT $8, $9, $10, $11, $12, $13, 0 FROM debited
            )
            SELECT balance FROM debited
            """
        typealias Row = Int64
        let paymentID: String
        let entryID: String
        let userID: String
        let orderID: String
        let amount: Int64
        let now: Date
        let event: Outbox.Row

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 13)
            bindings.append(paymentID)
            bindings.append(entryID)
            bindings.append(userID)
            bindings.append(orderID)
            bindings.append(amount)
            bindings.append(now)
            bindings.append(PaymentService.walletCurrency.rawValue)
            bindings.append(event.id)
            bindings.append(event.eventType)
            bindings.append(event.aggregateType)
            bindings.append(event.aggregateID)
            bindings.append(event.payload)
            bindings.append(event.occurredAt)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            try row.decode(Int64.self)
        }
    }
}
