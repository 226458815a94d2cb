import BoxofficeServer
import Foundation
import Persistence
import Testing

/// Every migration that has shipped, with the checksum of its SQL on each database. A change
/// to one of them fails here before it can fail a deployed database's start-up: add a new
/// migration instead, and its line here.
@Suite struct ShippedMigrationsTests {
    @Test func noShippedMigrationChangedOrDisappeared() {
        var current: [String: String] = [:]
        for group in BoxofficePlatform.migrationGroups {
            for migration in group.migrations {
                current["\(group.module)/\(migration.id)"] =
                    "\(migration.checksum(for: .sqlite).prefix(16)) \(migration.checksum(for: .postgres).prefix(16))"
            }
        }
        for (name, pinned) in Self.shipped {
            #expect(current[name] == pinned, "\(name) changed after it shipped")
        }
        let unpinned = Set(current.keys).subtracting(Self.shipped.keys).sorted()
        #expect(unpinned.isEmpty, "pin the new migrations: \(unpinned.map { "\"\($0)\": \"\(current[$0] ?? "")\"" }.joined(separator: ", "))")
    }

    /// name → the first 16 hex digits of its SQLite and PostgreSQL checksums.
    static let shipped: [String: String] = [
        "catalog/0001_create_venues_and_seats": "f709f096be61f15f f709f096be61f15f",
        "catalog/0002_create_events_and_performances": "88f1888a73c3687f 88f1888a73c3687f",
        "catalog/0003_add_refund_policy": "3c77ebddeec5fb26 3c77ebddeec5fb26",
        "catalog/0004_create_organizer_staff": "b91d4c9971a75b01 b91d4c9971a75b01",
        "checkout/0001_create_orders": "ca38b3d140eb9972 1dd3cf7ae52bb82d",
        "checkout/0002_index_orders_awaiting_payment": "389a81ea46d8166a 389a81ea46d8166a",
        "checkout/0003_create_order_goods": "baa45f824ac2ce40 c8ef503806c845ae",
        "checkout/0004_add_order_discounts": "eefd0d0e55180818 f0bf1c5a12a938cf",
        "checkout/0005_add_order_delivery": "297aa1cceee64582 9ef22ddd4b5a6b49",
        "commerce/0001_create_products": "8c0f4a8a13e5d74d 9229ef2d7a7e3cf1",
        "commerce/0002_create_coupons": "e76d2fbe66d61f90 5bb428583bf46ed3",
        "commerce/0003_create_product_sales": "e8e2abdd6f0813a7 e8e2abdd6f0813a7",
        "fulfilment/0001_create_shipments": "050da9d0325516a6 6af7312b4029f0b8",
        "fulfilment/0002_add_packing_lines": "978cb50a38dbe216 978cb50a38dbe216",
        "keys/0001_create_signing_keys": "5114ecfac78b3675 5114ecfac78b3675",
        "coordination/0001_create_sessions": "ead94e06026795ff ead94e06026795ff",
        "idempotency/0001_create_idempotency_keys": "a20858f7e5edef88 a20858f7e5edef88",
        "idempotency/0002_index_idempotency_keys_by_time": "ef2433edb1b0f08a ef2433edb1b0f08a",
        "identity/0001_create_users": "1ec365dbbc0ef4c9 1ec365dbbc0ef4c9",
        "identity/0002_create_refresh_tokens": "0d55d431a02be9bf 0d55d431a02be9bf",
        "identity/0003_create_spent_challenges": "d5bd20fe3e535362 d5bd20fe3e535362",
        "identity/0004_create_remember_tokens": "5f8aa22703738de8 5f8aa22703738de8",
        "identity/0005_create_external_identities": "9dc8ca48639cea9f 9dc8ca48639cea9f",
        "identity/0006_refresh_tokens_replaced_by": "97f96188714d1fd5 97f96188714d1fd5",
        "identity/0007_users_session_generation": "81648742e800718e 81648742e800718e",
        "identity/0008_index_refresh_tokens_by_expiry": "190d1f21b815430c 190d1f21b815430c",
        "identity/0009_users_email_verified_at": "a9298487e5a9952f a9298487e5a9952f",
        "identity/0010_users_language": "0047b54bcbf72db6 0047b54bcbf72db6",
        "mail/0001_create_mail_queue": "80e34bc0b6a475eb 80e34bc0b6a475eb",
        "messaging/0001_create_outbox": "a83132753313b669 bfc50c6f941f0f8a",
        "messaging/0002_create_inbox": "4e6dd3b41f3f2205 4e6dd3b41f3f2205",
        "messaging/0003_index_backing_off_events": "4ce2814d345f78d6 4ce2814d345f78d6",
        "messaging/0005_index_dead_events": "dfe6a0c4eb25d059 dfe6a0c4eb25d059",
        "messaging/0004_index_inbox_by_time": "94c15806e3cd0ecb 94c15806e3cd0ecb",
        "payments/0001_create_wallets_and_payments": "ce2e2ee5ad5b5bfb 215931849921293e",
        "payments/0002_refunds_cancellable_before": "628ab52cda9ac707 bf24ee972b31e5ec",
        "payments/0003_index_payment_webhooks_by_time": "f8baf2085cdf3821 f8baf2085cdf3821",
        "reservations/0001_create_inventory_and_holds": "44423f1edcafedcb 27f3cfbd9a952476",
        "reservations/0002_create_availability_read_model": "ecb1a3b80f6b8141 ecb1a3b80f6b8141",
        "reservations/0003_tier_index_only_for_general_admission": "9aa5175685d0a203 9aa5175685d0a203",
        "reservations/0004_create_tickets": "ec23317ebd94a460 9ea0e9fa7ab1e663",
        "reservations/0005_index_running_holds": "28cb4a397d496a6f 28cb4a397d496a6f",
        "reservations/0006_count_general_admission_units": "a9e362922df36242 a9e362922df36242",
        "reservations/0007_holds_in_one_call": "e3b0c44298fc1c14 aa7118d142fad6a7",
        "reservations/0008_index_sale_performances_by_event": "de50e72181a98b35 de50e72181a98b35",
        "reservations/0009_hold_functions_answer_why": "e3b0c44298fc1c14 15665770af5b4a2b",
        "waiting_room/0001_create_queues": "5a6b2e2a565ab058 5a6b2e2a565ab058",
    ]
}
