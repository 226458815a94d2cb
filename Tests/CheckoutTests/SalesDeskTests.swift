import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Identity
import Persistence
import TestSupport
import Testing

/// The organizer's sales view: figures per tier, the order list with its search, one order's
/// detail and the CSV export, for the performance's organizer and nobody else.
@Suite struct SalesDeskTests {
    @Test(arguments: DatabaseDialect.allCases)
    func goodsBoughtWithTicketsShowInTheSummaryAsSuchAndLeaveTheTiersAlone(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let shop = try await MerchandiseTests.Shop.make(sale)
                let fan = try await OnSale.token(platform, userID: "fan-goods")
                try await sale.grant(500_000, to: "fan-goods")
                // A seat and two T-shirts in one order (picked up at the venue), and
                // then the T-shirts come back: only what is kept counts as goods sold.
                let bought = try await shop.buy(
                    [["optionId": shop.large, "quantity": 2]], hold: try await sale.holdID([sale.seatIDs[0]], fan: fan), fan: fan)
                #expect(bought.status == 201, "\(bought.rawBody)")
                let summary = try await sale.call(.get, "/v1/performances/\(sale.performanceID)/sales", fan: shop.organizer)
                #expect(summary.status == 200, "\(summary.rawBody)")
                #expect((summary.json["goods"] as? [String: Any])?["amount"] as? Int == 70_000)
                #expect((summary.json["gross"] as? [String: Any])?["amount"] as? Int == 110_000 + 70_000)
                let tiers = try #require(summary.json["tiers"] as? [[String: Any]])
                #expect((tiers.first?["revenue"] as? [String: Any])?["amount"] as? Int == 110_000, "tickets only")
                let goodsLine = try #require((bought.order["goods"] as? [[String: Any]])?.first?["id"] as? String)
                let orderID = try #require(bought.order["id"] as? String)
                #expect(try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: fan, body: ["goodsIds": [goodsLine]]).status == 200)
                let after = try await sale.call(.get, "/v1/performances/\(sale.performanceID)/sales", fan: shop.organizer)
                #expect((after.json["goods"] as? [String: Any])?["amount"] as? Int == 0)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func theOrganizerSeesWhatSoldSearchesOrdersAndExportsThem(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let organizer = try await OnSale.token(platform, userID: "organizer", roles: [.organizer])
                // A real account, so the list can name the fan; "=cmd" checks the CSV defuses formulas.
                let account = try await platform.identity.signUp(
                    email: "Buyer@Example.com", password: "a long password 1", name: "=cmd", language: "en", verification: .trustedCaller)
                #expect(account.language == "en")
                let buyer = try await platform.identity.issueAccessToken(for: account)
                try await sale.grant(500_000, to: account.id)
                let first = try await sale.checkout(hold: try await sale.holdID(Array(sale.seatIDs.prefix(2)), fan: buyer), fan: buyer)
                #expect(first.status == 201, "\(first.rawBody)")
                let second = try await sale.checkout(hold: try await sale.holdID([sale.seatIDs[2]], fan: buyer), fan: buyer)
                let secondID = try #require(second.order["id"] as? String)
                let cancelled = try await sale.call(.post, "/v1/orders/\(secondID)/cancel", fan: buyer)
                #expect(cancelled.status == 200, "\(cancelled.rawBody)")

                let summary = try await sale.call(.get, "/v1/performances/\(sale.performanceID)/sales", fan: organizer)
                #expect(summary.status == 200, "\(summary.rawBody)")
                #expect(summary.json["paidOrders"] as? Int == 1)
                #expect(summary.json["cancelledOrders"] as? Int == 1)
                #expect(summary.json["ticketsSold"] as? Int == 2)
                #expect((summary.json["gross"] as? [String: Any])?["amount"] as? Int == 330_000)
                let refunded = try #require((summary.json["refunded"] as? [String: Any])?["amount"] as? Int)
                #expect(refunded > 0)
                #expect((summary.json["net"] as? [String: Any])?["amount"] as? Int == 330_000 - refunded)
                let tiers = try #require(summary.json["tiers"] as? [[String: Any]])
                #expect(tiers.count == 1 && tiers[0]["tier"] as? String == "R" && tiers[0]["ticketsSold"] as? Int == 2)
                #expect((tiers[0]["revenue"] as? [String: Any])?["amount"] as? Int == 220_000)

                // The list, newest first, naming the fan; searches by email, seat label, status and order ID.
                let orders = "/v1/performances/\(sale.performanceID)/orders"
                let all = try #require(try await sale.call(.get, orders, fan: organizer).json["items"] as? [[String: Any]])
                #expect(all.map { $0["id"] as? String } == [secondID, first.order["id"] as? String])
                #expect((all[1]["fan"] as? [String: Any])?["email"] as? String == "Buyer@Example.com")
                #expect(all[1]["seats"] as? [String] == ["A-1-1", "A-1-10"])
                func found(_ query: String) async throws -> [String] {
                    let reply = try await sale.call(.get, orders + "?" + query, fan: organizer)
                    #expect(reply.status == 200, "\(query): \(reply.rawBody)")
                    return (reply.json["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                }
                #expect(try await found("q=buyer%40example.com").count == 2)
                #expect(try await found("q=nobody%40example.com").isEmpty)
                #expect(try await found("q=a-1-10") == [first.order["id"] as? String])
                #expect(try await found("status=cancelled") == [secondID])
                #expect(try await found("q=\(secondID)") == [secondID])
                let badStatus = try await sale.call(.get, orders + "?status=sold", fan: organizer)
                #expect(badStatus.status == 400 && badStatus.json["errors"] != nil, "\(badStatus.rawBody)")
                let longSearch = try await sale.call(.get, orders + "?q=" + String(repeating: "0", count: 255), fan: organizer)
                #expect(longSearch.status == 400, "\(longSearch.rawBody)")

                // One order's detail with its history, for the organizer as for the fan.
                let detail = try await sale.call(.get, "/v1/orders/\(secondID)", fan: organizer)
                #expect(detail.status == 200 && (detail.json["history"] as? [[String: Any]])?.isEmpty == false, "\(detail.rawBody)")

                let csv = try await client.execute(
                    uri: orders + "/export", method: .get, headers: [.authorization: "Bearer \(organizer)"]
                ) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("text/csv") == true)
                    return String(buffer: response.body)
                }
                let lines = csv.split(separator: "\r\n")
                #expect(lines.count == 3, "\(csv)")
                #expect(lines[0].hasPrefix("order_id,created_at,status"))
                #expect(lines[1].contains(",paid,wallet,Buyer@Example.com,'=cmd,A-1-1 A-1-10,2,220000,0,KRW"), "\(lines[1])")

                // Nobody else's business: another organizer, or the fan, is told there is no such performance.
                let rival = try await OnSale.token(platform, userID: "rival", roles: [.organizer])
                #expect(try await sale.call(.get, "/v1/performances/\(sale.performanceID)/sales", fan: rival).status == 404)
                #expect(try await sale.call(.get, orders, fan: rival).status == 404)
                #expect(try await sale.call(.get, orders + "/export", fan: rival).status == 404)
                #expect(try await sale.call(.get, "/v1/orders/\(secondID)", fan: rival).status == 404)
                #expect(try await sale.call(.get, "/v1/performances/\(sale.performanceID)/sales", fan: buyer).status == 403)
                // An administrator sees any performance's sales, and an unknown performance is not found.
                let admin = try await sale.admin()
                #expect(try await sale.call(.get, "/v1/performances/\(sale.performanceID)/sales", fan: admin).status == 200)
                #expect(try await sale.call(.get, "/v1/performances/nope/orders", fan: admin).status == 404)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func theOrganizersDeskListsTheirOwnVenuesAndEventsAndADryRunSavesNothing(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, rows: 2, publish: false)
                let organizer = try await OnSale.token(platform, userID: "organizer", roles: [.organizer])
                let rival = try await OnSale.token(platform, userID: "rival", roles: [.organizer])
                let events = try #require(try await sale.call(.get, "/v1/organizers/me/events", fan: organizer).json["items"] as? [[String: Any]])
                #expect(events.count == 1 && events[0]["status"] as? String == "draft")
                #expect((events[0]["performances"] as? [[String: Any]])?.first?["id"] as? String == sale.performanceID)
                let venues = try #require(try await sale.call(.get, "/v1/organizers/me/venues", fan: organizer).json["items"] as? [[String: Any]])
                #expect(venues.count == 1 && venues[0]["seatCount"] as? Int == 20)
                #expect((try await sale.call(.get, "/v1/organizers/me/events", fan: rival).json["items"] as? [[String: Any]])?.isEmpty == true)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                #expect(try await sale.call(.get, "/v1/organizers/me/venues", fan: fan).status == 403)

                let venueID = try #require(venues[0]["id"] as? String)
                func upload(_ csv: String, dryRun: Bool, token: String) async throws -> OnSale.Reply {
                    try await client.execute(
                        uri: "/v1/venues/\(venueID)/seatmap?dryRun=\(dryRun)", method: .put,
                        headers: [.authorization: "Bearer \(token)", .contentType: "text/csv"], body: ByteBuffer(string: csv)
                    ) { response in
                        OnSale.Reply(
                            status: response.status.code,
                            json: (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] ?? [:],
                            rawBody: String(buffer: response.body))
                    }
                }
                let bad = try await upload("section,row,seat,x,y,tier\nB,1,1,0,0,R\nB,1,2,zero,0,R\n", dryRun: true, token: organizer)
                #expect(bad.status == 422)
                #expect((bad.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "line 3", "\(bad.rawBody)")
                let preview = try await upload("B,1,1,0,0,R\nB,1,2,1,0,S\n", dryRun: true, token: organizer)
                #expect(preview.status == 200 && preview.json["saved"] as? Bool == false, "\(preview.rawBody)")
                #expect((preview.json["seats"] as? [[String: Any]])?.map { $0["tier"] as? String } == ["R", "S"])
                #expect(try await upload("B,1,1,0,0,R\n", dryRun: true, token: rival).status == 404)
                // Still the old map: a dry run saved nothing.
                let map = try await sale.call(.get, "/v1/venues/\(venueID)/seatmap", fan: fan)
                #expect((map.json["seats"] as? [[String: Any]])?.count == 20)
                #expect(try await sale.call(.get, "/v1/venues/nope/seatmap", fan: fan).status == 404)
            }
        }
    }
}
