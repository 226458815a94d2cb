import Persistence

extension FulfilmentService {
    /// Fans' delivery addresses, shipments, which orders each carries, and what happened to it.
    public static let migrations = MigrationGroup(module: "fulfilment", migrations: [
        Migration("0001_create_shipments") { dialect in
            let money = dialect == .postgres ? "BIGINT" : "INTEGER"
            return [
                """
                CREATE TABLE addresses (
                    id TEXT PRIMARY KEY,
                    fan_id TEXT NOT NULL,
                    recipient TEXT NOT NULL,
                    phone TEXT NOT NULL,
                    postcode TEXT NOT NULL,
                    address1 TEXT NOT NULL,
                    address2 TEXT,
                    note TEXT,
                    created_at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX addresses_fan ON addresses (fan_id, id)",
                // The address is copied in: a shipment goes where it was sent, whatever the fan's
                // address book says later.
                """
                CREATE TABLE shipments (
                    id TEXT PRIMARY KEY,
                    fan_id TEXT NOT NULL,
                    address_id TEXT NOT NULL,
                    recipient TEXT NOT NULL,
                    phone TEXT NOT NULL,
                    postcode TEXT NOT NULL,
                    address1 TEXT NOT NULL,
                    address2 TEXT,
                    note TEXT,
                    -- preparing, shipped, delivered or cancelled.
                    status TEXT NOT NULL,
                    carrier TEXT,
                    tracking_number TEXT,
                    created_at TIMESTAMPTZ NOT NULL,
                    updated_at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX shipments_status ON shipments (status, id)",
                "CREATE INDEX shipments_open ON shipments (fan_id, address_id) WHERE status = 'preparing'",
                // Each order is in one shipment; `fee_amount` is the shipping fee it paid, and
                // `fee_refunded` whether it went back (its goods joined a shipment already paid for).
                """
                CREATE TABLE shipment_orders (
                    order_id TEXT PRIMARY KEY,
                    shipment_id TEXT NOT NULL REFERENCES shipments (id),
                    fee_amount \(money) NOT NULL,
                    fee_refunded INTEGER NOT NULL DEFAULT 0,
                    joined_at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX shipment_orders_shipment ON shipment_orders (shipment_id)",
                """
                CREATE TABLE shipment_history (
                    id TEXT PRIMARY KEY,
                    shipment_id TEXT NOT NULL REFERENCES shipments (id),
                    status TEXT NOT NULL,
                    note TEXT,
                    by_user TEXT NOT NULL,
                    at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX shipment_history_shipment ON shipment_history (shipment_id, id)",
            ]
        },
        // What each order puts in the parcel (name, option, quantity), for the packing list.
        Migration("0002_add_packing_lines", sql: [
            "ALTER TABLE shipment_orders ADD COLUMN items TEXT NOT NULL DEFAULT '[]'",
        ]),
    ])
}
