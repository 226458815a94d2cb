import Persistence

extension PaymentService {
    /// Wallets, their ledger, payments and refunds.
    public static let migrations = MigrationGroup(module: "payments", migrations: [
        Migration("0001_create_wallets_and_payments") { dialect in
            let money = dialect == .postgres ? "BIGINT" : "INTEGER"
            var statements = [
                """
                CREATE TABLE wallets (
                    user_id TEXT PRIMARY KEY,
                    currency TEXT NOT NULL,
                    -- The sum of the user's ledger, kept in the same transaction as each entry.
                    balance \(money) NOT NULL CHECK (balance >= 0),
                    updated_at TIMESTAMPTZ NOT NULL
                )
                """,
                """
                CREATE TABLE wallet_ledger (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL,
                    amount \(money) NOT NULL,
                    currency TEXT NOT NULL,
                    balance_after \(money) NOT NULL CHECK (balance_after >= 0),
                    -- topup, grant, purchase or refund.
                    reason TEXT NOT NULL,
                    order_id TEXT,
                    payment_id TEXT,
                    note TEXT,
                    created_at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX wallet_ledger_user ON wallet_ledger (user_id, id)",
                """
                CREATE TABLE payments (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL,
                    order_id TEXT,
                    -- order or topup.
                    purpose TEXT NOT NULL,
                    -- wallet or gateway, and for a gateway which one.
                    method TEXT NOT NULL,
                    provider TEXT,
                    amount \(money) NOT NULL CHECK (amount >= 0),
                    currency TEXT NOT NULL,
                    refunded \(money) NOT NULL DEFAULT 0,
                    -- pending, paid, failed or refunded.
                    status TEXT NOT NULL,
                    failure TEXT,
                    created_at TIMESTAMPTZ NOT NULL,
                    paid_at TIMESTAMPTZ,
                    CHECK (refunded >= 0 AND refunded <= amount)
                )
                """,
                "CREATE INDEX payments_order ON payments (order_id)",
                """
                CREATE TABLE refunds (
                    id TEXT PRIMARY KEY,
                    payment_id TEXT NOT NULL REFERENCES payments (id),
                    order_id TEXT,
                    amount \(money) NOT NULL CHECK (amount > 0),
                    currency TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    method TEXT NOT NULL,
                    -- pending (a gateway refund not yet confirmed) or completed.
                    status TEXT NOT NULL,
                    created_at TIMESTAMPTZ NOT NULL,
                    completed_at TIMESTAMPTZ
                )
                """,
                "CREATE INDEX refunds_order ON refunds (order_id)",
                """
                CREATE TABLE payment_webhooks (
                    provider TEXT NOT NULL,
                    webhook_id TEXT NOT NULL,
                    payment_id TEXT NOT NULL,
                    received_at TIMESTAMPTZ NOT NULL,
                    PRIMARY KEY (provider, webhook_id)
                )
                """,
            ]
            // The ledger is append-only in the database too: an UPDATE or DELETE fails whatever
            // the code above it does.
            if dialect == .postgres {
                statements += [
                    """
                    CREATE FUNCTION wallet_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'wallet_ledger is append-only'; END $$
                    """,
                    """
                    CREATE TRIGGER wallet_ledger_append_only BEFORE UPDATE OR DELETE ON wallet_ledger
                    FOR EACH ROW EXECUTE FUNCTION wallet_ledger_append_only()
                    """,
                ]
            } else {
                statements += [
                    "CREATE TRIGGER wallet_ledger_no_update BEFORE UPDATE ON wallet_ledger BEGIN SELECT RAISE(ABORT, 'wallet_ledger is append-only'); END",
                    "CREATE TRIGGER wallet_ledger_no_delete BEFORE DELETE ON wallet_ledger BEGIN SELECT RAISE(ABORT, 'wallet_ledger is append-only'); END",
                ]
            }
            return statements
        },
        // What the gateway can still give back before each gateway refund, sent with the cancel
        // so a retried cancel is refused instead of refunding twice.
        Migration("0002_refunds_cancellable_before") { dialect in
            ["ALTER TABLE refunds ADD COLUMN cancellable_before \(dialect == .postgres ? "BIGINT" : "INTEGER")"]
        },
        // The retention job forgets old webhook deliveries, oldest first.
        Migration("0003_index_payment_webhooks_by_time", sql: [
            "CREATE INDEX payment_webhooks_received ON payment_webhooks (received_at)",
        ]),
    ])
}
