import BoxofficeKit
import Foundation
import HTTPKit
import Logging
import Messaging
import Persistence
import SQLKit

/// Money: wallets (prepaid points) with an append-only ledger, payments and refunds.
///
/// A wallet's balance can never go below zero (a conditional update, backed by a CHECK) and
/// always equals the sum of its ledger, because both change in one statement pair inside one
/// transaction. Checkout composes the in-transaction operations below with ticket issuing, so
/// a wallet purchase is one ACID transaction from debit to tickets.
public final class PaymentService: Sendable {
    let database: Database
    let outbox: Outbox
    public let gateway: any PaymentGateway
    let clock: any WallClock
    let ids: IDGenerator
    let logger: Logger
    /// Wallets hold points in one currency.
    public static let walletCurrency = Currency.krw
    /// The most one grant or top-up may add, against typos that add three zeros.
    public static let maximumCredit: Int64 = 10_000_000

    public init(database: Database, outbox: Outbox, gateway: any PaymentGateway, clock: any WallClock, logger: Logger) {
        self.database = database
        self.outbox = outbox
        self.gateway = gateway
        self.clock = clock
        self.ids = IDGenerator(clock: clock)
        self.logger = logger
    }

    /// Webhook deliveries are remembered `retention` seconds to drop repeats; a gateway stops
    /// retrying long before, and a repeat after that finds its payment settled anyway.
    public func retentionRules(retention: TimeInterval) -> [RetentionRule] {
        [
            RetentionRule(name: "payment_webhooks") { [database] now, limit in
                try await database.pruneBatch(
                    table: "payment_webhooks", key: ["provider", "webhook_id"], timeColumn: "received_at",
                    olderThan: now.addingTimeInterval(-retention), limit: limit)
            },
        ]
    }

    // MARK: Wallet

    public func balance(userID: String) async throws -> WalletBalance {
        let amount = try await database.read { sql in
            try await sql.raw("SELECT balance FROM wallets WHERE user_id = \(bind: userID)").first()?.decode(column: "balance", as: Int64.self)
        }
        return WalletBalance(balance: Money(amount: amount ?? 0, currency: Self.walletCurrency))
    }

    /// The wallet's movements, newest first.
    public func ledger(userID: String, page: PageRequest) async throws -> Page<LedgerEntry> {
        let after = try page.cursor.map { try Cursor.decode($0, as: String.self) }
        let rows = try await database.read { sql in
            var query: SQLQueryString = """
                SELECT id, amount, currency, reason, order_id, payment_id, note, balance_after, created_at
                FROM wallet_ledger WHERE user_id = \(bind: userID)
                """
            if let after { query += " AND id < \(bind: after)" }
            query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
            return try await sql.raw(query).all().map(Self.entry)
        }
        return Page(rows: rows, request: page) { Cursor.encode($0.id) }
    }

    /// An administrator adds points to a wallet (a goodwill credit, a cash payment at the box
    /// office). Returns the HTTP status and body of the ledger entry, which a retry with the
    /// same `idempotencyKey` gets back instead of a second credit.
    public func grant(
        to userID: String, amount: Int64, note: String, idempotencyKey: String, by admin: Principal
    ) async throws -> (status: Int, body: String) {
        try admin.require(anyOf: .admin)
        var errors: [Problem.FieldError] = []
        if !(1...Self.maximumCredit).contains(amount) { errors.append(.init(field: "amount", message: "must be from 1 to \(Self.maximumCredit)")) }
        let note = note.trimmingCharacters(in: .whitespacesAndNewlines)
        if note.isEmpty || note.count > 500 { errors.append(.init(field: "reason", message: "must be 1 to 500 characters")) }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        let scope = "grant/\(admin.userID)"
        let request = GrantFingerprint(userId: userID, amount: amount, note: note)
        let now = clock.now()
        let result = try await database.withTransaction { transaction -> (status: Int, body: String, replayed: Bool) in
            if let replay = try await IdempotencyKeys.claim(scope: scope, key: idempotencyKey, request: request, now: now, in: transaction) {
                return (replay.status, replay.body, true)
            }
            let entry = try await self.credit(
                userID: userID, amount: amount, reason: "grant", orderID: nil, paymentID: nil, note: note, in: transaction)
            let body = String(decoding: try JSONCoding.encoder.encode(entry), as: UTF8.self)
            try await IdempotencyKeys.record(scope: scope, key: idempotencyKey, status: 201, body: body, in: transaction)
            return (201, body, false)
        }
        if !result.replayed {
            logger.notice("wallet grant", metadata: ["user_id": .string(userID), "amount": .stringConvertible(amount), "by": .string(admin.userID)])
        }
        return (result.status, result.body)
    }

