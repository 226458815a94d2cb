import Persistence

extension CheckoutService {
    /// Orders, what they contain, and every status they went through.
    public static let migrations = MigrationGroup(module: "checkout", migrations: [
        Migration("0001_create_orders") { dialect in
            let money = dialect == .postgres ? "BIGINT" : "INTEGER"
            return [
                """
                CREATE TABLE orders (
                    id TEXT PRIMARY KEY,
                    fan_id TEXT NOT NULL,
                    hold_id TEXT NOT NULL,
                    performance_id TEXT NOT NULL,
                    method TEXT NOT NULL,
                    -- pending_payment, payment_failed, paid, partially_cancelled or cancelled.
                    status TEXT NOT NULL,
                    total_amount \(money) NOT NULL,
                    refunded_amount \(money) NOT NULL DEFAULT 0,
                    currency TEXT NOT NULL,
                    created_at TIMESTAMPTZ NOT NULL,
                    updated_at TIMESTAMPTZ NOT NULL
                )
                """,
                // One live order per hold: the last guard against paying twice for the same seats.
                // A failed gateway payment leaves its order behind and the fan may try again.
                "CREATE UNIQUE INDEX orders_one_per_hold ON orders (hold_id) WHERE status <> 'payment_failed'",
                "CREATE INDEX orders_fan ON orders (fan_id, id)",
                "CREATE INDEX orders_performance ON orders (performance_id, status)",
                """
                CREATE TABLE order_items (
                    order_id TEXT NOT NULL REFERENCES orders (id),
                    ticket_id TEXT NOT NULL,
                    seat_id TEXT,
                    seat_label TEXT,
                    tier TEXT NOT NULL,
                    price_amount \(money) NOT NULL,
                    currency TEXT NOT NULL,
                    -- active or cancelled.
                    status TEXT NOT NULL,
                    PRIMARY KEY (order_id, ticket_id)
                )
                """,
                """
                CREATE TABLE order_history (
                    id TEXT PRIMARY KEY,
                    order_id TEXT NOT NULL REFERENCES orders (id),
                    status TEXT NOT NULL,
                    note TEXT,
                    at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX order_history_order ON order_history (order_id, id)",
            ]
        },
        // The reconciler's look at orders still waiting for a gateway payment, oldest first.
        Migration("0002_index_orders_awaiting_payment", sql: [
            "CREATE INDEX orders_awaiting_payment ON orders (created_at) WHERE status = 'pending_payment'",
        ]),
        // Goods bought in an order, beside or instead of tickets: one row per product option,
        // priced when the stock was taken. An order without seats keeps `hold_id` unique with
        // its own key (`goods:<order id>`) and an empty `performance_id`.
        Migration("0003_create_order_goods") { dialect in
            let money = dialect == .postgres ? "BIGINT" : "INTEGER"
            return [
                """
                CREATE TABLE order_goods (
                    order_id TEXT NOT NULL REFERENCES orders (id),
                    reservation_id TEXT NOT NULL,
                    product_id TEXT NOT NULL,
                    option_id TEXT NOT NULL,
                    product_name TEXT NOT NULL,
                    option_name TEXT NOT NULL,
                    quantity INTEGER NOT NULL,
                    unit_price_amount \(money) NOT NULL,
                    currency TEXT NOT NULL,
                    -- active or cancelled.
                    status TEXT NOT NULL,
                    PRIMARY KEY (order_id, reservation_id)
                )
                """,
                "CREATE INDEX order_goods_product ON order_goods (product_id)",
            ]
        },
        // A coupon's discount: on the order (what it took off the total) and on each goods line
        // (its share, so a line cancelled later gives back what was paid for it).
        Migration("0004_add_order_discounts") { dialect in
            let money = dialect == .postgres ? "BIGINT" : "INTEGER"
            return [
                "ALTER TABLE orders ADD COLUMN discount_amount \(money) NOT NULL DEFAULT 0",
                "ALTER TABLE orders ADD COLUMN coupon_id TEXT",
                "ALTER TABLE order_goods ADD COLUMN discount_amount \(money) NOT NULL DEFAULT 0",
            ]
        },
        // Goods sent to an address: where, and the shipping fee the order paid (given back by
        // `shipping_fee_refunded` when its goods ship with another order's: combined shipping).
        Migration("0005_add_order_delivery") { dialect in
            let money = dialect == .postgres ? "BIGINT" : "INTEGER"
            return [
                "ALTER TABLE orders ADD COLUMN address_id TEXT",
                "ALTER TABLE orders ADD COLUMN shipping_fee_amount \(money) NOT NULL DEFAULT 0",
                "ALTER TABLE orders ADD COLUMN shipping_fee_refunded \(money) NOT NULL DEFAULT 0",
            ]
        },
    ])
}
