import Persistence

extension ReservationService {
    /// Who holds what: per-performance inventory, holds and their seats.
    public static let migrations = MigrationGroup(module: "reservations", migrations: [
        Migration("0001_create_inventory_and_holds") { dialect in
            let flag = dialect == .postgres ? "BOOLEAN NOT NULL" : "INTEGER NOT NULL"
            let isActive = dialect == .postgres ? "active" : "active = 1"
            return [
                """
                CREATE TABLE sale_performances (
                    performance_id TEXT PRIMARY KEY,
                    event_id TEXT NOT NULL,
                    seating TEXT NOT NULL,
                    on_sale_from TIMESTAMPTZ NOT NULL,
                    on_sale_until TIMESTAMPTZ NOT NULL,
                    hold_minutes INTEGER NOT NULL,
                    max_seats_per_order INTEGER NOT NULL,
                    max_seats_per_fan INTEGER NOT NULL,
                    -- on_sale or cancelled.
                    status TEXT NOT NULL
                )
                """,
                """
                CREATE TABLE performance_seats (
                    performance_id TEXT NOT NULL,
                    seat_id TEXT NOT NULL,
                    label TEXT NOT NULL,
                    tier TEXT NOT NULL,
                    -- available, held or sold.
                    state TEXT NOT NULL,
                    hold_id TEXT,
                    PRIMARY KEY (performance_id, seat_id)
                )
                """,
                """
                CREATE TABLE ga_tiers (
                    performance_id TEXT NOT NULL,
                    tier TEXT NOT NULL,
                    quota INTEGER NOT NULL,
                    PRIMARY KEY (performance_id, tier)
                )
                """,
                """
                CREATE TABLE holds (
                    id TEXT PRIMARY KEY,
                    performance_id TEXT NOT NULL,
                    fan_id TEXT NOT NULL,
                    -- General admission: the tier; reserved seating: null (the seats say).
                    tier TEXT,
                    quantity INTEGER NOT NULL,
                    -- active, released, expired or confirmed.
                    status TEXT NOT NULL,
                    expires_at TIMESTAMPTZ NOT NULL,
                    created_at TIMESTAMPTZ NOT NULL,
                    ended_at TIMESTAMPTZ
                )
                """,
                "CREATE INDEX holds_due ON holds (expires_at) WHERE status = 'active'",
                "CREATE INDEX holds_fan ON holds (performance_id, fan_id, status)",
                "CREATE INDEX holds_tier ON holds (performance_id, tier, status)",
                """
                CREATE TABLE hold_items (
                    hold_id TEXT NOT NULL REFERENCES holds (id),
                    performance_id TEXT NOT NULL,
                    seat_id TEXT NOT NULL,
                    active \(flag),
                    PRIMARY KEY (hold_id, seat_id)
                )
                """,
                // The last guard: whatever the code above it does, no seat is in two active holds.
                "CREATE UNIQUE INDEX hold_items_one_active_per_seat ON hold_items (performance_id, seat_id) WHERE \(isActive)",
            ]
        },
        Migration("0002_create_availability_read_model", sql: [
            // What fans see of a performance: kept by AvailabilityProjection from reservation
            // events, never written by the hold path, so reads cost the sale nothing.
            """
            CREATE TABLE availability_seats (
                performance_id TEXT NOT NULL,
                seat_id TEXT NOT NULL,
                label TEXT NOT NULL,
                section TEXT NOT NULL,
                row_label TEXT NOT NULL,
                x DOUBLE PRECISION NOT NULL,
                y DOUBLE PRECISION NOT NULL,
                tier TEXT NOT NULL,
                state TEXT NOT NULL,
                hold_id TEXT,
                PRIMARY KEY (performance_id, seat_id)
            )
            """,
            """
            CREATE TABLE availability_tiers (
                performance_id TEXT NOT NULL,
                tier TEXT NOT NULL,
                price_amount BIGINT NOT NULL,
                price_currency TEXT NOT NULL,
                capacity INTEGER NOT NULL,
                held INTEGER NOT NULL DEFAULT 0,
                sold INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (performance_id, tier)
            )
            """,
        ]),
        // Only general-admission holds have a tier. As a full index it competed with holds_fan
        // for the per-fan count and, with statistics not yet gathered on a fresh on-sale, won:
        // that count then read every hold of the performance.
        Migration("0003_tier_index_only_for_general_admission", sql: [
            "DROP INDEX holds_tier",
            "CREATE INDEX holds_tier ON holds (performance_id, tier, status) WHERE tier IS NOT NULL",
        ]),
        Migration("0004_create_tickets") { dialect in
            let money = dialect == .postgres ? "BIGINT" : "INTEGER"
            return [
                // What a performance costs and when it may be refunded, from performance.scheduled.
                "ALTER TABLE sale_performances ADD COLUMN starts_at TIMESTAMPTZ",
                "ALTER TABLE sale_performances ADD COLUMN refund_cutoff_hours INTEGER NOT NULL DEFAULT 24",
                "ALTER TABLE sale_performances ADD COLUMN cancellation_fee_percent INTEGER NOT NULL DEFAULT 0",
                """
                CREATE TABLE sale_prices (
                    performance_id TEXT NOT NULL,
                    tier TEXT NOT NULL,
                    amount \(money) NOT NULL,
                    currency TEXT NOT NULL,
                    PRIMARY KEY (performance_id, tier)
                )
                """,
                """
                INSERT INTO sale_prices (performance_id, tier, amount, currency)
                SELECT performance_id, tier, price_amount, price_currency FROM availability_tiers
                """,
                "ALTER TABLE holds ADD COLUMN order_id TEXT",
                """
                CREATE TABLE tickets (
                    id TEXT PRIMARY KEY,
                    performance_id TEXT NOT NULL,
                    hold_id TEXT NOT NULL REFERENCES holds (id),
                    order_id TEXT NOT NULL,
                    -- Who bought it (counts against the per-fan limit) and who holds it now.
                    purchaser_id TEXT NOT NULL,
                    holder_id TEXT NOT NULL,
                    -- Reserved seating: the seat; general admission: null.
                    seat_id TEXT,
                    seat_label TEXT,
                    tier TEXT NOT NULL,
                    price_amount \(money) NOT NULL,
                    price_currency TEXT NOT NULL,
                    -- valid or cancelled.
                    status TEXT NOT NULL,
                    -- Part of the signed code; a transfer moves it on, so the old code stops working.
                    code_version INTEGER NOT NULL DEFAULT 1,
                    issued_at TIMESTAMPTZ NOT NULL,
                    cancelled_at TIMESTAMPTZ,
                    first_scanned_at TIMESTAMPTZ,
                    first_gate TEXT
                )
                """,
                // The last guard for sold seats: one valid ticket per seat, whatever the code does.
                "CREATE UNIQUE INDEX tickets_one_valid_per_seat ON tickets (performance_id, seat_id) WHERE status = 'valid' AND seat_id IS NOT NULL",
                "CREATE INDEX tickets_holder ON tickets (holder_id, id)",
                "CREATE INDEX tickets_purchaser ON tickets (performance_id, purchaser_id, status)",
                "CREATE INDEX tickets_general_admission ON tickets (performance_id, tier, status) WHERE seat_id IS NULL",
                "CREATE INDEX tickets_order ON tickets (order_id)",
                """
                CREATE TABLE ticket_scans (
                    id TEXT PRIMARY KEY,
                    ticket_id TEXT,
                    gate TEXT NOT NULL,
                    scanned_by TEXT NOT NULL,
                    -- valid, already_used or invalid.
                    result TEXT NOT NULL,
                    scanned_at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX ticket_scans_ticket ON ticket_scans (ticket_id, scanned_at)",
            ]
        },
    ])
}
