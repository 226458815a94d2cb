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

/// Goods delivered: a fan's addresses, shipments made from paid orders through events, orders
/// to one address combined into one shipment with one fee, staff moving them on, and the fee
/// given back whenever an order's goods no longer need a parcel of their own.
@Suite struct ShippingTests {
    typealias Shop = MerchandiseTests.Shop

    @Test(arguments: DatabaseDialect.allCases)
    func ordersToOneAddressShipTogetherForOneFeeAndStaffSendThemWithATrackingNumber(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let shop = try await Shop.make(sale, stock: 20, maxPerFan: nil)
                let fan = try await OnSale.token(platform, userID: "fan")
                let staff = try await OnSale.token(platform, userID: "packer", roles: [.staff])
                try await sale.grant(500_000, to: "fan")
                func address(_ line: String) async throws -> String {
                    let made = try await sale.call(.post, "/v1/me/addresses", fan: fan, body: [
                        "recipient": "김민지", "phone": "010-1234-5678", "postcode": "05551", "address1": line, "address2": "101동 1001호",
                        "note": "문 앞에 놓아 주세요",
                    ])
                    #expect(made.status == 201, "\(made.rawBody)")
                    return try #require(made.json["id"] as? String)
                }
                func order(_ id: String) async throws -> OnSale.Reply {
                    // Order → shipment → order: each hop is an event of its own.
                    for _ in 0..<3 { try await platform.relay.deliverPending() }
                    return try await sale.call(.get, "/v1/orders/\(id)", fan: fan)
                }
                func buy(_ option: String, to addressID: String) async throws -> String {
                    let paid = try await sale.call(
                        .post, "/v1/checkout", fan: fan, body: ["items": [["optionId": option, "quantity": 1]], "addressId": addressID, "method": "wallet"],
                        headers: OnSale.idempotencyKey())
                    #expect(paid.status == 201, "\(paid.rawBody)")
                    #expect((paid.order["total"] as? [String: Any])?["amount"] as? Int == 38_000, "35,000 and the 3,000 fee")
                    return try #require(paid.order["id"] as? String)
                }
                func shipmentOf(_ orderID: String) async throws -> [String: Any] {
                    try #require(try await order(orderID).json["shipment"] as? [String: Any])
                }

                let bad = try await sale.call(.post, "/v1/me/addresses", fan: fan, body: [
                    "recipient": "김민지", "phone": "12", "postcode": "5551", "address1": " ",
                ])
                #expect(bad.status == 422, "\(bad.rawBody)")
                #expect(Set(((bad.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String }) == ["phone", "postcode", "address1"])
                let home = try await address("서울특별시 송파구 올림픽로 424")
                let office = try await address("서울특별시 중구 세종대로 110")
                #expect((try await sale.call(.get, "/v1/me/addresses", fan: fan).json["items"] as? [Any])?.count == 2)
                let strangerAddress = try await sale.call(
                    .post, "/v1/checkout", fan: try await OnSale.token(platform, userID: "other-fan"),
                    body: ["items": [["optionId": shop.medium, "quantity": 1]], "addressId": home, "method": "wallet"], headers: OnSale.idempotencyKey())
                #expect(strangerAddress.status == 422 && strangerAddress.rawBody.contains("addressId"), "\(strangerAddress.rawBody)")

                // Two orders home: one shipment, and the second order's fee comes back.
                let first = try await buy(shop.medium, to: home)
                let shipment = try await shipmentOf(first)
                #expect(try await order(first).json["status"] as? String == "preparing")
                let second = try await buy(shop.large, to: home)
                let combined = try await shipmentOf(second)
                #expect(combined["id"] as? String == shipment["id"] as? String, "combined shipping")
                #expect(combined["orderIds"] as? [String] == [first, second].sorted())
                #expect((try await order(second).json["refunded"] as? [String: Any])?["amount"] as? Int == 3_000)
                #expect(try await sale.balance(fan) == 500_000 - 38_000 - 35_000)

                // One to the office: a shipment of its own. Staff cannot combine different addresses…
                let third = try await buy(shop.medium, to: office)
                let officeShipment = try #require(try await shipmentOf(third)["id"] as? String)
                #expect(officeShipment != shipment["id"] as? String)
                let apart = try await sale.call(.post, "/v1/shipments/merge", fan: staff, body: ["orderIds": [first, third]])
                #expect(apart.status == 409, "\(apart.rawBody)")
                // …until the fan sends that parcel home too; then staff combine them, and its fee goes back.
                let moved = try await sale.call(.put, "/v1/shipments/\(officeShipment)/address", fan: fan, body: ["addressId": home])
                #expect(moved.status == 200, "\(moved.rawBody)")
                let notes = (try await order(third).json["history"] as? [[String: Any]])?.compactMap { $0["note"] as? String } ?? []
                #expect(notes.contains { $0.contains("delivery address changed") }, "\(notes)")
                let merged = try await sale.call(.post, "/v1/shipments/merge", fan: staff, body: ["orderIds": [first, third]])
                #expect(merged.status == 200 && (merged.json["orderIds"] as? [String])?.count == 3, "\(merged.rawBody)")
                #expect((try await order(third).json["refunded"] as? [String: Any])?["amount"] as? Int == 3_000)

                // The first order's goods are cancelled: it leaves the parcel, which still ships (its fee paid for it).
                let cancelled = try await sale.call(.post, "/v1/orders/\(first)/cancel", fan: fan)
                #expect(cancelled.status == 200, "\(cancelled.rawBody)")
                #expect(try await shipmentOf(second)["orderIds"] as? [String] == [second, third].sorted())
                #expect((try await order(first).json["refunded"] as? [String: Any])?["amount"] as? Int == 35_000)

                // Staff send it: a carrier and a tracking number are needed; the orders follow, with who did it.
                let fans = try await sale.call(.get, "/v1/shipments?status=preparing", fan: fan)
                #expect(fans.status == 403)
                let waiting = try await sale.call(.get, "/v1/shipments?status=preparing", fan: staff)
                #expect((waiting.json["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [shipment["id"] as? String], "\(waiting.rawBody)")
                let packing = ((waiting.json["items"] as? [[String: Any]])?.first?["packingList"] as? [[String: Any]]) ?? []
                #expect(packing.map { "\($0["name"] ?? "") \($0["optionName"] ?? "") ×\($0["quantity"] ?? "")" } == ["Tour T-shirt L ×1", "Tour T-shirt M ×1"],
                        "the packing list: what the two orders left in it put in the parcel")
                let shipmentID = try #require(shipment["id"] as? String)
                let untracked = try await sale.call(.post, "/v1/shipments/\(shipmentID)/status", fan: staff, body: ["status": "shipped"])
                #expect(untracked.status == 422 && untracked.rawBody.contains("trackingNumber"), "\(untracked.rawBody)")
                #expect(try await sale.call(.post, "/v1/shipments/\(shipmentID)/status", fan: fan, body: ["status": "delivered"]).status == 403)
                let sent = try await sale.call(
                    .post, "/v1/shipments/\(shipmentID)/status", fan: staff, body: ["status": "shipped", "carrier": "CJ대한통운", "trackingNumber": "6892 1234 5678"])
                #expect(sent.status == 200, "\(sent.rawBody)")
                let shipped = try await order(second)
                #expect(shipped.json["status"] as? String == "shipped")
                #expect((shipped.json["shipment"] as? [String: Any])?["trackingNumber"] as? String == "6892 1234 5678")
                let lastNote = (shipped.json["history"] as? [[String: Any]])?.last?["note"] as? String ?? ""
                #expect(lastNote.contains("CJ대한통운") && lastNote.contains("by packer"), "\(lastNote)")
                #expect(try await sale.call(.post, "/v1/orders/\(second)/cancel", fan: fan).status == 409, "goods that left cannot be cancelled")
                #expect(try await sale.call(.post, "/v1/shipments/\(shipmentID)/status", fan: staff, body: ["status": "delivered"]).status == 200)
                #expect(try await order(third).json["status"] as? String == "delivered")
                #expect(try await sale.call(.put, "/v1/shipments/\(shipmentID)/address", fan: fan, body: ["addressId": office]).status == 409)