    /// What makes two grants "the same" for their Idempotency-Key.
    private struct GrantFingerprint: Encodable {
        let userId: String
        let amount: Int64
        let note: String
    }

    /// Adds to a wallet inside `transaction` and records why.
    public func credit(
        userID: String, amount: Int64, reason: String, orderID: String?, paymentID: String?, note: String?,
        in transaction: DatabaseTransaction
    ) async throws -> LedgerEntry {
        let now = clock.now()
        guard let balance = try await transaction.sql.raw("""
            INSERT INTO wallets (user_id, currency, balance, updated_at)
            VALUES (\(bind: userID), \(bind: Self.walletCurrency.rawValue), \(bind: amount), \(bind: now))
            ON CONFLICT (user_id) DO UPDATE SET balance = wallets.balance + excluded.balance, updated_at = excluded.updated_at
            RETURNING balance
            """).first()?.decode(column: "balance", as: Int64.self)
        else { throw Problem.internalError() }
        let entry = try await appendEntry(
            userID: userID, amount: amount, balanceAfter: balance, reason: reason, orderID: orderID, paymentID: paymentID, note: note,
            at: now, in: transaction)
        try await outbox.publish(
            WalletCredited(userId: userID, entryId: entry.id, amount: entry.amount, reason: reason), in: transaction)
        return entry
    }

    /// Takes from a wallet inside `transaction`; a 402 problem (and nothing changed) when the
    /// balance is short.
    private func debit(
        userID: String, amount: Int64, reason: String, orderID: String?, paymentID: String?, in transaction: DatabaseTransaction
    ) async throws -> LedgerEntry {
        let now = clock.now()
        guard let balance = try await transaction.sql.raw("""
            UPDATE wallets SET balance = balance - \(bind: amount), updated_at = \(bind: now)
            WHERE user_id = \(bind: userID) AND balance >= \(bind: amount)
            RETURNING balance
            """).first()?.decode(column: "balance", as: Int64.self)
        else { throw try await insufficientFunds(userID: userID, required: amount, in: transaction) }
        return try await appendEntry(
            userID: userID, amount: -amount, balanceAfter: balance, reason: reason, orderID: orderID, paymentID: paymentID, note: nil,
            at: now, in: transaction)
    }

    /// The 402 for a debit the wallet cannot cover, with what it holds.
    private func insufficientFunds(userID: String, required amount: Int64, in transaction: DatabaseTransaction) async throws -> Problem {
        let current = try await transaction.sql.raw("SELECT balance FROM wallets WHERE user_id = \(bind: userID)").first()?
            .decode(column: "balance", as: Int64.self) ?? 0
        return Problem(
            type: Problem.typeURI("insufficient-funds"), title: "Not enough points in the wallet.", status: 402,
            detail: "This costs \(amount) but the wallet holds \(current); nothing was charged. Top up and try again.",
            extensions: ["balance": .int(Int(current)), "required": .int(Int(amount))])
    }

    private func appendEntry(
        userID: String, amount: Int64, balanceAfter: Int64, reason: String, orderID: String?, paymentID: String?, note: String?,
        at now: Date, in transaction: DatabaseTransaction
    ) async throws -> LedgerEntry {
        let id = ids.next()
        try await transaction.sql.raw("""
            INSERT INTO wallet_ledger (id, user_id, amount, currency, balance_after, reason, order_id, payment_id, note, created_at)
            VALUES (\(bind: id), \(bind: userID), \(bind: amount), \(bind: Self.walletCurrency.rawValue), \(bind: balanceAfter),
                    \(bind: reason), \(bind: orderID), \(bind: paymentID), \(bind: note), \(bind: now))
            """).run()
        return LedgerEntry(
            id: id, amount: Money(amount: amount, currency: Self.walletCurrency), reason: reason, orderId: orderID, paymentId: paymentID,
            note: note, balanceAfter: Money(amount: balanceAfter, currency: Self.walletCurrency), createdAt: now)
    }

