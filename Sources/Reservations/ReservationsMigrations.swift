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
        // Running holds per fan (the per-fan count) and per general-admission tier (what a tier
        // has left, and which of its holds have run out). With (…, status), a plan made while
        // holds was still empty — a new database's first on-sale — chose the expiry index for
        // the per-fan count and read every running hold of every fan.
        Migration("0005_index_running_holds", sql: [
            "DROP INDEX holds_fan",
            "CREATE INDEX holds_fan_running ON holds (performance_id, fan_id, expires_at, quantity) WHERE status = 'active'",
            "DROP INDEX holds_tier",
            """
            CREATE INDEX holds_tier_running ON holds (performance_id, tier, expires_at, quantity)
            WHERE status = 'active' AND tier IS NOT NULL
            """,
        ]),
        // What each general-admission tier has in running holds (`held`, holds that ran out
        // included until they are expired) and in valid tickets (`sold`), kept by every change
        // to them (`TierCounts`), so a hold decides from one row instead of adding up the tier's
        // holds and tickets under the tier's lock.
        Migration("0006_count_general_admission_units", sql: [
            "ALTER TABLE ga_tiers ADD COLUMN held INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE ga_tiers ADD COLUMN sold INTEGER NOT NULL DEFAULT 0",
            """
            UPDATE ga_tiers SET
                held = (SELECT COALESCE(SUM(h.quantity), 0) FROM holds h
                        WHERE h.performance_id = ga_tiers.performance_id AND h.tier = ga_tiers.tier AND h.status = 'active'),
                sold = (SELECT COUNT(*) FROM tickets t
                        WHERE t.performance_id = ga_tiers.performance_id AND t.tier = ga_tiers.tier AND t.status = 'valid'
                          AND t.seat_id IS NULL)
            """,
        ]),
        // PostgreSQL: the common holds in one round trip (see HoldStatements).
        Migration("0007_holds_in_one_call") { dialect in
            dialect == .postgres
                ? [ReservationService.holdAllowedFunction, ReservationService.holdSeatsFunction, ReservationService.holdUnitsFunction]
                : []
        },
        // Publishing an event opens its performances' sales: found by event.
        Migration("0008_index_sale_performances_by_event", sql: [
            "CREATE INDEX sale_performances_event ON sale_performances (event_id)",
        ]),
        Migration("0009_hold_functions_answer_why") { dialect in
            dialect == .postgres
                ? [
                    "DROP FUNCTION reservations_hold_seats(TEXT, TEXT, TEXT, TEXT[], TIMESTAMPTZ, INTEGER, TEXT, TEXT, TEXT, TEXT, TIMESTAMPTZ)",
                    "DROP FUNCTION reservations_hold_units(TEXT, TEXT, TEXT, TEXT, INTEGER, TIMESTAMPTZ, INTEGER, TEXT, TEXT, TEXT, TEXT, TIMESTAMPTZ)",
                    "DROP FUNCTION reservations_hold_allowed(TEXT, TEXT, TEXT, INTEGER, TIMESTAMPTZ, INTEGER)",
                    ReservationService.holdRulesFunction, ReservationService.holdSeatsAnsweringWhyFunction,
                    ReservationService.holdUnitsAnsweringWhyFunction,
                ]
                : []
        },
    ])
}

