import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Persistence
import TestSupport
import Testing

@Suite struct AvailabilityTests {
    private func availability(_ sale: OnSale) async throws -> (seats: [String: String], tiers: [[String: Any]]) {
        // The read model follows events: deliver them, then let the half-second cache lapse.
        try await sale.platform.relay.deliverPending()
        try await Task.sleep(for: .milliseconds(600))
        let reply = try await sale.client.execute(uri: "/v1/performances/\(sale.performanceID)/availability", method: .get) { response in
            #expect(response.status == .ok)
            return try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
        }
        let seats = (reply["seats"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
            $0[$1["id"] as? String ?? ""] = $1["state"] as? String
        }
        return (seats, reply["tiers"] as? [[String: Any]] ?? [])
    }

    @Test(arguments: DatabaseDialect.allCases)
    func theSeatMapShowsHeldSeatsAndTierCountsAsHoldsComeAndGo(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, rows: 2)
                var (seats, tiers) = try await availability(sale)
                #expect(seats.count == 20)
                #expect(Set(seats.values) == ["available"])
                #expect(tiers.first?["available"] as? Int == 20)
                #expect((tiers.first?["price"] as? [String: Any])?["amount"] as? Int == 110_000)

                let fan = try await OnSale.token(platform, userID: "fan")
                let hold = try await sale.hold(["seatIds": Array(sale.seatIDs.prefix(2))], fan: fan)
                (seats, tiers) = try await availability(sale)
                #expect(sale.seatIDs.prefix(2).allSatisfy { seats[$0] == "held" })
                #expect(seats.values.filter { $0 == "available" }.count == 18)
                #expect(tiers.first?["held"] as? Int == 2)
                #expect(tiers.first?["available"] as? Int == 18)

                #expect(try await sale.call(.delete, "/v1/holds/\(hold.json["id"] as? String ?? "")", fan: fan).status == 204)
                (seats, tiers) = try await availability(sale)
                #expect(Set(seats.values) == ["available"])
                #expect(tiers.first?["held"] as? Int == 0)
            }
        }
    }

    @Test func generalAdmissionCountsUnitsPerTier() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, quota: 50)
                let fan = try await OnSale.token(platform, userID: "fan")
                #expect(try await sale.hold(["tier": "Standing", "quantity": 3], fan: fan).status == 201)
                let (seats, tiers) = try await availability(sale)
                #expect(seats.isEmpty)
                #expect(tiers.first?["tier"] as? String == "Standing")
                #expect(tiers.first?["held"] as? Int == 3)
                #expect(tiers.first?["available"] as? Int == 47)
            }
        }
    }

    @Test func anUnknownPerformanceHasNoAvailability() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                try await client.execute(uri: "/v1/performances/nope/availability", method: .get) { response in
                    #expect(response.status == .notFound)
                }
            }
        }
    }
}

@Suite struct ListingStockTests {
    @Test(arguments: DatabaseDialect.allCases)
    func soldOutEventsDropOutOfAvailableAndDemandOrdersPopularity(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let quiet = try await OnSale.make(client, platform, quota: 5)
                let busy = try await OnSale.make(client, platform, quota: 2)
                let quietEvent = try await platform.catalog.performance(id: quiet.performanceID, viewer: nil).eventId
                let busyEvent = try await platform.catalog.performance(id: busy.performanceID, viewer: nil).eventId
                var holds: [(fan: String, id: String)] = []
                for index in 0..<2 {
                    let fan = try await OnSale.token(platform, userID: "fan-\(index)")
                    let hold = try await busy.hold(["tier": "Standing", "quantity": 1], fan: fan)
                    #expect(hold.status == 201)
                    holds.append((fan, hold.json["id"] as? String ?? ""))
                }
                try await platform.relay.deliverPending()
                func ids(_ query: String) async throws -> [String] {
                    try await client.execute(uri: "/v1/events?\(query)", method: .get) { response in
                        let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                        return (object?["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                    }
                }
                #expect(try await ids("available=true") == [quietEvent])
                #expect(try await ids("sort=popularity") == [busyEvent, quietEvent])

                // Releasing a hold gives the stock back; demand already seen stays.
                #expect(try await busy.call(.delete, "/v1/holds/\(holds[0].id)", fan: holds[0].fan).status == 204)
                try await platform.relay.deliverPending()
                #expect(Set(try await ids("available=true")) == [quietEvent, busyEvent])
                #expect(try await ids("sort=popularity") == [busyEvent, quietEvent])
                #expect(try await ids("available=maybe").isEmpty)
            }
        }
    }
}