    // MARK: Paying and refunding (inside checkout's transaction)

    /// Pays `amount` for an order from the fan's wallet: the debit, the payment record and
    /// `payment.completed`, in the caller's transaction.
    public func payWithWallet(
        userID: String, amount: Money, orderID: String, in transaction: DatabaseTransaction
    ) async throws -> Payment {
        guard amount.currency == Self.walletCurrency else {
            throw Problem.validation([.init(field: "method", message: "the wallet pays only in \(Self.walletCurrency.rawValue)")])
        }
        let now = clock.now()
        let paymentID = ids.next()
        let completed = PaymentCompleted(paymentId: paymentID, orderId: orderID, userId: userID, purpose: "order", method: "wallet", amount: amount)
        if transaction.dialect == .postgres, amount.amount > 0 {
            // The debit, its ledger entry, the payment and its event: one round trip.
            let debited = try await transaction.execute(WalletStatements.PayFromWallet(
                paymentID: paymentID, entryID: ids.next(), userID: userID, orderID: orderID, amount: amount.amount, now: now,
                event: try outbox.row(for: completed, in: transaction)))
            if debited.isEmpty { throw try await insufficientFunds(userID: userID, required: amount.amount, in: transaction) }
        } else {
            if amount.amount > 0 {
                _ = try await debit(userID: userID, amount: amount.amount, reason: "purchase", orderID: orderID, paymentID: paymentID, in: transaction)
            }
            try await transaction.sql.raw("""
                INSERT INTO payments (id, user_id, order_id, purpose, method, amount, currency, refunded, status, created_at, paid_at)
                VALUES (\(bind: paymentID), \(bind: userID), \(bind: orderID), 'order', 'wallet', \(bind: amount.amount),
                        \(bind: amount.currency.rawValue), 0, 'paid', \(bind: now), \(bind: now))
                """).run()
            try await outbox.publish(completed, in: transaction)
        }
        return Payment(
            id: paymentID, orderId: orderID, purpose: "order", method: "wallet", amount: amount, refunded: .zero(amount.currency),
            status: "paid", failure: nil, createdAt: now, paidAt: now)
    }

    /// Gives `amount` of an order's payments back the way it came, in the caller's transaction.
    /// Wallet payments are credited back at once. Never refunds more than was paid.
    public func refund(orderID: String, amount: Int64, reason: String, in transaction: DatabaseTransaction) async throws -> [Refund] {
        guard amount > 0 else { return [] }
        let now = clock.now()
        let payments = try await transaction.sql.raw("""
            SELECT id, user_id, method, amount, currency, refunded FROM payments
            WHERE order_id = \(bind: orderID) AND status IN ('paid', 'refunded') ORDER BY id
            """).all()
        var remaining = amount
        var refunds: [Refund] = []
        for payment in payments where remaining > 0 {
            let paymentID = try payment.decode(column: "id", as: String.self)
            let refundable = try payment.decode(column: "amount", as: Int64.self) - (try payment.decode(column: "refunded", as: Int64.self))
            let share = min(remaining, refundable)
            guard share > 0 else { continue }
            let method = try payment.decode(column: "method", as: String.self)
            let userID = try payment.decode(column: "user_id", as: String.self)
            let currency = Currency(rawValue: try payment.decode(column: "currency", as: String.self)) ?? Self.walletCurrency
            let updated = try await transaction.sql.raw("""
                UPDATE payments SET refunded = refunded + \(bind: share),
                    status = CASE WHEN refunded + \(bind: share) = amount THEN 'refunded' ELSE status END
                WHERE id = \(bind: paymentID) AND refunded + \(bind: share) <= amount
                RETURNING id
                """).all()
            guard updated.count == 1 else { throw Problem.conflict(detail: "The payment changed meanwhile; try again.") }
            let money = Money(amount: share, currency: currency)
            // The wallet is credited in this transaction; a gateway refund is recorded here and
            // carried out by the relay (GatewayRefunds), which retries until the gateway confirms.
            if method == "wallet" {
                let refundID = ids.next()
                _ = try await credit(
                    userID: userID, amount: share, reason: "refund", orderID: orderID, paymentID: paymentID, note: reason, in: transaction)
                try await transaction.sql.raw("""
                    INSERT INTO refunds (id, payment_id, order_id, amount, currency, reason, method, status, created_at, completed_at)
                    VALUES (\(bind: refundID), \(bind: paymentID), \(bind: orderID), \(bind: share), \(bind: currency.rawValue),
                            \(bind: reason), 'wallet', 'completed', \(bind: now), \(bind: now))
                    """).run()
                try await outbox.publish(
                    PaymentRefunded(
                        refundId: refundID, paymentId: paymentID, orderId: orderID, userId: userID, method: method, amount: money, reason: reason),
                    in: transaction)
                refunds.append(Refund(
                    id: refundID, paymentId: paymentID, orderId: orderID, amount: money, reason: reason, method: method, status: "completed",
                    createdAt: now))
            } else {
                refunds.append(try await requestGatewayRefund(
                    paymentID: paymentID, orderID: orderID, amount: money, cancellableBefore: refundable, reason: reason, in: transaction))
            }
            remaining -= share
        }
        guard remaining == 0 else { throw Problem.conflict(detail: "More was asked back than was paid.", slug: "refund-exceeds-payment") }
        return refunds
    }

