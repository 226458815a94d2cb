import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Identity
import Persistence
import SQLKit
import TestSupport
import Testing

/// An on-sale performance built through the real API, and fans to buy it.
struct OnSale {
    let client: any TestClientProtocol
    let platform: BoxofficePlatform
    let performanceID: String
    let seatIDs: [String]

    /// A parsed reply; the JSON is never mutated after parsing, so sharing it across tasks is safe.
    struct Reply: @unchecked Sendable {
        let status: Int
        let json: [String: Any]
        let rawBody: String
    }

    /// A venue of `rows` × 10 seats (tier R), or general admission with `quota`, on sale now.
    static func make(
        _ client: any TestClientProtocol, _ platform: BoxofficePlatform, rows: Int = 10, quota: Int? = nil,
        onSaleIn: TimeInterval = -3600, limits: [String: Int] = [:]
    ) async throws -> OnSale {
        let organizer = try await token(platform, userID: "organizer", roles: [.organizer])
        let now = platform.clock.now()
        func iso(_ offset: TimeInterval) -> String { now.addingTimeInterval(offset).formatted(Date.ISO8601FormatStyle()) }
        func call(_ method: HTTPRequest.Method, _ path: String, _ body: [String: Any]? = nil, csv: String? = nil) async throws -> [String: Any] {
            var headers: HTTPFields = [.authorization: "Bearer \(organizer)"]
            var buffer: ByteBuffer?
            if let body { headers[.contentType] = "application/json"; buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)) }
            if let csv { headers[.contentType] = "text/csv"; buffer = ByteBuffer(string: csv) }
            return try await client.execute(uri: path, method: method, headers: headers, body: buffer) { response in
                #expect(response.status.code < 300, "\(method) \(path): \(String(buffer: response.body))")
                return (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] ?? [:]
            }
        }
        let venue = try #require(try await call(.post, "/v1/venues", ["name": "Hall", "address": "Seoul"])["id"] as? String)
        let csv = (1...rows).flatMap { row in (1...10).map { seat in "A,\(row),\(seat),\(seat),\(row),R" } }.joined(separator: "\n")
        _ = try await call(.put, "/v1/venues/\(venue)/seatmap", csv: csv)
        let event = try #require(try await call(.post, "/v1/events", [
            "title": "On-sale", "description": "", "artist": "Band", "category": "concert", "venueId": venue,
        ])["id"] as? String)
        var performance: [String: Any] = [
            "startsAt": iso(30 * 86400), "onSaleFrom": iso(onSaleIn), "onSaleUntil": iso(29 * 86400),
            "prices": [["tier": quota == nil ? "R" : "Standing", "price": ["amount": 110_000, "currency": "KRW"]]],
        ]
        if let quota { performance["generalAdmission"] = [["tier": "Standing", "quota": quota]] }
        performance.merge(limits.mapValues { $0 as Any }) { _, new in new }
        let performanceID = try #require(try await call(.post, "/v1/events/\(event)/performances", performance)["id"] as? String)
        _ = try await call(.post, "/v1/events/\(event)/publish")
        // Inventory is built from performance.scheduled: deliver it now instead of waiting for the relay.
        try await platform.relay.deliverPending()
        let seats = try await platform.database.read { sql in
            try await sql.raw("SELECT seat_id FROM performance_seats WHERE performance_id = \(bind: performanceID) ORDER BY label").all()
                .map { try $0.decode(column: "seat_id", as: String.self) }
        }
        return OnSale(client: client, platform: platform, performanceID: performanceID, seatIDs: seats)
    }

    static func token(_ platform: BoxofficePlatform, userID: String, roles: [Role] = [.fan]) async throws -> String {
        try await platform.identity.issueAccessToken(for: User(id: userID, email: "\(userID)@example.com", name: userID, roles: roles))
    }

    func call(_ method: HTTPRequest.Method, _ path: String, fan: String, body: [String: Any]? = nil) async throws -> Reply {
        var headers: HTTPFields = [.authorization: "Bearer \(fan)"]
        var buffer: ByteBuffer?
        if let body { headers[.contentType] = "application/json"; buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)) }
        return try await client.execute(uri: path, method: method, headers: headers, body: buffer) { response in
            Reply(
                status: response.status.code,
                json: (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] ?? [:],
                rawBody: String(buffer: response.body))
        }
    }

    func hold(_ body: [String: Any], fan: String) async throws -> Reply {
        try await call(.post, "/v1/performances/\(performanceID)/holds", fan: fan, body: body)
    }

    func outboxCount(_ type: String) async throws -> Int {
        try await platform.database.read { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM outbox WHERE event_type = \(bind: type)").first()?.decode(column: "n", as: Int.self) ?? -1
        }
    }
}

