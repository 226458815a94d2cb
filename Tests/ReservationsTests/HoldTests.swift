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

@Suite struct HoldTests {
    @Test(arguments: DatabaseDialect.allCases)
    func nobodyCanHoldSeatsOfAnEventThatIsNotPublishedYet(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, quota: 10, publish: false)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                let draft = try await sale.hold(["tier": "Standing", "quantity": 1], fan: fan)
                #expect(draft.status == 409, "\(draft.rawBody)")
                #expect(draft.json["type"] as? String == "/problems/not-on-sale")

                let organizer = try await OnSale.token(platform, userID: "organizer", roles: [.organizer])
                #expect(try await sale.call(.post, "/v1/events/\(sale.eventID)/publish", fan: organizer).status == 200)
                try await platform.relay.deliverPending()
                #expect(try await sale.hold(["tier": "Standing", "quantity": 1], fan: fan).status == 201, "published: on sale")
            }
        }
    }

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
                try await sale.expectTierCountsMatchARecount()
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

    // On PostgreSQL a hold that meets every rule is one call to a server-side function; any
    // refusal is explained by the transaction. Both dialects must tell fans the same.
    @Test(arguments: DatabaseDialect.allCases)
    func limitsTheSaleWindowAndOwnershipAreEnforced(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
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

    @Test(arguments: DatabaseDialect.allCases)
    func aHoldRecordsItsItemsAndEventAndAPartlyTakenRequestLeavesTheFreeSeatsFree(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let first = try await OnSale.token(platform, userID: "first")
                let second = try await OnSale.token(platform, userID: "second")
                let seats = sale.seatIDs
                let hold = try await sale.hold(["seatIds": [seats[3], seats[1]]], fan: first)
                #expect(hold.status == 201)
                #expect(hold.json["remainingSeconds"] as? Int == 300)
                #expect((hold.json["seats"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [seats[1], seats[3]])
                let holdID = try #require(hold.json["id"] as? String)
                let expiresAt = try #require(hold.json["expiresAt"] as? String)

                // The event says what the fan was told, expiry included.
                let payload = try await platform.database.read { sql in
                    try await sql.raw("SELECT payload FROM outbox WHERE event_type = 'reservation.held' AND aggregate_id = \(bind: holdID)")
                        .first()?.decode(column: "payload", as: String.self)
                }
                let payloadText = try #require(payload)
                let event = try #require(try JSONSerialization.jsonObject(with: Data(payloadText.utf8)) as? [String: Any])
                #expect(event["holdId"] as? String == holdID)
                #expect(event["fanId"] as? String == "first")
                #expect(event["seatIds"] as? [String] == [seats[1], seats[3]].sorted())
                #expect(event["quantity"] as? Int == 2)
                let eventExpiry = try #require(event["expiresAt"] as? String)
                #expect(try Date(eventExpiry, strategy: .iso8601).timeIntervalSince1970
                    == (try Date(expiresAt, strategy: .iso8601).timeIntervalSince1970).rounded(.down))
                let items = try await platform.database.read { sql in
                    try await sql.raw("SELECT seat_id FROM hold_items WHERE hold_id = \(bind: holdID) ORDER BY seat_id").all()
                        .map { try $0.decode(column: "seat_id", as: String.self) }
                }
                #expect(items == [seats[1], seats[3]].sorted())

                // One of two seats taken: nothing is held, the taken one is named, the free one stays free.
                let refused = try await sale.hold(["seatIds": [seats[2], seats[3]]], fan: second)
                #expect(refused.status == 409)
                #expect(refused.json["takenSeatIds"] as? [String] == [seats[3]])
                #expect(try await sale.outboxCount("reservation.held") == 1)
                #expect(try await sale.hold(["seatIds": [seats[2]]], fan: second).status == 201)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func generalAdmissionUnitsComeBackTheMomentAHoldRunsOut(dialect: DatabaseDialect) async throws {
        let clock = ManualClock(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, quota: 3)
                let first = try await OnSale.token(platform, userID: "first")
                let second = try await OnSale.token(platform, userID: "second")
                let hold = try await sale.hold(["tier": "Standing", "quantity": 2], fan: first)
                #expect(hold.status == 201)
                #expect(hold.json["tier"] as? String == "Standing")
                #expect(hold.json["quantity"] as? Int == 2)
                #expect(hold.json["remainingSeconds"] as? Int == 300)
                let holdID = try #require(hold.json["id"] as? String)
                let payload = try await platform.database.read { sql in
                    try await sql.raw("SELECT payload FROM outbox WHERE event_type = 'reservation.held' AND aggregate_id = \(bind: holdID)")
                        .first()?.decode(column: "payload", as: String.self)
                }
                let payloadText = try #require(payload)
                let event = try #require(try JSONSerialization.jsonObject(with: Data(payloadText.utf8)) as? [String: Any])
                #expect(event["tier"] as? String == "Standing")
                #expect(event["quantity"] as? Int == 2)
                #expect(event["expiresAt"] as? String == hold.json["expiresAt"] as? String)

                let tooMany = try await sale.hold(["tier": "Standing", "quantity": 2], fan: second)
                #expect(tooMany.status == 409)
                #expect(tooMany.json["type"] as? String == "/problems/sold-out")
                #expect(tooMany.json["available"] as? Int == 1)
                #expect(try await sale.hold(["tier": "Balcony", "quantity": 1], fan: second).status == 422)

                // No sweeper has run: the first fan's units are free the moment the hold runs out.
                clock.advance(by: 301)
                #expect(try await sale.hold(["tier": "Standing", "quantity": 3], fan: second).status == 201)
                #expect(try await sale.outboxCount("reservation.expired") == 1)
                let left = try await sale.hold(["tier": "Standing", "quantity": 1], fan: first)
                #expect(left.json["available"] as? Int == 0)
                try await sale.expectTierCountsMatchARecount()

                // Released, and expired by the sweeper: the counts follow.
                clock.advance(by: 301)
                #expect(try await sale.hold(["tier": "Standing", "quantity": 1], fan: first).status == 201)
                let released = try await sale.hold(["tier": "Standing", "quantity": 1], fan: second)
                let releasedID = try #require(released.json["id"] as? String)
                #expect(try await sale.call(.delete, "/v1/holds/\(releasedID)", fan: second).status == 204)
                try await sale.expectTierCountsMatchARecount()
                clock.advance(by: 301)
                #expect(try await platform.reservations.expireDueHolds() == 1)
                try await sale.expectTierCountsMatchARecount()
                // (Fifteen minutes on: the fan signs in again.)
                let secondLater = try await OnSale.token(platform, userID: "second")
                #expect(try await sale.hold(["tier": "Standing", "quantity": 3], fan: secondLater).status == 201)
            }
        }
    }

    // A database that sold standing tickets before tiers kept counts gets them right on upgrade.
    @Test(arguments: DatabaseDialect.allCases)
    func upgradingCountsTheStandingHoldsAndTicketsAlreadyThere(dialect: DatabaseDialect) async throws {
        let beforeCounts = BoxofficePlatform.migrationGroups.map { group in
            group.module == "reservations" ? MigrationGroup(module: group.module, migrations: group.migrations.filter { $0.id < "0006" }) : group
        }
        try await TestDatabases.withDatabase(dialect, migrations: beforeCounts) { database in
            let now = Date()
            try await database.withTransaction { transaction in
                let sql = transaction.sql
                try await sql.raw("INSERT INTO ga_tiers (performance_id, tier, quota) VALUES ('p1', 'Standing', 10), ('p1', 'Balcony', 5)").run()
                for (id, tier, quantity, status, expiresIn) in [
                    ("running", "Standing", 2, "active", 300.0), ("ran-out", "Standing", 1, "active", -60.0),
                    ("released", "Standing", 3, "released", 300.0), ("paid", "Standing", 2, "confirmed", 300.0),
                    ("balcony", "Balcony", 1, "active", 300.0),
                ] {
                    try await sql.raw("""
                        INSERT INTO holds (id, performance_id, fan_id, tier, quantity, status, expires_at, created_at)
                        VALUES (\(bind: id), 'p1', 'fan', \(bind: tier), \(bind: quantity), \(bind: status), \(bind: now.addingTimeInterval(expiresIn)), \(bind: now))
                        """).run()
                }
                for (id, status) in [("t1", "valid"), ("t2", "cancelled"), ("t3", "valid")] {
                    try await sql.raw("""
                        INSERT INTO tickets (id, performance_id, hold_id, order_id, purchaser_id, holder_id, seat_id, seat_label, tier,
                                             price_amount, price_currency, status, issued_at)
                        VALUES (\(bind: id), 'p1', 'paid', 'o1', 'fan', 'fan', NULL, NULL, 'Standing', 88000, 'KRW', \(bind: status), \(bind: now))
                        """).run()
                }
            }
            try await Migrator(database: database, groups: BoxofficePlatform.migrationGroups).migrate()
            let counts = try await database.read { sql in
                try await sql.raw("SELECT tier, held, sold FROM ga_tiers ORDER BY tier").all().map {
                    [try $0.decode(column: "tier", as: String.self): [try $0.decode(column: "held", as: Int.self), try $0.decode(column: "sold", as: Int.self)]]
                }
            }
            // Running holds count, the one that ran out too (until it is expired); valid tickets count.
            #expect(counts == [["Balcony": [1, 0]], ["Standing": [3, 2]]])
        }
    }

    // Selling, releasing and expiring a hold find its seats by key: with sequential scans
    // forbidden, PostgreSQL would still plan one where no index can serve (and say so); and
    // the index must be searched by seat, not read for the whole performance.
    @Test func onPostgresSellingAndReleasingAHoldsSeatsNeverScansThePerformancesSeats() async throws {
        try await withPlatform(.postgres) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                // The test's own IDs, written into the statements (EXPLAIN takes no bind parameters).
                let (performance, first, second) = (sale.performanceID, sale.seatIDs[0], sale.seatIDs[1])
                let statements = [
                    """
                    UPDATE performance_seats SET state = 'sold'
                    WHERE performance_id = '\(performance)' AND seat_id IN ('\(first)', '\(second)') AND hold_id = 'hold-1' AND state = 'held'
                    RETURNING seat_id
                    """,
                    """
                    UPDATE performance_seats SET state = 'available', hold_id = NULL
                    WHERE (performance_id, seat_id) IN (SELECT performance_id, seat_id FROM hold_items WHERE hold_id = 'hold-1')
                      AND hold_id = 'hold-1' AND state = 'held' RETURNING seat_id
                    """,
                ]
                try await platform.database.withTransaction { transaction in
                    try await transaction.sql.raw("ANALYZE performance_seats").run()
                    try await transaction.sql.raw("ANALYZE hold_items").run()
                }
                for statement in statements {
                    let plan = try await platform.database.withTransaction { transaction -> String in
                        try await transaction.sql.raw("SET LOCAL enable_seqscan = off").run()
                        return try await transaction.sql.raw(SQLQueryString("EXPLAIN " + statement)).all()
                            .map { try $0.decode(column: "QUERY PLAN", as: String.self) }.joined(separator: "\n")
                    }
                    #expect(!plan.contains("Seq Scan on performance_seats"), "\(plan)")
                    // Not the performance's every seat through the key's first half either: each seat by its whole key.
                    #expect(plan.split(separator: "\n").contains { $0.contains("Index Cond") && $0.contains("seat_id") }, "\(plan)")
                }
            }
        }
    }

    // The hold function answers every hold on PostgreSQL: held, the taken or unknown seats, or
    // the sale rule that refuses — and what it refuses it leaves untouched.
    @Test func onPostgresTheHoldFunctionHoldsOrSaysWhyNotChangingNothing() async throws {
        try await withPlatform(.postgres) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, limits: ["maxSeatsPerOrder": 2])
                let seats = sale.seatIDs
                // Each call is another fan's (the performance allows two seats per fan).
                func call(_ holdID: String, _ seatIDs: [String]) async throws -> [String] {
                    try await platform.database.read { sql in
                        try await sql.raw("""
                            SELECT outcome || ':' || COALESCE(held_seat_id, '') AS answer FROM reservations_hold_seats(
                                \(bind: holdID), \(bind: sale.performanceID), \(bind: "fan-" + holdID), \(bind: seatIDs), now(), 1,
                                \(bind: "event-" + holdID), 'reservation.held', 'hold', '{}', now())
                            """).all().map { try $0.decode(column: "answer", as: String.self) }
                    }
                }
                func written() async throws -> [Int] {
                    try await platform.database.read { sql in
                        let row = try await sql.raw("""
                            SELECT (SELECT COUNT(*) FROM holds) AS holds, (SELECT COUNT(*) FROM outbox WHERE event_type = 'reservation.held') AS events,
                                   (SELECT COUNT(*) FROM performance_seats WHERE state = 'held') AS seats
                            """).first()
                        return try ["holds", "events", "seats"].map { try row?.decode(column: $0, as: Int.self) ?? -1 }
                    }
                }
                #expect(try await call("h1", [seats[0], seats[1]]).sorted() == ["held:\(seats[0])", "held:\(seats[1])"].sorted())
                #expect(try await written() == [1, 1, 2])
                #expect(try await call("h2", [seats[1], seats[2]]) == ["taken:\(seats[1])"])
                #expect(try await call("h3", [seats[2], seats[3], seats[4]]) == ["order-limit:"])
                #expect(try await call("h4", ["no-such-seat", seats[5]]) == ["unknown:no-such-seat"])
                #expect(try await call("h5", []) == ["no-quantity:"])
                #expect(try await written() == [1, 1, 2], "refusals wrote nothing")
            }
        }
    }
}