/// PostgreSQL's one-call holds. Each answers with what it held, or with what is plainly taken
/// (seats) or left (a tier); or with no rows when anything else stands in the way — not on sale,
/// a limit, an unknown seat or tier, a hold that has run out but is not yet expired — and then
/// it has changed nothing: the caller runs the hold as a transaction, which explains the
/// refusal, or expires the old holds and succeeds.
///
/// Each statement of a PL/pgSQL function takes a fresh snapshot, so the fan's count after the
/// fan's lock sees holds committed while it waited (one statement with the lock inside it
/// could not). The event's `expiresAt` is set here, from the hold minutes read under the lock.
///
/// Every statement here is an index lookup. Connections keep their plans (generic, see
/// `PostgresStore`), and a plan made while `holds` or `tickets` was empty — just VACUUMed, on a
/// new database — scans the table, which grows by thousands of rows a second at an on-sale,
/// until autovacuum's next ANALYZE re-plans: hence `enable_seqscan = off` (it costs nothing
/// measurable; Benchmarks/README.md).
extension ReservationService {
    /// `reservations_hold_allowed`: takes the fan's lock for the performance and checks the sale
    /// rules (on sale, in the window, the seating kind, the per-order and per-fan limits).
    /// Returns the hold minutes, or NULL when a rule stands in the way.
    static let holdAllowedFunction = """
        CREATE FUNCTION reservations_hold_allowed(
            p_performance_id TEXT, p_fan_id TEXT, p_seating TEXT, p_quantity INTEGER, p_now TIMESTAMPTZ,
            p_fan_lock_class INTEGER)
        RETURNS INTEGER
        LANGUAGE plpgsql SET enable_seqscan = off AS $$
        DECLARE
            sale sale_performances%ROWTYPE;
            held_by_fan BIGINT;
        BEGIN
            PERFORM pg_advisory_xact_lock(p_fan_lock_class, hashtext(p_performance_id || '/' || p_fan_id));
            SELECT * INTO sale FROM sale_performances s WHERE s.performance_id = p_performance_id;
            IF NOT FOUND OR sale.status <> 'on_sale' OR sale.seating <> p_seating
               OR p_now < sale.on_sale_from OR p_now >= sale.on_sale_until
               OR p_quantity IS NULL OR p_quantity < 1 OR p_quantity > sale.max_seats_per_order THEN
                RETURN NULL;
            END IF;
            SELECT (SELECT COALESCE(SUM(h.quantity), 0) FROM holds h
                    WHERE h.performance_id = p_performance_id AND h.fan_id = p_fan_id AND h.status = 'active'
                      AND h.expires_at > p_now)
                 + (SELECT COUNT(*) FROM tickets t
                    WHERE t.performance_id = p_performance_id AND t.purchaser_id = p_fan_id AND t.status = 'valid')
              INTO held_by_fan;
            IF held_by_fan + p_quantity > sale.max_seats_per_fan THEN
                RETURN NULL;
            END IF;
            RETURN sale.hold_minutes;
        END
        $$
        """

