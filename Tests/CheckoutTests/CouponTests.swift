import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Persistence
import SQLKit
import TestSupport
import Testing

/// First-come coupons through the real API: issued exactly as many times as there are, one per
/// fan, used once, taken off the goods they cover, and given back when those goods come back.
@Suite struct CouponTests {
    typealias Shop = MerchandiseTests.Shop

    static func coupon(_ sale: OnSale, _ shop: Shop, _ body: [String: Any]) async throws -> OnSale.Reply {
        let now = sale.platform.clock.now()
        var coupon: [String: Any] = [
            "name": "Tour opening", "totalIssuable": 100,
            "validFrom": now.addingTimeInterval(-60).formatted(Date.ISO8601FormatStyle()),
            "validUntil": now.addingTimeInterval(86400).formatted(Date.ISO8601FormatStyle()),
        ]
        coupon.merge(body) { _, new in new }
        return try await sale.call(.post, "/v1/coupons", fan: shop.organizer, body: coupon)
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aCouponIsClaimedOnceUsedOnceSpreadOverItsGoodsAndGivenBackWhenTheyComeBack(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let shop = try await Shop.make(sale, stock: 10, maxPerFan: nil)
                let fan = try await OnSale.token(platform, userID: "fan")
                try await sale.grant(500_000, to: "fan")

                // Refusals name the field.
                let both = try await Self.coupon(sale, shop, ["discount": ["amount": 1_000, "percent": 10]])
                #expect(both.status == 422 && both.rawBody.contains("discount"), "\(both.rawBody)")
                #expect(try await Self.coupon(sale, shop, ["discount": ["percent": 0]]).status == 422)
                #expect(try await Self.coupon(sale, shop, ["discount": ["percent": 10], "totalIssuable": 0]).status == 422)
                let stranger = try await OnSale.token(platform, userID: "someone-else", roles: [.organizer])
                let theirs = try await sale.call(.post, "/v1/coupons", fan: stranger, body: [
                    "name": "Not mine", "discount": ["percent": 10], "totalIssuable": 1, "productIds": [shop.productID],
                    "validFrom": "2020-01-01T00:00:00Z", "validUntil": "2099-01-01T00:00:00Z",
                ])
                #expect(theirs.status == 422 && theirs.rawBody.contains("productIds"), "\(theirs.rawBody)")

                let created = try await Self.coupon(sale, shop, ["discount": ["percent": 10], "minimumOrder": 50_000, "productIds": [shop.productID]])
                #expect(created.status == 201, "\(created.rawBody)")
                let couponID = try #require(created.json["id"] as? String)
                let claimed = try await sale.call(.post, "/v1/coupons/\(couponID)/claim", fan: fan)
                #expect(claimed.status == 201 && claimed.json["status"] as? String == "issued", "\(claimed.rawBody)")
                let again = try await sale.call(.post, "/v1/coupons/\(couponID)/claim", fan: fan)
                #expect(again.status == 409 && again.rawBody.contains("coupon-already-claimed"))

                // Under its minimum: refused, and nothing taken or charged.
                let small = try await shop.buy([["optionId": shop.medium, "quantity": 1]], fan: fan, coupon: couponID)
                #expect(small.status == 409 && small.rawBody.contains("coupon-minimum-not-met"), "\(small.rawBody)")
                #expect(try await shop.stock(shop.medium) == 10)
                #expect(try await sale.balance(fan) == 500_000)

                // 10 % off 70,000: 7,000, spread 3,500 on each line; the coupon is the order's now.
                let paid = try await shop.buy(
                    [["optionId": shop.medium, "quantity": 1], ["optionId": shop.large, "quantity": 1]], fan: fan, coupon: couponID)
                #expect(paid.status == 201, "\(paid.rawBody)")
                #expect((paid.order["total"] as? [String: Any])?["amount"] as? Int == 63_000)
                #expect((paid.order["discount"] as? [String: Any])?["amount"] as? Int == 7_000)
                let lines = try #require(paid.order["goods"] as? [[String: Any]])
                #expect(lines.map { ($0["discount"] as? [String: Any])?["amount"] as? Int } == [3_500, 3_500])
                #expect(try await sale.balance(fan) == 437_000)
                let twice = try await shop.buy([["optionId": shop.medium, "quantity": 2]], fan: fan, coupon: couponID)
                #expect(twice.status == 409 && twice.rawBody.contains("coupon-not-held"), "\(twice.rawBody)")
                let mine = try await sale.call(.get, "/v1/me/coupons", fan: fan)
                let held = (mine.json["items"] as? [[String: Any]])?.first
                #expect(held?["status"] as? String == "used" && held?["orderId"] as? String == paid.order["id"] as? String, "\(mine.rawBody)")

                // One line back: what was paid for it (31,500); the coupon stays with the other line.
                let orderID = try #require(paid.order["id"] as? String)
                let first = try #require(lines[0]["id"] as? String), second = try #require(lines[1]["id"] as? String)
                let quote = try await sale.call(.post, "/v1/orders/\(orderID)/cancel?dryRun=true", fan: fan, body: ["goodsIds": [first]])
                #expect((quote.json["refund"] as? [String: Any])?["amount"] as? Int == 31_500, "\(quote.rawBody)")
                #expect(try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: fan, body: ["goodsIds": [first]]).status == 200)
                #expect(try await sale.balance(fan) == 468_500)
                #expect((try await sale.call(.get, "/v1/me/coupons", fan: fan).json["items"] as? [[String: Any]])?.first?["status"] as? String == "used")
                // The last one back: the coupon is the fan's again, and works on a new order.
                let rest = try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: fan, body: ["goodsIds": [second]])
                #expect(rest.status == 200 && rest.json["status"] as? String == "cancelled", "\(rest.rawBody)")
                #expect(try await sale.balance(fan) == 500_000)
                #expect((try await sale.call(.get, "/v1/me/coupons", fan: fan).json["items"] as? [[String: Any]])?.first?["status"] as? String == "issued")
                let reused = try await shop.buy([["optionId": shop.medium, "quantity": 2]], fan: fan, coupon: couponID)
                #expect(reused.status == 201 && (reused.order["total"] as? [String: Any])?["amount"] as? Int == 63_000, "\(reused.rawBody)")

                // A coupon for other goods covers none of these.
                let other = try await sale.call(.post, "/v1/products", fan: shop.organizer, body: [
                    "name": "Light stick", "description": "", "options": [["name": "One", "price": ["amount": 45_000, "currency": "KRW"], "stock": 5]],
                ])
                let narrow = try await Self.coupon(sale, shop, ["discount": ["amount": 5_000], "productIds": [try #require(other.json["id"] as? String)]])
                let narrowID = try #require(narrow.json["id"] as? String)
                #expect(try await sale.call(.post, "/v1/coupons/\(narrowID)/claim", fan: fan).status == 201)
                let wrong = try await shop.buy([["optionId": shop.large, "quantity": 1]], fan: fan, coupon: narrowID)
                #expect(wrong.status == 409 && wrong.rawBody.contains("coupon-not-applicable"), "\(wrong.rawBody)")

                // Money conserved to the won.
                let paidTotal = try await sale.sum("SELECT CAST(SUM(total_amount) AS BIGINT) AS n FROM orders WHERE fan_id = 'fan'")
                let refunded = try await sale.sum("SELECT CAST(SUM(refunded_amount) AS BIGINT) AS n FROM orders WHERE fan_id = 'fan'")
                #expect(500_000 - (try await sale.balance(fan)) == paidTotal - refunded)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aThousandFansRushingAHundredCouponsGetExactlyAHundredEachToADifferentFan(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let shop = try await Shop.make(sale)
                let created = try await Self.coupon(sale, shop, ["discount": ["amount": 5_000], "totalIssuable": 100])
                let couponID = try #require(created.json["id"] as? String)
                let fans = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<1000 { group.addTask { try await OnSale.token(platform, userID: "rusher-\(index)") } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let statuses = try await Rush.statuses(of: fans) { fan in
                    try await sale.call(.post, "/v1/coupons/\(couponID)/claim", fan: fan).status
                }
                #expect(statuses[201] == 100 && statuses[409] == 900, "\(statuses)")
                #expect(try await sale.sum("SELECT COUNT(DISTINCT fan_id) AS n FROM fan_coupons WHERE coupon_id = \(bind: couponID)") == 100)
                #expect(try await sale.call(.get, "/v1/coupons/\(couponID)", fan: fans[0]).json["issued"] as? Int == 100)
            }
        }
    }
}