    /// An order's payments and refunds, for order details.
    public func money(forOrder orderID: String, in sql: any SQLDatabase) async throws -> (payments: [Payment], refunds: [Refund]) {
        let payments = try await sql.raw("""
            SELECT \(unsafeRaw: Self.paymentColumns) FROM payments WHERE order_id = \(bind: orderID) ORDER BY id
            """).all().map(Self.payment)
        let refunds = try await sql.raw("""
            SELECT id, payment_id, order_id, amount, currency, reason, method, status, created_at FROM refunds
            WHERE order_id = \(bind: orderID) ORDER BY id
            """).all().map { row in
                Refund(
                    id: try row.decode(column: "id", as: String.self), paymentId: try row.decode(column: "payment_id", as: String.self),
                    orderId: try row.decode(column: "order_id", as: String?.self),
                    amount: try row.decodeMoney("amount", currency: "currency"),
                    reason: try row.decode(column: "reason", as: String.self), method: try row.decode(column: "method", as: String.self),
                    status: try row.decode(column: "status", as: String.self), createdAt: try row.decode(column: "created_at", as: Date.self))
            }
        return (payments, refunds)
    }

    static let paymentColumns = "id, order_id, purpose, method, amount, currency, refunded, status, failure, created_at, paid_at"

    static func payment(_ row: any SQLRow) throws -> Payment {
        let currency = Currency(rawValue: try row.decode(column: "currency", as: String.self)) ?? walletCurrency
        return Payment(
            id: try row.decode(column: "id", as: String.self), orderId: try row.decode(column: "order_id", as: String?.self),
            purpose: try row.decode(column: "purpose", as: String.self), method: try row.decode(column: "method", as: String.self),
            amount: Money(amount: try row.decode(column: "amount", as: Int64.self), currency: currency),
            refunded: Money(amount: try row.decode(column: "refunded", as: Int64.self), currency: currency),
            status: try row.decode(column: "status", as: String.self), failure: try row.decode(column: "failure", as: String?.self),
            createdAt: try row.decode(column: "created_at", as: Date.self), paidAt: try row.decode(column: "paid_at", as: Date?.self))
    }

    private static func entry(_ row: any SQLRow) throws -> LedgerEntry {
        let currency = Currency(rawValue: try row.decode(column: "currency", as: String.self)) ?? walletCurrency
        return LedgerEntry(
            id: try row.decode(column: "id", as: String.self),
            amount: Money(amount: try row.decode(column: "amount", as: Int64.self), currency: currency),
            reason: try row.decode(column: "reason", as: String.self), orderId: try row.decode(column: "order_id", as: String?.self),
            paymentId: try row.decode(column: "payment_id", as: String?.self), note: try row.decode(column: "note", as: String?.self),
            balanceAfter: Money(amount: try row.decode(column: "balance_after", as: Int64.self), currency: currency),
            createdAt: try row.decode(column: "created_at", as: Date.self))
    }
}