    /// `reservations_hold_seats`: a whole seat hold — the rules, the claim, the hold, its items
    /// and `reservation.held` — committing on its own. One row per seat: all `held`, or the
    /// `taken` ones (held or sold by others; anything it claimed is given back). Seats are locked
    /// in `p_seat_ids` order (the caller sorts them), so holds cannot deadlock.
    static let holdSeatsFunction = """
        CREATE FUNCTION reservations_hold_seats(
            p_hold_id TEXT, p_performance_id TEXT, p_fan_id TEXT, p_seat_ids TEXT[], p_now TIMESTAMPTZ,
            p_fan_lock_class INTEGER, p_event_id TEXT, p_event_type TEXT, p_event_aggregate_type TEXT,
            p_event_payload TEXT, p_event_occurred_at TIMESTAMPTZ)
        RETURNS TABLE (outcome TEXT, held_until TIMESTAMPTZ, held_seat_id TEXT, held_label TEXT, held_tier TEXT)
        LANGUAGE plpgsql SET enable_seqscan = off AS $$
        DECLARE
            wanted INTEGER := cardinality(p_seat_ids);
            minutes INTEGER;
            expiry TIMESTAMPTZ;
            claimed_ids TEXT[];
            claimed_labels TEXT[];
            claimed_tiers TEXT[];
            taken_ids TEXT[];
            unknown_or_lapsed BOOLEAN;
        BEGIN
            minutes := reservations_hold_allowed(p_performance_id, p_fan_id, 'reserved', wanted, p_now, p_fan_lock_class);
            IF minutes IS NULL THEN
                RETURN;
            END IF;
            IF wanted > 1 THEN
                PERFORM 1 FROM performance_seats s
                WHERE s.performance_id = p_performance_id AND s.seat_id = ANY (p_seat_ids)
                ORDER BY s.seat_id FOR UPDATE;
            END IF;
            WITH claimed AS (
                UPDATE performance_seats s SET state = 'held', hold_id = p_hold_id
                WHERE s.performance_id = p_performance_id AND s.seat_id = ANY (p_seat_ids) AND s.state = 'available'
                RETURNING s.seat_id, s.label, s.tier
            )
            SELECT array_agg(c.seat_id), array_agg(c.label), array_agg(c.tier)
              INTO claimed_ids, claimed_labels, claimed_tiers FROM claimed c;
            IF COALESCE(cardinality(claimed_ids), 0) < wanted THEN
                UPDATE performance_seats s SET state = 'available', hold_id = NULL
                WHERE s.performance_id = p_performance_id AND s.seat_id = ANY (claimed_ids) AND s.hold_id = p_hold_id;
                SELECT array_agg(s.seat_id ORDER BY s.seat_id),
                       COUNT(*) < wanted - COALESCE(cardinality(claimed_ids), 0)
                         OR COALESCE(bool_or(h.status = 'active' AND h.expires_at <= p_now), FALSE)
                  INTO taken_ids, unknown_or_lapsed
                  FROM performance_seats s LEFT JOIN holds h ON h.id = s.hold_id
                 WHERE s.performance_id = p_performance_id AND s.seat_id = ANY (p_seat_ids)
                   AND NOT (s.seat_id = ANY (COALESCE(claimed_ids, '{}')));
                IF NOT unknown_or_lapsed THEN
                    RETURN QUERY SELECT 'taken', NULL::TIMESTAMPTZ, u.seat_id, NULL::TEXT, NULL::TEXT
                        FROM unnest(taken_ids) AS u (seat_id);
                END IF;
                RETURN;
            END IF;
            expiry := p_now + make_interval(mins => minutes);
            INSERT INTO holds (id, performance_id, fan_id, tier, quantity, status, expires_at, created_at)
            VALUES (p_hold_id, p_performance_id, p_fan_id, NULL, wanted, 'active', expiry, p_now);
            INSERT INTO hold_items (hold_id, performance_id, seat_id, active)
            SELECT p_hold_id, p_performance_id, unnest(claimed_ids), TRUE;
            INSERT INTO outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
            VALUES (p_event_id, p_event_type, p_event_aggregate_type, p_hold_id,
                    (p_event_payload::jsonb
                     || jsonb_build_object('expiresAt', to_char(expiry AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))::text,
                    p_event_occurred_at, 0);
            RETURN QUERY SELECT 'held', expiry, u.seat_id, u.label, u.tier
                FROM unnest(claimed_ids, claimed_labels, claimed_tiers) AS u (seat_id, label, tier);
        END
        $$
        """

