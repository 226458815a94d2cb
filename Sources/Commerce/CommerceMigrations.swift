import Persistence

extension ProductService {
    /// Products, their options with the stock left, and the stock fans have reserved or bought.
    public static let migrations = MigrationGroup(module: "commerce", migrations: [
        Migration("0001_create_products") { dialect in
            let money = dialect == .postgres ? "BIGINT" : "INTEGER"
            return [
                """
                CREATE TABLE products (
                    id TEXT PRIMARY KEY,
                    organizer_id TEXT NOT NULL,
                    event_id TEXT,
                    name TEXT NOT NULL,
                    description TEXT NOT NULL,
                    max_per_fan INTEGER,
                    on_sale_from TIMESTAMPTZ,
                    on_sale_until TIMESTAMPTZ,
                    -- active or archived (kept for the orders that name it, no longer sold).
                    status TEXT NOT NULL,
                    search_text TEXT NOT NULL,
                    created_at TIMESTAMPTZ NOT NULL,
                    updated_at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX products_listing ON products (status, id)",
                "CREATE INDEX products_event ON products (event_id, id)",
                "CREATE INDEX products_organizer ON products (organizer_id, id)",
                // One row per size or colour: its price and the units still for sale. The check is
                // the last guard against selling what is not there.
                """
                CREATE TABLE product_options (
                    id TEXT PRIMARY KEY,
                    product_id TEXT NOT NULL REFERENCES products (id),
                    name TEXT NOT NULL,
                    price_amount \(money) NOT NULL,
                    currency TEXT NOT NULL,
                    stock_left INTEGER NOT NULL CHECK (stock_left >= 0),
                    position INTEGER NOT NULL
                )
                """,
                "CREATE INDEX product_options_product ON product_options (product_id, position)",
                // Units taken from an option for one order: held while its payment is pending,
                // sold once paid, released (lapsed or failed) or returned (cancelled) with the
                // units put back.
                """
                CREATE TABLE stock_reservations (
                    id TEXT PRIMARY KEY,
                    order_id TEXT NOT NULL,
                    fan_id TEXT NOT NULL,
                    product_id TEXT NOT NULL,
                    option_id TEXT NOT NULL REFERENCES product_options (id),
                    quantity INTEGER NOT NULL CHECK (quantity > 0),
                    status TEXT NOT NULL,
                    expires_at TIMESTAMPTZ,
                    created_at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX stock_reservations_order ON stock_reservations (order_id)",
                "CREATE INDEX stock_reservations_due ON stock_reservations (expires_at) WHERE status = 'held'",
                // What each fan has of each product (held or bought): the per-fan limit is one
                // conditional upsert on the fan's own row, never a row every buyer shares.
                """
                CREATE TABLE fan_product_quantities (
                    fan_id TEXT NOT NULL,
                    product_id TEXT NOT NULL,
                    quantity INTEGER NOT NULL CHECK (quantity >= 0),
                    PRIMARY KEY (fan_id, product_id)
                )
                """,
            ]
        },
        // First-come coupons: how many may be issued and how many were (the conditional update
        // that issues one is the last guard), and the one each fan holds.
        Migration("0002_create_coupons") { dialect in
            let money = dialect == .postgres ? "BIGINT" : "INTEGER"
            return [
                """
                CREATE TABLE coupons (
                    id TEXT PRIMARY KEY,
                    organizer_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    discount_amount \(money),
                    discount_percent INTEGER,
                    minimum_order_amount \(money) NOT NULL DEFAULT 0,
                    currency TEXT NOT NULL,
                    total_issuable INTEGER NOT NULL,
                    issued INTEGER NOT NULL DEFAULT 0 CHECK (issued <= total_issuable),
                    valid_from TIMESTAMPTZ NOT NULL,
                    valid_until TIMESTAMPTZ NOT NULL,
                    event_id TEXT,
                    -- The products it applies to, comma-separated; empty: every product in scope.
                    product_ids TEXT NOT NULL,
                    created_at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX coupons_organizer ON coupons (organizer_id, id)",
                """
                CREATE TABLE fan_coupons (
                    id TEXT PRIMARY KEY,
                    coupon_id TEXT NOT NULL REFERENCES coupons (id),
                    fan_id TEXT NOT NULL,
                    -- issued, or used (by order_id).
                    status TEXT NOT NULL,
                    order_id TEXT,
                    claimed_at TIMESTAMPTZ NOT NULL,
                    used_at TIMESTAMPTZ
                )
                """,
                "CREATE UNIQUE INDEX fan_coupons_one_per_fan ON fan_coupons (coupon_id, fan_id)",
                "CREATE INDEX fan_coupons_fan ON fan_coupons (fan_id, id)",
            ]
        },
        // Units sold per product per day (UTC), kept from goods.sold and goods.returned after
        // commit: what "popular products" ranks, without reading orders.
        Migration("0003_create_product_sales") { dialect in
            [
                """
                CREATE TABLE product_sales (
                    product_id TEXT NOT NULL,
                    day TEXT NOT NULL,
                    units INTEGER NOT NULL,
                    PRIMARY KEY (product_id, day)
                )
                """,
                "CREATE INDEX product_sales_day ON product_sales (day)",
            ]
        },
    ])
}
