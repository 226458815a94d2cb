import Persistence

extension CatalogService {
    /// What is on sale: venues and their seat maps, events and their performances.
    public static let migrations = MigrationGroup(module: "catalog", migrations: [
        Migration("0001_create_venues_and_seats", sql: [
            """
            CREATE TABLE venues (
                id TEXT PRIMARY KEY,
                organizer_id TEXT NOT NULL,
                name TEXT NOT NULL,
                address TEXT NOT NULL,
                seat_count INTEGER NOT NULL DEFAULT 0,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX venues_organizer ON venues (organizer_id)",
            """
            CREATE TABLE seats (
                id TEXT PRIMARY KEY,
                venue_id TEXT NOT NULL REFERENCES venues (id),
                section TEXT NOT NULL,
                row_label TEXT NOT NULL,
                seat_label TEXT NOT NULL,
                x DOUBLE PRECISION NOT NULL,
                y DOUBLE PRECISION NOT NULL,
                tier TEXT NOT NULL,
                -- Comma-separated, e.g. accessible,restricted-view.
                attributes TEXT NOT NULL DEFAULT '',
                -- Order of the imported map, so listings are stable.
                position INTEGER NOT NULL,
                UNIQUE (venue_id, section, row_label, seat_label)
            )
            """,
            "CREATE INDEX seats_venue ON seats (venue_id, position)",
        ]),
        Migration("0002_create_events_and_performances", sql: [
            """
            CREATE TABLE events (
                id TEXT PRIMARY KEY,
                organizer_id TEXT NOT NULL,
                venue_id TEXT NOT NULL REFERENCES venues (id),
                title TEXT NOT NULL,
                description TEXT NOT NULL,
                artist TEXT NOT NULL,
                category TEXT NOT NULL,
                -- JSON array of URLs.
                image_urls TEXT NOT NULL,
                -- draft, published or cancelled.
                status TEXT NOT NULL,
                -- Lower-cased title, artist and description, for text search on both databases.
                search_text TEXT NOT NULL,
                -- Holds ever made for the event's performances: demand, for sort=popularity.
                popularity INTEGER NOT NULL DEFAULT 0,
                -- The earliest performance's start, for sorting and date filters (null until one exists).
                first_starts_at TIMESTAMPTZ,
                -- The same instant as fixed-width UTC text: sorts alike on both databases, for cursors.
                first_starts_at_key TEXT,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX events_listing ON events (status, first_starts_at_key, id)",
            "CREATE INDEX events_organizer ON events (organizer_id)",
            """
            CREATE TABLE performances (
                id TEXT PRIMARY KEY,
                event_id TEXT NOT NULL REFERENCES events (id),
                starts_at TIMESTAMPTZ NOT NULL,
                on_sale_from TIMESTAMPTZ NOT NULL,
                on_sale_until TIMESTAMPTZ NOT NULL,
                hold_minutes INTEGER NOT NULL,
                max_seats_per_order INTEGER NOT NULL,
                max_seats_per_fan INTEGER NOT NULL,
                -- reserved or general.
                seating TEXT NOT NULL,
                -- scheduled or cancelled.
                status TEXT NOT NULL,
                -- Seats (or general-admission units) for sale, and how many are held or sold,
                -- kept from reservation events for the "has availability" filter.
                capacity INTEGER NOT NULL,
                taken INTEGER NOT NULL DEFAULT 0,
                created_at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX performances_event ON performances (event_id, starts_at)",
            """
            CREATE TABLE performance_tiers (
                performance_id TEXT NOT NULL REFERENCES performances (id),
                tier TEXT NOT NULL,
                price_amount BIGINT NOT NULL,
                price_currency TEXT NOT NULL,
                -- General admission only: how many may be sold in this tier.
                quota INTEGER,
                PRIMARY KEY (performance_id, tier)
            )
            """,
        ]),
        Migration("0003_add_refund_policy", sql: [
            "ALTER TABLE performances ADD COLUMN refund_cutoff_hours INTEGER NOT NULL DEFAULT 24",
            "ALTER TABLE performances ADD COLUMN cancellation_fee_percent INTEGER NOT NULL DEFAULT 0",
        ]),
        // Door staff work for organizers: each scans only the performances of those who took them on.
        Migration("0004_create_organizer_staff", sql: [
            """
            CREATE TABLE organizer_staff (
                organizer_id TEXT NOT NULL,
                staff_id TEXT NOT NULL,
                added_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (organizer_id, staff_id)
            )
            """,
        ]),
    ])
}
