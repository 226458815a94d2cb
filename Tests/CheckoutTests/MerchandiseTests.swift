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

/// Goods through the real API: an organizer's product with options and stock, bought alone or
/// with a seat in one order and one payment, cancelled line by line, and never oversold.
/// A rush of fans at once: every fan's request, 64 in flight at any moment (enough to race for
/// every unit; the whole test suite shares two cores), answered by status.
enum Rush {
    static func statuses(of fans: [String], inFlight: Int = 64, _ request: @escaping @Sendable (String) async throws -> Int) async throws
        -> [Int: Int]
    {
        try await withThrowingTaskGroup(of: Int.self) { group in
            var statuses: [Int: Int] = [:]
            var next = fans.makeIterator()
            for _ in 0..<inFlight { if let fan = next.next() { group.addTask { try await request(fan) } } }
            while let status = try await group.next() {
                statuses[status, default: 0] += 1
                if let fan = next.next() { group.addTask { try await request(fan) } }
            }
            return statuses
        }
    }
}

@Suite struct MerchandiseTests {
    /// A T-shirt in two sizes (35,000 won, 5 per fan) and a light stick, tied to the sale's event.
    struct Shop: Sendable {
        let sale: OnSale
        let organizer: String
        let productID: String
        let medium: String
        let large: String

