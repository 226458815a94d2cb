import BoxofficeKit
import BoxofficeServer
import Foundation
import Hummingbird
import HummingbirdTesting
import SQLKit
import TestSupport
import Testing

@Suite struct DemoDataTests {
    /// `serve --demo` on an empty database: accounts that sign in, events on sale (and one
    /// behind a waiting room, not yet open), a funded wallet; a second start adds nothing.
    @Test func theDemoFillsAnEmptyDatabaseOnceWithEverythingANewcomerNeedsToTryASale() async throws {
        try await withPlatform { platform in
            #expect(try await DemoData.fillIfEmpty(platform))
            #expect(try await DemoData.fillIfEmpty(platform) == false, "a second start keeps what is there")
            try await platform.buildApplication().test(.router) { client in
                for account in DemoData.accounts {
                    let status = try await client.execute(
                        uri: "/v1/auth/signin", method: .post, headers: [.contentType: "application/json"],
                        body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: ["email": account.email, "password": account.password]))
                    ) { $0.status.code }
                    #expect(status == 200, "\(account.email) signs in")
                }
                let listing = try await client.execute(uri: "/v1/events", method: .get) { response in
                    try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                }
                let events = listing?["items"] as? [[String: Any]] ?? []
                #expect(events.count == 4)
                let page = try await client.execute(uri: "/?lang=en", method: .get) { String(buffer: $0.body) }
                #expect(page.components(separatedBy: "badge on").count - 1 == 3, "three events on sale now")
                #expect(page.contains("On sale from"), "one opens soon")
                let shop = try await client.execute(uri: "/v1/products", method: .get) { response in
                    try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                }
                let products = shop?["items"] as? [[String: Any]] ?? []
                #expect(Set(products.compactMap { $0["name"] as? String }) == ["Aurora Tour T-shirt", "Aurora Light Stick", "Aurora Photo Book"])
                #expect(products.allSatisfy { $0["eventId"] as? String == events.first { ($0["title"] as? String)?.hasPrefix("Aurora") == true }?["id"] as? String })
            }
            let sql = platform.database
            let queues = try await sql.read { try await $0.raw("SELECT COUNT(*) AS n FROM queues WHERE enabled = 1").first()?.decode(column: "n", as: Int.self) }
            #expect(queues == 1)
            let points = try await sql.read { try await $0.raw("SELECT SUM(balance) AS n FROM wallets").first()?.decode(column: "n", as: Int.self) }
            #expect(points == 2_000_000)
            let seats = try await sql.read { try await $0.raw("SELECT COUNT(*) AS n FROM seats").first()?.decode(column: "n", as: Int.self) }
            #expect(seats == 800)
        }
    }
}