@Suite struct HoldTests {
    @Test(arguments: DatabaseDialect.allCases)
    func fiveHundredFansRacingForTwoSeatsEachNeverShareASeat(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                #expect(sale.seatIDs.count == 100)
                var tokens: [String] = []
                for index in 0..<500 { tokens.append(try await OnSale.token(platform, userID: "fan-\(index)")) }
                let seatIDs = sale.seatIDs
                let outcomes = try await withThrowingTaskGroup(of: (requested: [String], reply: OnSale.Reply).self) { group in
                    for token in tokens {
                        let pick = Array(seatIDs.shuffled().prefix(2))
                        group.addTask { (pick, try await sale.hold(["seatIds": pick], fan: token)) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(outcomes.allSatisfy { $0.reply.status == 201 || $0.reply.status == 409 }, "only 201 and 409")
                var heldBy: [String: String] = [:]
                for outcome in outcomes where outcome.reply.status == 201 {
                    let seats = (outcome.reply.json["seats"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
                    #expect(Set(seats) == Set(outcome.requested))
                    for seat in seats {
                        #expect(heldBy[seat] == nil, "seat \(seat) held twice")
                        heldBy[seat] = outcome.reply.json["id"] as? String
                    }
                }
                for outcome in outcomes where outcome.reply.status == 409 {
                    let taken = outcome.reply.json["takenSeatIds"] as? [String] ?? []
                    #expect(!taken.isEmpty && Set(taken).isSubset(of: outcome.requested))
                    #expect(taken.allSatisfy { heldBy[$0] != nil }, "a refused seat is really held by someone")
                }
                #expect(!heldBy.isEmpty)
                // The database agrees with what the fans were told.
                let held = try await platform.database.read { sql in
                    try await sql.raw("SELECT seat_id, hold_id FROM performance_seats WHERE state = 'held'").all()
                        .map { (try $0.decode(column: "seat_id", as: String.self), try $0.decode(column: "hold_id", as: String.self)) }
                }
                #expect(Dictionary(uniqueKeysWithValues: held) == heldBy)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aThousandRequestsForOneUnitAgainstAQuotaOfAHundredHoldExactlyAHundred(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, quota: 100)
                var tokens: [String] = []
                for index in 0..<1000 { tokens.append(try await OnSale.token(platform, userID: "ga-\(index)")) }
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for token in tokens {
                        group.addTask { try await sale.hold(["tier": "Standing", "quantity": 1], fan: token).status }
                    }
                    return try await group.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
                }
                #expect(statuses == [201: 100, 409: 900])
                let units = try await platform.database.read { sql in
                    try await sql.raw("SELECT SUM(quantity) AS n FROM holds WHERE status = 'active'").first()?.decode(column: "n", as: Int.self)
                }
                #expect(units == 100)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func anExpiredHoldFreesItsSeatsAtOnceAndIsExpiredExactlyOnce(dialect: DatabaseDialect) async throws {
        let clock = ManualClock(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let first = try await OnSale.token(platform, userID: "first")
                let second = try await OnSale.token(platform, userID: "second")
                let seat = sale.seatIDs[0]
                let hold = try await sale.hold(["seatIds": [seat]], fan: first)
                #expect(hold.status == 201)
                #expect(hold.json["remainingSeconds"] as? Int == 300)
                let holdID = try #require(hold.json["id"] as? String)
                #expect(try await sale.hold(["seatIds": [seat]], fan: second).status == 409)

                clock.advance(by: 301)
                // No sweeper has run, yet the seat is free the moment the hold ran out.
                #expect(try await sale.hold(["seatIds": [seat]], fan: second).status == 201)
                let expired = try await sale.call(.get, "/v1/holds/\(holdID)", fan: first)
                #expect(expired.json["status"] as? String == "expired")
                #expect(try await sale.outboxCount("reservation.expired") == 1)

                // Twenty more run out; two sweepers at once expire each exactly once.
                for index in 1...20 {
                    let fan = try await OnSale.token(platform, userID: "sweep-\(index)")
                    #expect(try await sale.hold(["seatIds": [sale.seatIDs[index]]], fan: fan).status == 201)
                }
                clock.advance(by: 301)
                async let a = platform.reservations.expireDueHolds()
                async let b = platform.reservations.expireDueHolds()
                let (expiredByA, expiredByB) = try await (a, b)
                #expect(expiredByA + expiredByB == 21)  // the twenty and the second fan's hold
                #expect(try await sale.outboxCount("reservation.expired") == 22)
                #expect(try await platform.reservations.expireDueHolds() == 0)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func theDatabaseRefusesASecondActiveHoldOnASeatWhateverTheCode(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, rows: 1)
                let fan = try await OnSale.token(platform, userID: "fan")
                #expect(try await sale.hold(["seatIds": [sale.seatIDs[0]]], fan: fan).status == 201)
                let seat = sale.seatIDs[0]
                let performance = sale.performanceID
                await #expect(throws: (any Error).self) {
                    try await platform.database.withTransaction { transaction in
                        try await transaction.sql.raw("""
                            INSERT INTO holds (id, performance_id, fan_id, tier, quantity, status, expires_at, created_at)
                            VALUES ('rogue', \(bind: performance), 'rogue-fan', NULL, 1, 'active', \(bind: Date()), \(bind: Date()))
                            """).run()
                        try await transaction.sql.raw("""
                            INSERT INTO hold_items (hold_id, performance_id, seat_id, active) VALUES ('rogue', \(bind: performance), \(bind: seat), \(bind: true))
                            """).run()
                    }
                }
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func oneFanRacingThemselvesCannotExceedThePerFanLimit(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, limits: ["maxSeatsPerOrder": 1, "maxSeatsPerFan": 3])
                let fan = try await OnSale.token(platform, userID: "eager-fan")
                let seats = sale.seatIDs
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<30 {
                        group.addTask { try await sale.hold(["seatIds": [seats[index]]], fan: fan).status }
                    }
                    return try await group.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
                }
                #expect(statuses == [201: 3, 422: 27])
            }
        }
    }

    @Test func limitsTheSaleWindowAndOwnershipAreEnforced() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, limits: ["maxSeatsPerOrder": 2, "maxSeatsPerFan": 3])
                let fan = try await OnSale.token(platform, userID: "fan")
                let other = try await OnSale.token(platform, userID: "other")
                let seats = sale.seatIDs