    /// `reservations_hold_units`: a whole general-admission hold, committing on its own: one row,
    /// `held` with the units left, or `sold-out` with the units left when fewer than asked. The
    /// tier's row is the lock every hold of the tier queues on — for the length of this call
    /// rather than of a transaction's round trips — and its counts decide (`TierCounts`); a tier
    /// with holds that ran out is left to the transaction, which expires them first.
    static let holdUnitsFunction = """
        CREATE FUNCTION reservations_hold_units(
            p_hold_id TEXT, p_performance_id TEXT, p_fan_id TEXT, p_tier TEXT, p_quantity INTEGER, p_now TIMESTAMPTZ,
            p_fan_lock_class INTEGER, p_event_id TEXT, p_event_type TEXT, p_event_aggregate_type TEXT,
            p_event_payload TEXT, p_event_occurred_at TIMESTAMPTZ)
        RETURNS TABLE (outcome TEXT, held_until TIMESTAMPTZ, units_left BIGINT)
        LANGUAGE plpgsql SET enable_seqscan = off AS $$
        DECLARE
            minutes INTEGER;
            tier_quota INTEGER;
            taken BIGINT;
            expiry TIMESTAMPTZ;
        BEGIN
            minutes := reservations_hold_allowed(p_performance_id, p_fan_id, 'general', p_quantity, p_now, p_fan_lock_class);
            IF minutes IS NULL THEN
                RETURN;
            END IF;
            SELECT g.quota, g.held + g.sold INTO tier_quota, taken FROM ga_tiers g
            WHERE g.performance_id = p_performance_id AND g.tier = p_tier FOR UPDATE;
            IF NOT FOUND OR EXISTS (
                SELECT 1 FROM holds h
                WHERE h.performance_id = p_performance_id AND h.tier = p_tier AND h.status = 'active' AND h.expires_at <= p_now
            ) THEN
                RETURN;
            END IF;
            IF taken + p_quantity > tier_quota THEN
                RETURN QUERY SELECT 'sold-out', NULL::TIMESTAMPTZ, GREATEST(0, tier_quota - taken);
                RETURN;
            END IF;
            expiry := p_now + make_interval(mins => minutes);
            INSERT INTO holds (id, performance_id, fan_id, tier, quantity, status, expires_at, created_at)
            VALUES (p_hold_id, p_performance_id, p_fan_id, p_tier, p_quantity, 'active', expiry, p_now);
            UPDATE ga_tiers g SET held = g.held + p_quantity WHERE g.performance_id = p_performance_id AND g.tier = p_tier;
            INSERT INTO outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
            VALUES (p_event_id, p_event_type, p_event_aggregate_type, p_hold_id,
                    (p_event_payload::jsonb
                     || jsonb_build_object('expiresAt', to_char(expiry AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))::text,
                    p_event_occurred_at, 0);
            RETURN QUERY SELECT 'held', expiry, tier_quota - taken - p_quantity;
        END
        $$
        """

    // MARK: Since 0009: every answer says why

    /// `reservations_hold_rules`: takes the fan's lock for the performance and applies the sale
    /// rules, in the order `SaleRules` applies them on SQLite: the performance exists and is on
    /// sale, in its window, of this seating kind, the quantity within the per-order and per-fan
    /// limits (the fan's count after the lock). One row: `allowed` with the hold minutes, or the
    /// reason it is not (`SaleRuleRefusal`), with the limit, the fan's count or the opening time
    /// the explanation needs.
    static let holdRulesFunction = """
        CREATE FUNCTION reservations_hold_rules(
            p_performance_id TEXT, p_fan_id TEXT, p_seating TEXT, p_quantity INTEGER, p_now TIMESTAMPTZ,
            p_fan_lock_class INTEGER)
        RETURNS TABLE (rule_reason TEXT, rule_minutes INTEGER, rule_limit INTEGER, rule_fan_has INTEGER, rule_opens_at TIMESTAMPTZ)
        LANGUAGE plpgsql SET enable_seqscan = off AS $$
        DECLARE
            sale sale_performances%ROWTYPE;
            fan_has BIGINT;
        BEGIN
            PERFORM pg_advisory_xact_lock(p_fan_lock_class, hashtext(p_performance_id || '/' || p_fan_id));
            SELECT * INTO sale FROM sale_performances s WHERE s.performance_id = p_performance_id;
            IF NOT FOUND THEN
                RETURN QUERY SELECT 'not-found', NULL::INTEGER, NULL::INTEGER, NULL::INTEGER, NULL::TIMESTAMPTZ; RETURN;
            ELSIF sale.status <> 'on_sale' THEN
                RETURN QUERY SELECT 'not-on-sale', NULL::INTEGER, NULL::INTEGER, NULL::INTEGER, NULL::TIMESTAMPTZ; RETURN;
            ELSIF p_now < sale.on_sale_from THEN
                RETURN QUERY SELECT 'before-sale', NULL::INTEGER, NULL::INTEGER, NULL::INTEGER, sale.on_sale_from; RETURN;
            ELSIF p_now >= sale.on_sale_until THEN
                RETURN QUERY SELECT 'after-sale', NULL::INTEGER, NULL::INTEGER, NULL::INTEGER, NULL::TIMESTAMPTZ; RETURN;
            ELSIF sale.seating <> p_seating THEN
                RETURN QUERY SELECT 'wrong-seating', NULL::INTEGER, NULL::INTEGER, NULL::INTEGER, NULL::TIMESTAMPTZ; RETURN;
            ELSIF p_quantity IS NULL OR p_quantity < 1 THEN
                RETURN QUERY SELECT 'no-quantity', NULL::INTEGER, NULL::INTEGER, NULL::INTEGER, NULL::TIMESTAMPTZ; RETURN;
            ELSIF p_quantity > sale.max_seats_per_order THEN
                RETURN QUERY SELECT 'order-limit', NULL::INTEGER, sale.max_seats_per_order, NULL::INTEGER, NULL::TIMESTAMPTZ; RETURN;
            END IF;
            SELECT (SELECT COALESCE(SUM(h.quantity), 0) FROM holds h
                    WHERE h.performance_id = p_performance_id AND h.fan_id = p_fan_id AND h.status = 'active'
                      AND h.expires_at > p_now)
                 + (SELECT COUNT(*) FROM tickets t
                    WHERE t.performance_id = p_performance_id AND t.purchaser_id = p_fan_id AND t.status = 'valid')
              INTO fan_has;
            IF fan_has + p_quantity > sale.max_seats_per_fan THEN
                RETURN QUERY SELECT 'fan-limit', NULL::INTEGER, sale.max_seats_per_fan, fan_has::INTEGER, NULL::TIMESTAMPTZ; RETURN;
            END IF;
            RETURN QUERY SELECT 'allowed', sale.hold_minutes, NULL::INTEGER, NULL::INTEGER, NULL::TIMESTAMPTZ;
        END
        $$
        """