                // After it left, a new order home is a new parcel; cancelled whole, nothing ships, and its fee comes back.
                let fourth = try await buy(shop.large, to: home)
                #expect(try await shipmentOf(fourth)["id"] as? String != shipmentID)
                #expect(try await sale.call(.post, "/v1/orders/\(fourth)/cancel", fan: fan).status == 200)
                let lone = try await order(fourth)
                #expect((lone.json["shipment"] as? [String: Any])?["status"] as? String == nil, "it left its shipment")
                #expect((lone.json["refunded"] as? [String: Any])?["amount"] as? Int == 38_000, "\(lone.rawBody)")
                let other = try await OnSale.token(platform, userID: "nosy-fan")
                #expect(try await sale.call(.get, "/v1/shipments/\(shipmentID)", fan: other).status == 404)

                // Money conserved to the won.
                let paidTotal = try await sale.sum("SELECT CAST(SUM(total_amount) AS BIGINT) AS n FROM orders WHERE fan_id = 'fan'")
                let refunded = try await sale.sum("SELECT CAST(SUM(refunded_amount) AS BIGINT) AS n FROM orders WHERE fan_id = 'fan'")
                #expect(500_000 - (try await sale.balance(fan)) == paidTotal - refunded)
                #expect(paidTotal - refunded == 3_000 + 35_000 + 35_000, "one shipment's fee, the second and third shirts")
            }
        }
    }
}
