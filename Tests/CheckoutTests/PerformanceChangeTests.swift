import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Persistence
import TestSupport
import Testing

/// An organizer changes a performance through the API; holds and checkouts then follow the new
/// terms, and what fans were sold under cannot be made worse.
@Suite struct PerformanceChangeTests {
    @Test(arguments: DatabaseDialect.allCases)
    func holdsAndCheckoutsFollowTheChangedTermsAndASaleThatOpenedFixesItsPricesAndTerms(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, onSaleIn: 3600)
                let organizer = try await OnSale.token(platform, userID: "organizer", roles: [.organizer])
                let path = "/v1/performances/\(sale.performanceID)"
                func change(_ body: [String: Any], as token: String = organizer) async throws -> OnSale.Reply {
                    try await sale.call(.patch, path, fan: token, body: body)
                }
                func iso(_ offset: TimeInterval) -> String { platform.clock.now().addingTimeInterval(offset).formatted(Date.ISO8601FormatStyle()) }

                // Before the sale opens, anything may change, under the same checks as creating it.
                let changed = try await change([
                    "prices": [["tier": "R", "price": ["amount": 99_000, "currency": "KRW"]]], "holdMinutes": 10,
                    "maxSeatsPerOrder": 2, "maxSeatsPerFan": 2, "cancellationFeePercent": 10,
                ])
                #expect(changed.status == 200, "\(changed.rawBody)")
                #expect(changed.json["holdMinutes"] as? Int == 10 && changed.json["maxSeatsPerOrder"] as? Int == 2)
                let unknownTier = try await change(["prices": [["tier": "VIP", "price": ["amount": 1, "currency": "KRW"]]]])
                #expect(unknownTier.status == 422, "\(unknownTier.rawBody)")
                #expect(unknownTier.rawBody.contains("prices"))
                #expect(try await change(["holdMinutes": 99]).status == 422)
                #expect(try await change(["onSaleUntil": iso(60 * 86400)]).status == 422, "not after the start")
                let stranger = try await OnSale.token(platform, userID: "someone-else", roles: [.organizer])
                #expect([403, 404].contains(try await change(["holdMinutes": 3], as: stranger).status))
                let fan = try await OnSale.token(platform, userID: "fan")
                #expect(try await change(["holdMinutes": 3], as: fan).status == 403)
                let unchanged = try await sale.call(.get, path, fan: organizer)
                #expect(unchanged.json["holdMinutes"] as? Int == 10, "refused changes changed nothing")

                try await platform.relay.deliverPending()
                let shown = try await sale.call(.get, "\(path)/availability", fan: fan)
                let tierR = (shown.json["tiers"] as? [[String: Any]])?.first { $0["tier"] as? String == "R" }
                #expect((tierR?["price"] as? [String: Any])?["amount"] as? Int == 99_000, "the seat map shows the new price: \(shown.rawBody)")

                // Opening the sale now: holds and checkouts follow the new terms.
                #expect(try await change(["onSaleFrom": iso(-60)]).status == 200)
                try await platform.relay.deliverPending()
                try await sale.grant(500_000, to: "fan")
                #expect(try await sale.hold(["seatIds": Array(sale.seatIDs.prefix(3))], fan: fan).status == 422, "two per order now")
                let held = try await sale.hold(["seatIds": Array(sale.seatIDs.prefix(2))], fan: fan)
                #expect(held.status == 201, "\(held.rawBody)")
                let expiresAt = try #require((held.json["expiresAt"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
                #expect(abs(expiresAt.timeIntervalSince(platform.clock.now()) - 600) < 5, "ten-minute holds")
                let paid = try await sale.checkout(hold: try #require(held.json["id"] as? String), fan: fan)
                #expect(paid.status == 201, "\(paid.rawBody)")
                #expect((paid.order["total"] as? [String: Any])?["amount"] as? Int == 198_000, "at the new price")

                // Sold: prices are fixed, and the refund terms only get kinder.
                let repriced = try await change(["prices": [["tier": "R", "price": ["amount": 50_000, "currency": "KRW"]]]])
                #expect(repriced.status == 422 && repriced.rawBody.contains("cannot change once the sale has opened"), "\(repriced.rawBody)")
                #expect(try await change(["cancellationFeePercent": 20]).status == 422)
                #expect(try await change(["refundCutoffHours": 48]).status == 422)
                #expect(try await change(["cancellationFeePercent": 5, "refundCutoffHours": 12]).status == 200)
                try await platform.relay.deliverPending()
                let orderID = try #require(paid.order["id"] as? String)
                let quote = try await sale.call(.post, "/v1/orders/\(orderID)/cancel?dryRun=true", fan: fan)
                #expect(quote.json["feePercent"] as? Int == 5, "\(quote.rawBody)")
                #expect((quote.json["fee"] as? [String: Any])?["amount"] as? Int == 9_900)

                #expect(try await sale.call(.post, "\(path)/cancel", fan: organizer).status == 200)
                #expect(try await change(["holdMinutes": 3]).status == 409)
            }
        }
    }
}