    /// `reservations_hold_seats` (since 0009): a whole seat hold, committing on its own. Rows:
    /// `held`, one per seat; or `taken`, one per seat held or sold by others; or `unknown`, one
    /// per seat the performance does not have; or one row with a sale rule's refusal (see
    /// `reservations_hold_rules`); or one `lapsed` row — a seat is in a hold that has run out but
    /// is not yet expired, which the caller expires before calling again. Anything but `held`
    /// has changed nothing. Seats are locked in `p_seat_ids` order (the caller sorts them), so
    /// holds cannot deadlock.
    static let holdSeatsAnsweringWhyFunction = """
        CREATE FUNCTION reservations_hold_seats(
            p_hold_id TEXT, p_performance_id TEXT, p_fan_id TEXT, p_seat_ids TEXT[], p_now TIMESTAMPTZ,
            p_fan_lock_class INTEGER, p_event_id TEXT, p_event_type TEXT, p_event_aggregate_type TEXT,
            p_event_payload TEXT, p_event_occurred_at TIMESTAMPTZ)
        RETURNS TABLE (outcome TEXT, held_until TIMESTAMPTZ, held_seat_id TEXT, held_label TEXT, held_tier TEXT,
                       rule_limit INTEGER, rule_fan_has INTEGER, rule_opens_at TIMESTAMPTZ)
        LANGUAGE plpgsql SET enable_seqscan = off AS $$
        DECLARE
            wanted INTEGER := cardinality(p_seat_ids);
            rules RECORD;
            expiry TIMESTAMPTZ;
            claimed_ids TEXT[];
            claimed_labels TEXT[];
            claimed_tiers TEXT[];
            unknown_ids TEXT[];
        BEGIN
            SELECT * INTO rules FROM reservations_hold_rules(p_performance_id, p_fan_id, 'reserved', wanted, p_now, p_fan_lock_class);
            IF rules.rule_reason <> 'allowed' THEN
                RETURN QUERY SELECT rules.rule_reason, NULL::TIMESTAMPTZ, NULL::TEXT, NULL::TEXT, NULL::TEXT,
                    rules.rule_limit, rules.rule_fan_has, rules.rule_opens_at;
                RETURN;
            END IF;
            IF wanted > 1 THEN
                PERFORM 1 FROM performance_seats s
                WHERE s.performance_id = p_performance_id AND s.seat_id = ANY (p_seat_ids)
                ORDER BY s.seat_id FOR UPDATE;
            END IF;
            WITH claimed AS (
                UPDATE performance_seats s SET state = 'held', hold_id = p_hold_id
                WHERE s.performance_id = p_performance_id AND s.seat_id = ANY (p_seat_ids) AND s.state = 'available'
                RETURNING s.seat_id, s.label, s.tier
            )
            SELECT array_agg(c.seat_id), array_agg(c.label), array_agg(c.tier)
              INTO claimed_ids, claimed_labels, claimed_tiers FROM claimed c;
            IF COALESCE(cardinality(claimed_ids), 0) < wanted THEN
                UPDATE performance_seats s SET state = 'available', hold_id = NULL
                WHERE s.performance_id = p_performance_id AND s.seat_id = ANY (claimed_ids) AND s.hold_id = p_hold_id;
                SELECT array_agg(u.id ORDER BY u.id) INTO unknown_ids FROM unnest(p_seat_ids) AS u (id)
                 WHERE NOT EXISTS (SELECT 1 FROM performance_seats s WHERE s.performance_id = p_performance_id AND s.seat_id = u.id);
                IF unknown_ids IS NOT NULL THEN
                    RETURN QUERY SELECT 'unknown', NULL::TIMESTAMPTZ, u.id, NULL::TEXT, NULL::TEXT, NULL::INTEGER, NULL::INTEGER,
                        NULL::TIMESTAMPTZ FROM unnest(unknown_ids) AS u (id);
                    RETURN;
                END IF;
                IF EXISTS (
                    SELECT 1 FROM performance_seats s JOIN holds h ON h.id = s.hold_id
                    WHERE s.performance_id = p_performance_id AND s.seat_id = ANY (p_seat_ids)
                      AND h.status = 'active' AND h.expires_at <= p_now
                ) THEN
                    RETURN QUERY SELECT 'lapsed', NULL::TIMESTAMPTZ, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::INTEGER, NULL::INTEGER,
                        NULL::TIMESTAMPTZ;
                    RETURN;
                END IF;
                RETURN QUERY SELECT 'taken', NULL::TIMESTAMPTZ, s.seat_id, NULL::TEXT, NULL::TEXT, NULL::INTEGER, NULL::INTEGER,
                    NULL::TIMESTAMPTZ
                    FROM performance_seats s
                    WHERE s.performance_id = p_performance_id AND s.seat_id = ANY (p_seat_ids)
                      AND NOT (s.seat_id = ANY (COALESCE(claimed_ids, '{}')))
                    ORDER BY s.seat_id;
                RETURN;
            END IF;
            expiry := p_now + make_interval(mins => rules.rule_minutes);
            INSERT INTO holds (id, performance_id, fan_id, tier, quantity, status, expires_at, created_at)
            VALUES (p_hold_id, p_performance_id, p_fan_id, NULL, wanted, 'active', expiry, p_now);
            INSERT INTO hold_items (hold_id, performance_id, seat_id, active)
            SELECT p_hold_id, p_performance_id, unnest(claimed_ids), TRUE;
            INSERT INTO outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
            VALUES (p_event_id, p_event_type, p_event_aggregate_type, p_hold_id,
                    (p_event_payload::jsonb
                     || jsonb_build_object('expiresAt', to_char(expiry AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))::text,
                    p_event_occurred_at, 0);
            RETURN QUERY SELECT 'held', expiry, u.seat_id, u.label, u.tier, NULL::INTEGER, NULL::INTEGER, NULL::TIMESTAMPTZ
                FROM unnest(claimed_ids, claimed_labels, claimed_tiers) AS u (seat_id, label, tier);
        END
        $$
        """

