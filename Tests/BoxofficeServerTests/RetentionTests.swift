import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Persistence
import SQLKit
import TestSupport
import Testing

@Suite struct RetentionTests {
    @Test(arguments: DatabaseDialect.allCases)
    func theTablesThatOnlyGrowStayBoundedWhileEventsKeepFlowing(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock, configure: { $0.retentionDays = 2 }) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                _ = try await platform.identity.signUp(
                    email: "fan@example.com", password: "correct horse battery", name: "Fan", verification: .trustedCaller)
                func count(_ table: String) async throws -> Int {
                    try await platform.database.read { sql in
                        try await sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()?.decode(column: "n", as: Int.self) ?? -1
                    }
                }
                var counts: [String: [Int]] = [:]
                // Ten days of traffic, a day at a time: holds and releases (events the read
                // models handle), grants (idempotency keys), browser sign-ins (sessions).
                for day in 0..<10 {
                    let admin = try await OnSale.token(platform, userID: "admin", roles: [.admin])  // tokens last 15 minutes
                    for index in 0..<5 {
                        let fan = try await OnSale.token(platform, userID: "fan-\(day)-\(index)")
                        let hold = try #require(try await sale.hold(["seatIds": [sale.seatIDs[index]]], fan: fan).json["id"] as? String)
                        #expect(try await sale.call(.delete, "/v1/holds/\(hold)", fan: fan).status == 204)
                        #expect(try await sale.call(
                            .post, "/v1/admin/wallets/fan-\(index)/grants", fan: admin, body: ["amount": 1_000, "reason": "day \(day)"],
                            headers: OnSale.idempotencyKey()).status == 201)
                    }
                    let signIn = try await client.execute(
                        uri: "/v1/auth/browser-session", method: .post, headers: [.contentType: "application/json"],
                        body: ByteBuffer(string: #"{"email":"fan@example.com","password":"correct horse battery"}"#)) { $0.status }
                    #expect(signIn == .ok)
                    try await platform.relay.deliverPending()
                    clock.advance(by: 24 * 3600)
                    try await platform.retention.prunePass()
                    for table in ["outbox", "inbox", "idempotency_keys", "sessions"] {
                        counts[table, default: []].append(try await count(table))
                    }
                }
                // What is left is about the last two days' worth, however long it runs: the
                // counts stop growing once the first days have passed their retention.
                for table in ["outbox", "inbox", "idempotency_keys"] {
                    let days = try #require(counts[table])
                    #expect(days[9] > 0 && days[9] <= days[3], "\(table) grew: \(days)")
                }
                #expect(counts["idempotency_keys"]?.last == 10, "two days of five grants")
                #expect(counts["sessions"]?.allSatisfy { $0 == 0 } == true, "every session expired after 12 hours and went")
                // Nothing undelivered was touched.
                #expect(try await platform.database.read { sql in
                    try await sql.raw("SELECT COUNT(*) AS n FROM outbox WHERE delivered_at IS NULL").first()?.decode(column: "n", as: Int.self)
                } == 0)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aPassDeletesInSmallBatchesAndNeverAnEventStillToDeliver(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock, configure: { $0.retentionDays = 1 }) { platform in
            try await platform.database.withTransaction { transaction in
                for index in 0..<1_200 {
                    try await transaction.sql.raw("""
                        INSERT INTO outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, delivered_at, attempts)
                        VALUES (\(bind: "event-\(index)"), 'test.happened', 'test', 'a', '{}', \(bind: clock.now()),
                                \(bind: index % 4 == 0 ? nil : clock.now()), 0)
                        """).run()
                }
            }
            clock.advance(by: 2 * 24 * 3600)
            var job = platform.retention
            job.batchSize = 100
            let deleted = try await job.prunePass()
            #expect(deleted["outbox"] == 900)
            let left = try await platform.database.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM outbox WHERE delivered_at IS NULL").first()?.decode(column: "n", as: Int.self)
            }
            #expect(left == 300, "events still to deliver stay")
        }
    }
}