                let tooMany = try await sale.hold(["seatIds": Array(seats.prefix(3))], fan: fan)
                #expect(tooMany.status == 422)
                #expect(tooMany.json["type"] as? String == "/problems/order-limit")
                let first = try await sale.hold(["seatIds": Array(seats.prefix(2))], fan: fan)
                #expect(first.status == 201)
                let overFanLimit = try await sale.hold(["seatIds": Array(seats[2..<4])], fan: fan)
                #expect(overFanLimit.json["type"] as? String == "/problems/fan-limit")
                #expect(try await sale.hold(["seatIds": ["no-such-seat"]], fan: fan).status == 422)
                #expect(try await sale.hold(["tier": "R", "quantity": 1], fan: fan).status == 422)

                // Only the fan sees and releases their hold; releasing frees the seats.
                let holdID = try #require(first.json["id"] as? String)
                #expect(try await sale.call(.get, "/v1/holds/\(holdID)", fan: other).status == 404)
                #expect(try await sale.call(.delete, "/v1/holds/\(holdID)", fan: other).status == 404)
                #expect(try await sale.call(.delete, "/v1/holds/\(holdID)", fan: fan).status == 204)
                #expect(try await sale.call(.get, "/v1/holds/\(holdID)", fan: fan).json["status"] as? String == "released")
                #expect(try await sale.hold(["seatIds": Array(seats.prefix(2))], fan: other).status == 201)
                #expect(try await sale.outboxCount("reservation.released") == 1)

                let early = try await OnSale.make(client, platform, onSaleIn: 86400)
                let notYet = try await early.hold(["seatIds": [early.seatIDs[0]]], fan: fan)
                #expect(notYet.status == 409)
                #expect(notYet.json["type"] as? String == "/problems/outside-sale-window")
            }
        }
    }
}