    /// `reservations_hold_units` (since 0009): a whole general-admission hold, committing on its
    /// own. One row: `held` or `sold-out`, with the units left; `unknown-tier`; a sale rule's
    /// refusal; or `lapsed` — the tier has holds that ran out, which the caller expires before
    /// calling again. The tier's row is the lock every hold of the tier queues on, for the length
    /// of this call, and its counts decide (`TierCounts`).
    static let holdUnitsAnsweringWhyFunction = """
        CREATE FUNCTION reservations_hold_units(
            p_hold_id TEXT, p_performance_id TEXT, p_fan_id TEXT, p_tier TEXT, p_quantity INTEGER, p_now TIMESTAMPTZ,
            p_fan_lock_class INTEGER, p_event_id TEXT, p_event_type TEXT, p_event_aggregate_type TEXT,
            p_event_payload TEXT, p_event_occurred_at TIMESTAMPTZ)
        RETURNS TABLE (outcome TEXT, held_until TIMESTAMPTZ, units_left BIGINT,
                       rule_limit INTEGER, rule_fan_has INTEGER, rule_opens_at TIMESTAMPTZ)
        LANGUAGE plpgsql SET enable_seqscan = off AS $$
        DECLARE
            rules RECORD;
            tier_quota INTEGER;
            taken BIGINT;
            expiry TIMESTAMPTZ;
        BEGIN
            SELECT * INTO rules FROM reservations_hold_rules(p_performance_id, p_fan_id, 'general', p_quantity, p_now, p_fan_lock_class);
            IF rules.rule_reason <> 'allowed' THEN
                RETURN QUERY SELECT rules.rule_reason, NULL::TIMESTAMPTZ, NULL::BIGINT, rules.rule_limit, rules.rule_fan_has,
                    rules.rule_opens_at;
                RETURN;
            END IF;
            SELECT g.quota, g.held + g.sold INTO tier_quota, taken FROM ga_tiers g
            WHERE g.performance_id = p_performance_id AND g.tier = p_tier FOR UPDATE;
            IF NOT FOUND THEN
                RETURN QUERY SELECT 'unknown-tier', NULL::TIMESTAMPTZ, NULL::BIGINT, NULL::INTEGER, NULL::INTEGER, NULL::TIMESTAMPTZ;
                RETURN;
            END IF;
            IF EXISTS (
                SELECT 1 FROM holds h
                WHERE h.performance_id = p_performance_id AND h.tier = p_tier AND h.status = 'active' AND h.expires_at <= p_now
            ) THEN
                RETURN QUERY SELECT 'lapsed', NULL::TIMESTAMPTZ, NULL::BIGINT, NULL::INTEGER, NULL::INTEGER, NULL::TIMESTAMPTZ;
                RETURN;
            END IF;
            IF taken + p_quantity > tier_quota THEN
                RETURN QUERY SELECT 'sold-out', NULL::TIMESTAMPTZ, GREATEST(0, tier_quota - taken), NULL::INTEGER, NULL::INTEGER,
                    NULL::TIMESTAMPTZ;
                RETURN;
            END IF;
            expiry := p_now + make_interval(mins => rules.rule_minutes);
            INSERT INTO holds (id, performance_id, fan_id, tier, quantity, status, expires_at, created_at)
            VALUES (p_hold_id, p_performance_id, p_fan_id, p_tier, p_quantity, 'active', expiry, p_now);
            UPDATE ga_tiers g SET held = g.held + p_quantity WHERE g.performance_id = p_performance_id AND g.tier = p_tier;
            INSERT INTO outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
            VALUES (p_event_id, p_event_type, p_event_aggregate_type, p_hold_id,
                    (p_event_payload::jsonb
                     || jsonb_build_object('expiresAt', to_char(expiry AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))::text,
                    p_event_occurred_at, 0);
            RETURN QUERY SELECT 'held', expiry, (tier_quota - taken - p_quantity)::BIGINT, NULL::INTEGER, NULL::INTEGER, NULL::TIMESTAMPTZ;
        END
        $$
        """
}