        static func make(_ sale: OnSale, stock: Int = 10, maxPerFan: Int? = 5) async throws -> Shop {
            let organizer = try await OnSale.token(sale.platform, userID: "organizer", roles: [.organizer])
            var body: [String: Any] = [
                "name": "Tour T-shirt", "description": "Black, cotton.", "eventId": sale.eventID,
                "options": [
                    ["name": "M", "price": ["amount": 35_000, "currency": "KRW"], "stock": stock],
                    ["name": "L", "price": ["amount": 35_000, "currency": "KRW"], "stock": stock],
                ],
            ]
            if let maxPerFan { body["maxPerFan"] = maxPerFan }
            let created = try await sale.call(.post, "/v1/products", fan: organizer, body: body)
            #expect(created.status == 201, "\(created.rawBody)")
            let options = try #require(created.json["options"] as? [[String: Any]])
            return Shop(
                sale: sale, organizer: organizer, productID: try #require(created.json["id"] as? String), medium: try #require(options[0]["id"] as? String),
                large: try #require(options[1]["id"] as? String))
        }

        func stock(_ optionID: String) async throws -> Int {
            let product = try await sale.call(.get, "/v1/products/\(productID)", fan: organizer)
            let option = (product.json["options"] as? [[String: Any]])?.first { $0["id"] as? String == optionID }
            return option?["stock"] as? Int ?? -1
        }

        func buy(
            _ items: [[String: Any]], hold: String? = nil, fan: String, method: String = "wallet", coupon: String? = nil, key: String = UUID().uuidString
        ) async throws -> OnSale.Reply {
            var body: [String: Any] = ["items": items, "method": method]
            if let hold { body["holdId"] = hold }
            if let coupon { body["couponId"] = coupon }
            return try await sale.call(.post, "/v1/checkout", fan: fan, body: body, headers: [HTTPField.Name("Idempotency-Key")!: key])
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func organizersListGoodsWithOptionsAndStockUnderTheSameChecksAsAnyInput(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let shop = try await Shop.make(sale)
                let fan = try await OnSale.token(platform, userID: "fan")
                let price = ["amount": 1_000, "currency": "KRW"] as [String: Any]

                // Refusals name the field and keep nothing.
                let bad = try await sale.call(.post, "/v1/products", fan: shop.organizer, body: [
                    "name": " ", "description": "", "options": [["name": "M", "price": price, "stock": -1], ["name": "m", "price": price, "stock": 1]],
                ])
                #expect(bad.status == 422, "\(bad.rawBody)")
                let fields = Set(((bad.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String })
                #expect(fields.isSuperset(of: ["name", "options[0].stock", "options"]), "\(fields)")
                #expect(try await sale.call(.post, "/v1/products", fan: shop.organizer, body: [
                    "name": "Cap", "description": "", "options": [],
                ]).status == 422)
                #expect(try await sale.call(.post, "/v1/products", fan: fan, body: [
                    "name": "Cap", "description": "", "options": [["name": "One", "price": price, "stock": 1]],
                ]).status == 403)
                let stranger = try await OnSale.token(platform, userID: "someone-else", roles: [.organizer])
                let notTheirs = try await sale.call(.post, "/v1/products", fan: stranger, body: [
                    "name": "Cap", "description": "", "eventId": sale.eventID, "options": [["name": "One", "price": price, "stock": 1]],
                ])
                #expect(notTheirs.status == 422 && notTheirs.rawBody.contains("eventId"), "\(notTheirs.rawBody)")

                // The shop lists it for anyone, with what is left; searching finds it by name.
                let listed = try await sale.call(.get, "/v1/products?eventId=\(sale.eventID)", fan: fan)
                #expect((listed.json["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [shop.productID], "\(listed.rawBody)")
                let found = try await sale.call(.get, "/v1/products?q=t-shirt", fan: fan)
                #expect((found.json["items"] as? [[String: Any]])?.count == 1)
                #expect(try await shop.stock(shop.medium) == 10)

                // Renamed, a new option added, stock set; another organizer may do none of it.
                let changed = try await sale.call(.patch, "/v1/products/\(shop.productID)", fan: shop.organizer, body: [
                    "name": "Tour T-shirt 2026", "options": [["name": "XL", "price": ["amount": 38_000, "currency": "KRW"], "stock": 3]],
                ])
                #expect(changed.status == 200, "\(changed.rawBody)")
                #expect((changed.json["options"] as? [[String: Any]])?.map { $0["name"] as? String } == ["M", "L", "XL"])
                let restocked = try await sale.call(
                    .put, "/v1/products/\(shop.productID)/options/\(shop.large)/stock", fan: shop.organizer, body: ["stock": 25])
                #expect(restocked.status == 200, "\(restocked.rawBody)")
                #expect(try await shop.stock(shop.large) == 25, "the stock is read fresh, not from the cached product")
                #expect(try await sale.call(
                    .put, "/v1/products/\(shop.productID)/options/\(shop.large)/stock", fan: shop.organizer, body: ["stock": -5]).status == 422)
                #expect(try await sale.call(.patch, "/v1/products/\(shop.productID)", fan: stranger, body: ["name": "Mine"]).status == 404)
                #expect(try await sale.call(.get, "/v1/products/\(shop.productID)", fan: fan).json["name"] as? String == "Tour T-shirt 2026")

                // Archived: off the shop's list, still readable by ID, and not for sale.
                #expect(try await sale.call(.patch, "/v1/products/\(shop.productID)", fan: shop.organizer, body: ["status": "archived"]).status == 200)
                #expect((try await sale.call(.get, "/v1/products", fan: fan).json["items"] as? [Any])?.isEmpty == true)
                try await sale.grant(100_000, to: "fan")
                let closed = try await shop.buy([["optionId": shop.medium, "quantity": 1]], fan: fan)
                #expect(closed.status == 409 && closed.rawBody.contains("not-on-sale"), "\(closed.rawBody)")
                #expect(try await sale.balance(fan) == 100_000)
                let desk = try await sale.call(.get, "/v1/organizers/me/products", fan: shop.organizer)
                #expect((desk.json["items"] as? [[String: Any]])?.first?["status"] as? String == "archived")
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aTicketAndGoodsAreOneOrderAndOnePaymentAndComeBackLineByLine(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let shop = try await Shop.make(sale, stock: 3, maxPerFan: 5)
                let fan = try await OnSale.token(platform, userID: "fan")
                try await sale.grant(500_000, to: "fan")

                let hold = try await sale.holdID([sale.seatIDs[0]], fan: fan)
                let paid = try await shop.buy([["optionId": shop.medium, "quantity": 2]], hold: hold, fan: fan)
                #expect(paid.status == 201, "\(paid.rawBody)")
                let order = paid.order
                #expect((order["total"] as? [String: Any])?["amount"] as? Int == 110_000 + 2 * 35_000)
                #expect((order["items"] as? [Any])?.count == 1 && paid.tickets.count == 1, "one ticket")
                let goods = try #require(order["goods"] as? [[String: Any]])
                #expect(goods.count == 1 && goods[0]["quantity"] as? Int == 2 && goods[0]["name"] as? String == "Tour T-shirt")
                #expect((order["payments"] as? [Any])?.count == 1, "one payment for both")
                #expect(try await sale.balance(fan) == 500_000 - 180_000)
                #expect(try await shop.stock(shop.medium) == 1)

                // Too few left: 409 naming the option; nothing taken, nothing charged, the hold untouched.
                let hold2 = try await sale.holdID([sale.seatIDs[1]], fan: fan)
                let short = try await shop.buy(
                    [["optionId": shop.medium, "quantity": 2], ["optionId": shop.large, "quantity": 1]], hold: hold2, fan: fan)
                #expect(short.status == 409, "\(short.rawBody)")
                #expect((short.json["soldOutOptionIds"] as? [String]) == [shop.medium], "\(short.rawBody)")
                #expect(try await sale.balance(fan) == 320_000)
                #expect(try await shop.stock(shop.large) == 3, "the large one was not taken either")
                #expect(try await sale.checkout(hold: hold2, fan: fan).status == 201, "the seat is still payable")
                // The fan's limit counts what they have: 2 bought, 5 allowed.
                let over = try await shop.buy([["optionId": shop.large, "quantity": 4]], fan: fan)
                #expect(over.status == 409 && over.rawBody.contains("limit-reached"), "\(over.rawBody)")

                // Goods alone: an order with no performance or hold.
                let alone = try await shop.buy([["optionId": shop.large, "quantity": 1]], fan: fan)
                #expect(alone.status == 201, "\(alone.rawBody)")
                #expect(alone.order["performanceId"] == nil && alone.order["holdId"] == nil)
                #expect(try await sale.balance(fan) == 320_000 - 110_000 - 35_000)

                // Cancelling the goods line of the first order: the whole price back, stock back, the ticket kept.
                let orderID = try #require(order["id"] as? String)
                let goodsID = try #require(goods[0]["id"] as? String)
                let quote = try await sale.call(.post, "/v1/orders/\(orderID)/cancel?dryRun=true", fan: fan, body: ["goodsIds": [goodsID]])
                #expect((quote.json["refund"] as? [String: Any])?["amount"] as? Int == 70_000, "\(quote.rawBody)")
                let partly = try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: fan, body: ["goodsIds": [goodsID]])
                #expect(partly.status == 200, "\(partly.rawBody)")
                #expect(partly.json["status"] as? String == "partially_cancelled")
                #expect(try await shop.stock(shop.medium) == 3)
                #expect(try await sale.balance(fan) == 175_000 + 70_000)
                #expect(try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: fan, body: ["goodsIds": [goodsID]]).status == 422,
                        "a cancelled line is not active")
                // The rest of it (the ticket) with the usual fee rules; then nothing is left.
                let rest = try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: fan)
                #expect(rest.status == 200 && rest.json["status"] as? String == "cancelled", "\(rest.rawBody)")
                #expect(try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: fan).status == 409)
                let history = (rest.json["history"] as? [[String: Any]])?.compactMap { $0["status"] as? String }
                #expect(history == ["paid", "partially_cancelled", "cancelled"], "\(history ?? [])")

                // Money conserved to the won: granted − held = paid totals − refunds.
                let paidTotal = try await sale.sum("SELECT CAST(SUM(total_amount) AS BIGINT) AS n FROM orders WHERE fan_id = 'fan'")
                let refunded = try await sale.sum("SELECT CAST(SUM(refunded_amount) AS BIGINT) AS n FROM orders WHERE fan_id = 'fan'")
                #expect(500_000 - (try await sale.balance(fan)) == paidTotal - refunded)
                // The fan's count follows what they have: 1 large now.
                #expect(try await sale.sum("SELECT CAST(SUM(quantity) AS BIGINT) AS n FROM fan_product_quantities WHERE fan_id = 'fan'") == 1)
            }
        }    }

    @Test(arguments: DatabaseDialect.allCases)
    func byCardTheGoodsWaitForThePaymentAndAFailedOrLatePaymentPutsThemBack(dialect: DatabaseDialect) async throws {
        let clock = ManualClock(Date())
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let shop = try await Shop.make(sale, stock: 5, maxPerFan: nil)
                let gateway = GatewaySale(sale: sale, fan: try await OnSale.token(platform, userID: "fan-1"), sandbox: try #require(platform.sandboxGateway))
                func start(_ items: [[String: Any]], hold: String? = nil) async throws -> (order: String, payment: String) {
                    let started = try await shop.buy(items, hold: hold, fan: gateway.fan, method: "gateway")
                    #expect(started.status == 202, "\(started.rawBody)")
                    let intent = try #require(started.json["paymentIntent"] as? [String: Any])
                    return (try #require(started.order["id"] as? String), try #require(intent["paymentId"] as? String))
                }

                // Paid: the seat's tickets and the goods in one order, for one amount.
                let hold = try await sale.holdID([sale.seatIDs[0]], fan: gateway.fan)
                let both = try await start([["optionId": shop.medium, "quantity": 2]], hold: hold)
                #expect(try await shop.stock(shop.medium) == 3, "taken while the fan pays")
                _ = try gateway.sandbox.pay(paymentID: both.payment, outcome: .paid, sendWebhook: false)
                #expect(try await gateway.webhook(payment: both.payment) == 200)
                let paid = try await gateway.order(both.order)
                #expect(paid.json["status"] as? String == "paid", "\(paid.rawBody)")
                #expect((paid.json["items"] as? [Any])?.count == 1 && (paid.json["goods"] as? [Any])?.count == 1)
                #expect((paid.json["total"] as? [String: Any])?["amount"] as? Int == 110_000 + 70_000)
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM stock_reservations WHERE status = 'sold'") == 1)
                #expect(try await sale.outboxCount("goods.sold") == 1)

                // Declined: the goods go back on sale at once.
                let declined = try await start([["optionId": shop.large, "quantity": 1]])
                #expect(try await shop.stock(shop.large) == 4)
                _ = try gateway.sandbox.pay(paymentID: declined.payment, outcome: .failed, sendWebhook: false)
                #expect(try await gateway.webhook("Transaction.Failed", payment: declined.payment) == 200)
                #expect(try await gateway.order(declined.order).json["status"] as? String == "payment_failed")
                #expect(try await shop.stock(shop.large) == 5)

                // Late: the window passed and the sweep put the goods back; the payment is refunded in full.
                let late = try await start([["optionId": shop.large, "quantity": 3]])
                clock.advance(by: 11 * 60)
                #expect(try await platform.products.releaseLapsed() == 1)
                #expect(try await shop.stock(shop.large) == 5)
                _ = try gateway.sandbox.pay(paymentID: late.payment, outcome: .paid, sendWebhook: false)
                #expect(try await gateway.webhook(payment: late.payment) == 200)
                let refunded = try await gateway.order(late.order)
                #expect(refunded.json["status"] as? String == "cancelled", "\(refunded.rawBody)")
                #expect((refunded.json["refunded"] as? [String: Any])?["amount"] as? Int == 105_000)
                let note = (refunded.json["history"] as? [[String: Any]])?.last?["note"] as? String
                #expect(note?.contains("gone back on sale") == true, "\(note ?? "")")
                #expect(try await shop.stock(shop.large) == 5, "nothing was taken twice")
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func popularProductsRankTheLastThreeDaysOfSalesFromEventsRefreshedEveryTenMinutes(dialect: DatabaseDialect) async throws {
        let clock = ManualClock(Date())
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let shop = try await Shop.make(sale, stock: 50, maxPerFan: nil)
                let fan = try await OnSale.token(platform, userID: "fan")
                try await sale.grant(2_000_000, to: "fan")
                func product(_ name: String) async throws -> String {
                    let made = try await sale.call(.post, "/v1/products", fan: shop.organizer, body: [
                        "name": name, "description": "", "options": [["name": "One", "price": ["amount": 10_000, "currency": "KRW"], "stock": 50]],
                    ])
                    return try #require((made.json["options"] as? [[String: Any]])?.first?["id"] as? String)
                }
                let stick = try await product("Light stick"), book = try await product("Photo book")
                func ranking() async throws -> [String] {
                    try await platform.relay.deliverPending()
                    // A fresh token: the clock moves on by more than a token lasts.
                    let popular = try await sale.call(.get, "/v1/products/popular", fan: try await OnSale.token(platform, userID: "onlooker"))
                    return (popular.json["items"] as? [[String: Any]] ?? []).map {
                        "\(($0["product"] as? [String: Any])?["name"] as? String ?? "?") \($0["unitsSold"] as? Int ?? -1)"
                    }
                }
                #expect(try await ranking() == [])
                clock.advance(by: 601)
                _ = try await shop.buy([["optionId": shop.medium, "quantity": 2], ["optionId": shop.large, "quantity": 2]], fan: fan)
                _ = try await shop.buy([["optionId": book, "quantity": 1]], fan: fan)
                let returned = try await shop.buy([["optionId": stick, "quantity": 3]], fan: fan)
                #expect(try await sale.call(.post, "/v1/orders/\(try #require(returned.order["id"] as? String))/cancel", fan: fan).status == 200)
                #expect(try await ranking() == ["Tour T-shirt 4", "Photo book 1"], "a returned sale does not count")
                // The ranking is kept for ten minutes, then worked out again.
                _ = try await shop.buy([["optionId": stick, "quantity": 5]], fan: fan)
                #expect(try await ranking() == ["Tour T-shirt 4", "Photo book 1"])
                clock.advance(by: 601)
                #expect(try await ranking() == ["Light stick 5", "Tour T-shirt 4", "Photo book 1"])
                // Three days on, those sales have aged out.
                clock.advance(by: 3 * 86_400)
                #expect(try await ranking() == [])
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM product_sales") >= 3, "counted from events, not from orders")
            }
        }
    }

    /// Sixty fans pay from their wallets at once for two T-shirts each, with stock for fifty:
    /// fifty orders are paid, ten refused with nothing taken, and every point is where it should be.
    @Test(arguments: DatabaseDialect.allCases)
    func sixtyFansPayingFromTheirWalletsAtOnceForFiftyOrdersOfStockConserveEveryPoint(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let shop = try await Shop.make(sale, stock: 50, maxPerFan: nil)
                var fans: [String] = []
                for index in 0..<60 {
                    try await sale.grant(100_000, to: "wallet-fan-\(index)")
                    fans.append(try await OnSale.token(platform, userID: "wallet-fan-\(index)"))
                }
                let statuses = try await Rush.statuses(of: fans) { fan in
                    try await shop.buy([["optionId": shop.medium, "quantity": 1], ["optionId": shop.large, "quantity": 1]], fan: fan).status
                }
                #expect(statuses[201] == 50 && statuses[409] == 10, "\(statuses)")
                #expect(try await shop.stock(shop.medium) == 0)
                #expect(try await shop.stock(shop.large) == 0)
                let balances = try await platform.database.read { sql in
                    try await sql.raw("SELECT balance FROM wallets WHERE user_id LIKE 'wallet-fan-%'").all().map { try $0.decode(column: "balance", as: Int64.self) }
                }
                #expect(balances.count == 60)
                #expect(balances.filter { $0 == 30_000 }.count == 50 && balances.filter { $0 == 100_000 }.count == 10, "\(balances.sorted())")
                #expect(try await sale.sum("""
                    SELECT CAST(SUM(amount) AS BIGINT) AS n FROM payments WHERE method = 'wallet' AND status = 'paid' AND user_id LIKE 'wallet-fan-%'
                    """) == 50 * 70_000)
                #expect(try await sale.sum("""
                    SELECT CAST(SUM(-amount) AS BIGINT) AS n FROM wallet_ledger WHERE reason = 'purchase' AND user_id LIKE 'wallet-fan-%'
                    """) == 50 * 70_000, "the ledger agrees with the payments")
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM orders WHERE status = 'paid' AND fan_id LIKE 'wallet-fan-%'") == 50)
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM order_goods WHERE status = 'active'") == 100)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aThousandBuyersForAHundredUnitsGetExactlyAHundredAndLapsedPaymentsGiveThemBack(dialect: DatabaseDialect) async throws {
        let clock = ManualClock(Date())
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let shop = try await Shop.make(sale, stock: 100, maxPerFan: nil)
                // Gateway checkouts: each takes its unit while the fan pays, no wallet needed.
                let fans = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<1000 { group.addTask { try await OnSale.token(platform, userID: "buyer-\(index)") } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let statuses = try await Rush.statuses(of: fans) { fan in
                    try await shop.buy([["optionId": shop.medium, "quantity": 1]], fan: fan, method: "gateway").status
                }
                #expect(statuses[202] == 100 && statuses[409] == 900, "\(statuses)")
                #expect(try await shop.stock(shop.medium) == 0)
                #expect(try await sale.sum("""
                    SELECT CAST(SUM(quantity) AS BIGINT) AS n FROM stock_reservations WHERE option_id = \(bind: shop.medium) AND status = 'held'
                    """) == 100)
                #expect(try await sale.sum("SELECT COUNT(DISTINCT fan_id) AS n FROM stock_reservations") == 100)

                // Nobody pays: once the payment window has passed, the sweep puts every unit back.
                clock.advance(by: 11 * 60)
                var released = 0
                while case let count = try await platform.products.releaseLapsed(), count > 0 { released += count }
                #expect(released == 100)
                #expect(try await shop.stock(shop.medium) == 100)
                #expect(try await sale.sum("SELECT CAST(SUM(quantity) AS BIGINT) AS n FROM fan_product_quantities") == 0)
            }
        }
    }
}
