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

@Suite struct WalletCheckoutTests {
    @Test(arguments: DatabaseDialect.allCases)
    func aFanPaysFromTheWalletGetsTicketsThatScanOnceAndCancelsOneForARefund(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                try await sale.grant(300_000, to: "fan-1")
                #expect(try await sale.balance(fan) == 300_000)

                let holdID = try await sale.holdID(Array(sale.seatIDs.prefix(2)), fan: fan)
                let paid = try await sale.checkout(hold: holdID, fan: fan)
                #expect(paid.status == 201, "\(paid.rawBody)")
                #expect(paid.tickets.count == 2)
                #expect(paid.order["status"] as? String == "paid")
                #expect((paid.order["total"] as? [String: Any])?["amount"] as? Int == 220_000)
                #expect(try await sale.balance(fan) == 80_000)
                let hold = try await sale.call(.get, "/v1/holds/\(holdID)", fan: fan)
                #expect(hold.json["status"] as? String == "confirmed")

                let listed = try await sale.call(.get, "/v1/tickets", fan: fan)
                #expect((listed.json["items"] as? [[String: Any]])?.count == 2)

                // The door: valid once, then "already used" with when and where; forged codes never.
                let staff = try await sale.doorStaff("door")
                let first = try #require(paid.tickets.first)
                let code = try #require(first["code"] as? String)
                let scan1 = try await sale.call(.post, "/v1/scans", fan: staff, body: ["code": code, "gate": "A", "performanceId": sale.performanceID])
                #expect(scan1.json["result"] as? String == "valid", "\(scan1.rawBody)")
                let scan2 = try await sale.call(.post, "/v1/scans", fan: staff, body: ["code": code, "gate": "B", "performanceId": sale.performanceID])
                #expect(scan2.json["result"] as? String == "already_used")
                #expect(scan2.json["firstGate"] as? String == "A")
                #expect(scan2.json["firstScannedAt"] as? String != nil)
                let forged = String(code.dropLast(2)) + (code.hasSuffix("AA") ? "BB" : "AA")
                let scan3 = try await sale.call(.post, "/v1/scans", fan: staff, body: ["code": forged, "gate": "A", "performanceId": sale.performanceID])
                #expect(scan3.json["result"] as? String == "invalid")
                let byFan = try await sale.call(.post, "/v1/scans", fan: fan, body: ["code": code, "gate": "A", "performanceId": sale.performanceID])
                let nowhere = try await sale.call(.post, "/v1/scans", fan: staff, body: ["code": code, "gate": "A"])
                #expect(nowhere.status == 422, "a door names its performance")
                #expect(byFan.status == 403)
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM ticket_scans") == 3)

                // A used ticket cannot be cancelled; the other one can, and is refunded to the wallet.
                let orderID = try #require(paid.order["id"] as? String)
                let usedCancel = try await sale.call(
                    .post, "/v1/orders/\(orderID)/cancel", fan: fan, body: ["ticketIds": [try #require(first["id"] as? String)]])
                #expect(usedCancel.status == 409)
                let second = try #require(paid.tickets.last?["id"] as? String)
                let cancelled = try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: fan, body: ["ticketIds": [second]])
                #expect(cancelled.status == 200, "\(cancelled.rawBody)")
                #expect(cancelled.json["status"] as? String == "partially_cancelled")
                #expect((cancelled.json["refunds"] as? [[String: Any]])?.count == 1)
                #expect(try await sale.balance(fan) == 190_000)
                let ledger = try await sale.call(.get, "/v1/wallet/ledger", fan: fan)
                let reasons = (ledger.json["items"] as? [[String: Any]])?.compactMap { $0["reason"] as? String }
                #expect(reasons == ["refund", "purchase", "grant"])

                // The cancelled seat is on sale again at once; the cancelled ticket no longer scans.
                let other = try await OnSale.token(platform, userID: "fan-2")
                let again = try await sale.hold(["seatIds": [sale.seatIDs[1]]], fan: other)
                #expect(again.status == 201, "\(again.rawBody)")
                let cancelledCode = try #require(paid.tickets.last?["code"] as? String)
                let scan4 = try await sale.call(.post, "/v1/scans", fan: staff, body: ["code": cancelledCode, "gate": "A", "performanceId": sale.performanceID])
                #expect(scan4.json["result"] as? String == "invalid")

                let order = try await sale.call(.get, "/v1/orders/\(orderID)", fan: fan)
                #expect((order.json["history"] as? [[String: Any]])?.compactMap { $0["status"] as? String } == ["paid", "partially_cancelled"])
                #expect(try await sale.call(.get, "/v1/orders/\(orderID)", fan: other).status == 404)
                try await platform.relay.deliverPending()
                let availability = try await sale.call(.get, "/v1/performances/\(sale.performanceID)/availability", fan: fan)
                let states = (availability.json["seats"] as? [[String: Any]])?.filter { $0["state"] as? String != "available" }
                    .compactMap { $0["state"] as? String }.sorted()
                #expect(states == ["held", "sold"])
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func twentyConcurrentRetriesWithOneKeyChargeOnceAndAnswerTheSame(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                try await sale.grant(1_000_000, to: "fan-1")
                let holdID = try await sale.holdID(Array(sale.seatIDs.prefix(2)), fan: fan)
                let key = UUID().uuidString
                let replies = try await withThrowingTaskGroup(of: OnSale.Reply.self) { group in
                    for _ in 0..<20 { group.addTask { try await sale.checkout(hold: holdID, fan: fan, key: key) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(replies.allSatisfy { $0.status == 201 }, "\(replies.map(\.status))")
                #expect(Set(replies.map(\.rawBody)).count == 1, "every retry gets the first answer")
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM orders") == 1)
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM payments") == 1)
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM tickets") == 2)
                #expect(try await sale.balance(fan) == 780_000)

                let reused = try await sale.checkout(hold: "another-hold", fan: fan, key: key)
                #expect(reused.status == 422)
                #expect(reused.json["type"] as? String == "/problems/idempotency-key-reused")
                let missing = try await sale.call(.post, "/v1/checkout", fan: fan, body: ["holdId": holdID, "method": "wallet"])
                #expect(missing.status == 400)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func anExpiredHoldOrAShortWalletChargesNothing(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                try await sale.grant(150_000, to: "fan-1")

                let pair = try await sale.holdID(Array(sale.seatIDs.prefix(2)), fan: fan)
                let short = try await sale.checkout(hold: pair, fan: fan)
                #expect(short.status == 402, "\(short.rawBody)")
                #expect(short.json["type"] as? String == "/problems/insufficient-funds")
                #expect(try await sale.call(.get, "/v1/holds/\(pair)", fan: fan).json["status"] as? String == "active")

                #expect(try await sale.call(.delete, "/v1/holds/\(pair)", fan: fan).status == 204)
                let single = try await sale.holdID([sale.seatIDs[5]], fan: fan)
                clock.advance(by: 5 * 60 + 1)
                let late = try await sale.checkout(hold: single, fan: fan)
                #expect(late.status == 409, "\(late.rawBody)")
                #expect(late.json["type"] as? String == "/problems/hold-not-active")
                let released = try await sale.checkout(hold: pair, fan: fan)
                #expect(released.status == 409)

                #expect(try await sale.balance(fan) == 150_000)
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM orders") == 0)
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM wallet_ledger") == 1)
                let gateway = try await sale.checkout(hold: single, fan: fan, method: "gateway")
                #expect(gateway.status == 409, "nor is a gateway payment started for it")
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM payments") == 0)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func twoHundredFansBuyingAtOnceConserveEveryPoint(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                // 150 seats for 200 fans wanting 2 each: many lose the race, some run short of points.
                let sale = try await OnSale.make(client, platform, rows: 15)
                var fans: [(id: String, token: String, granted: Int)] = []
                for index in 0..<200 {
                    let id = "fan-\(index)"
                    let granted = [100_000, 220_000, 500_000][index % 3]
                    try await sale.grant(granted, to: id)
                    fans.append((id, try await OnSale.token(platform, userID: id), granted))
                }
                let seatIDs = sale.seatIDs
                let outcomes = try await withThrowingTaskGroup(of: (hold: Int, checkout: Int, cancel: Int).self) { group in
                    for (index, fan) in fans.enumerated() {
                        group.addTask {
                            let held = try await sale.hold(["seatIds": Array(seatIDs.shuffled().prefix(2))], fan: fan.token)
                            guard held.status == 201, let holdID = held.json["id"] as? String else { return (held.status, 0, 0) }
                            let paid = try await sale.checkout(hold: holdID, fan: fan.token)
                            // Every fifth buyer changes their mind about the whole order.
                            guard paid.status == 201, index % 5 == 0, let orderID = paid.order["id"] as? String else { return (201, paid.status, 0) }
                            return (201, 201, try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: fan.token).status)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(outcomes.allSatisfy { [201, 409].contains($0.hold) }, "holds: \(Set(outcomes.map(\.hold)))")
                #expect(outcomes.allSatisfy { [0, 201, 402].contains($0.checkout) }, "checkouts: \(Set(outcomes.map(\.checkout)))")
                #expect(outcomes.allSatisfy { [0, 200].contains($0.cancel) }, "cancels: \(Set(outcomes.map(\.cancel)))")
                #expect(outcomes.contains { $0.checkout == 201 } && outcomes.contains { $0.checkout == 402 } && outcomes.contains { $0.cancel == 200 })

                let granted = fans.reduce(0) { $0 + $1.granted }
                let balances = try await sale.sum("SELECT CAST(SUM(balance) AS BIGINT) AS n FROM wallets")
                let revenue = try await sale.sum("SELECT CAST(SUM(amount) AS BIGINT) AS n FROM payments WHERE status IN ('paid', 'refunded')")
                let refunds = try await sale.sum("SELECT CAST(SUM(amount) AS BIGINT) AS n FROM refunds")
                #expect(balances + revenue - refunds == granted)
                #expect(try await sale.sum("SELECT CAST(SUM(amount) AS BIGINT) AS n FROM wallet_ledger") == balances, "the balance is the ledger's sum")
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM wallets w WHERE balance <> (SELECT CAST(SUM(amount) AS BIGINT) FROM wallet_ledger l WHERE l.user_id = w.user_id)") == 0)
                let sold = try await sale.sum("SELECT COUNT(*) AS n FROM performance_seats WHERE state = 'sold'")
                #expect(sold == (try await sale.sum("SELECT COUNT(*) AS n FROM tickets WHERE status = 'valid'")))
                #expect(try await sale.sum("""
                    SELECT COUNT(*) AS n FROM performance_seats s WHERE s.state = 'sold'
                      AND (SELECT COUNT(*) FROM tickets t WHERE t.performance_id = s.performance_id AND t.seat_id = s.seat_id AND t.status = 'valid') <> 1
                    """) == 0, "every sold seat has exactly one valid ticket")
                #expect(try await sale.sum("""
                    SELECT COUNT(*) AS n FROM tickets t WHERE t.status = 'valid'
                      AND (SELECT COUNT(*) FROM payments p WHERE p.order_id = t.order_id AND p.status = 'paid') <> 1
                    """) == 0, "every valid ticket has exactly one payment")
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func refundsFollowThePerformancePolicyAndACancelledEventRefundsEveryOrder(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, limits: ["cancellationFeePercent": 10, "refundCutoffHours": 24])
                let fan = try await OnSale.token(platform, userID: "fan-1")
                try await sale.grant(1_000_000, to: "fan-1")
                let first = try await sale.checkout(hold: try await sale.holdID([sale.seatIDs[0]], fan: fan), fan: fan)
                let firstOrder = try #require(first.order["id"] as? String)
                // Asked first: what would come back, and nothing changes.
                let quote = try await sale.call(.post, "/v1/orders/\(firstOrder)/cancel?dryRun=true", fan: fan)
                #expect(quote.status == 200, "\(quote.rawBody)")
                #expect((quote.json["gross"] as? [String: Any])?["amount"] as? Int == 110_000)
                #expect((quote.json["fee"] as? [String: Any])?["amount"] as? Int == 11_000)
                #expect((quote.json["refund"] as? [String: Any])?["amount"] as? Int == 99_000)
                #expect(quote.json["feePercent"] as? Int == 10)
                #expect(quote.json["method"] as? String == "wallet")
                #expect((quote.json["ticketIds"] as? [String])?.count == 1)
                #expect(quote.json["deadline"] is String, "the last moment to cancel is said")
                #expect(try await sale.balance(fan) == 1_000_000 - 110_000, "a quote moves no money")
                #expect(try await sale.call(.get, "/v1/orders/\(firstOrder)", fan: fan).json["status"] as? String == "paid")
                #expect(try await sale.call(.post, "/v1/orders/\(firstOrder)/cancel?dryRun=maybe", fan: fan).status == 400)
                let stranger = try await OnSale.token(platform, userID: "fan-2")
                #expect(try await sale.call(.post, "/v1/orders/\(firstOrder)/cancel?dryRun=true", fan: stranger).status == 404)
                let cancelled = try await sale.call(.post, "/v1/orders/\(firstOrder)/cancel", fan: fan)
                #expect(cancelled.json["status"] as? String == "cancelled", "\(cancelled.rawBody)")
                #expect((cancelled.json["refunded"] as? [String: Any])?["amount"] as? Int == 99_000, "10% fee kept")
                #expect(try await sale.balance(fan) == 1_000_000 - 11_000)
                #expect(try await sale.call(.post, "/v1/orders/\(firstOrder)/cancel", fan: fan).status == 409)
                #expect(try await sale.call(.post, "/v1/orders/\(firstOrder)/cancel?dryRun=true", fan: fan).status == 409, "nothing left to quote")

                // The organizer cancels the event: every order is refunded in full, fee or not.
                let second = try await sale.checkout(hold: try await sale.holdID(Array(sale.seatIDs[1...2]), fan: fan), fan: fan)
                let secondOrder = try #require(second.order["id"] as? String)
                let organizer = try await OnSale.token(platform, userID: "organizer", roles: [.organizer])
                let eventID = try await platform.database.read { sql in
                    try await sql.raw("SELECT event_id FROM sale_performances WHERE performance_id = \(bind: sale.performanceID)").first()?
                        .decode(column: "event_id", as: String.self)
                }
                #expect(try await sale.call(.post, "/v1/events/\(try #require(eventID))/cancel", fan: organizer).status == 200)
                try await platform.relay.deliverPending()
                let refunded = try await sale.call(.get, "/v1/orders/\(secondOrder)", fan: fan)
                #expect(refunded.json["status"] as? String == "cancelled")
                #expect((refunded.json["refunded"] as? [String: Any])?["amount"] as? Int == 220_000)
                #expect(try await sale.balance(fan) == 1_000_000 - 11_000)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func cancellingOnePerformanceStopsItsSalesAndRefundsItsOrders(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                try await sale.grant(500_000, to: "fan-1")
                let paid = try await sale.checkout(hold: try await sale.holdID(Array(sale.seatIDs[0..<2]), fan: fan), fan: fan)
                let orderID = try #require(paid.order["id"] as? String)
                let held = try await sale.holdID([sale.seatIDs[5]], fan: fan)

                let stranger = try await OnSale.token(platform, userID: "other-organizer", roles: [.organizer])
                #expect(try await sale.call(.post, "/v1/performances/\(sale.performanceID)/cancel", fan: stranger).status == 404)
                let organizer = try await OnSale.token(platform, userID: "organizer", roles: [.organizer])
                let cancelled = try await sale.call(.post, "/v1/performances/\(sale.performanceID)/cancel", fan: organizer)
                #expect(cancelled.status == 200, "\(cancelled.rawBody)")
                #expect(cancelled.json["status"] as? String == "cancelled")
                try await platform.relay.deliverPending()

                let order = try await sale.call(.get, "/v1/orders/\(orderID)", fan: fan)
                #expect(order.json["status"] as? String == "cancelled")
                #expect((order.json["refunded"] as? [String: Any])?["amount"] as? Int == 220_000)
                #expect(try await sale.balance(fan) == 500_000)
                #expect(try await sale.hold(["seatIds": [sale.seatIDs[7]]], fan: fan).status == 409, "no longer on sale")
                let late = try await sale.checkout(hold: held, fan: fan)
                #expect(late.status == 409, "a hold taken before the cancellation cannot be paid for")
                #expect(late.json["type"] as? String == "/problems/performance-cancelled")
                #expect(try await sale.balance(fan) == 500_000)
                #expect(try await sale.call(.post, "/v1/performances/\(sale.performanceID)/cancel", fan: organizer).status == 200)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func pastTheCutOffNothingIsRefunded(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                // Starts in 30 days; a cut-off of 31 days before the start has already passed.
                let sale = try await OnSale.make(client, platform, limits: ["refundCutoffHours": 31 * 24])
                let fan = try await OnSale.token(platform, userID: "fan-1")
                try await sale.grant(200_000, to: "fan-1")
                let paid = try await sale.checkout(hold: try await sale.holdID([sale.seatIDs[0]], fan: fan), fan: fan)
                let orderID = try #require(paid.order["id"] as? String)
                let lateQuote = try await sale.call(.post, "/v1/orders/\(orderID)/cancel?dryRun=true", fan: fan)
                #expect(lateQuote.status == 409, "the quote follows the same cut-off")
                #expect(lateQuote.json["deadline"] is String)
                let late = try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: fan)
                #expect(late.status == 409)
                #expect(late.json["type"] as? String == "/problems/refund-window-closed")
                #expect(try await sale.balance(fan) == 90_000)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func theLedgerCannotBeRewrittenEvenWithRawSQL(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                try await sale.grant(1_000, to: "fan-1")
                await #expect(throws: (any Error).self) {
                    try await platform.database.withTransaction { transaction in
                        try await transaction.sql.raw("UPDATE wallet_ledger SET amount = 1000000").run()
                    }
                }
                await #expect(throws: (any Error).self) {
                    try await platform.database.withTransaction { transaction in
                        try await transaction.sql.raw("DELETE FROM wallet_ledger").run()
                    }
                }
                await #expect(throws: (any Error).self) {
                    try await platform.database.withTransaction { transaction in
                        try await transaction.sql.raw("UPDATE wallets SET balance = -1").run()
                    }
                }
                #expect(try await sale.sum("SELECT CAST(SUM(amount) AS BIGINT) AS n FROM wallet_ledger") == 1_000)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aTransferredTicketMovesToItsNewHolderWithANewCode(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let sender = try await OnSale.token(platform, userID: "fan-1")
                let friend = try await platform.identity.signUp(
                    email: "Friend@Example.com", password: "correct horse battery", name: "Friend", verification: .trustedCaller)
                let friendToken = try await platform.identity.issueAccessToken(for: friend)
                try await sale.grant(200_000, to: "fan-1")
                let paid = try await sale.checkout(hold: try await sale.holdID([sale.seatIDs[0]], fan: sender), fan: sender)
                let ticket = try #require(paid.tickets.first)
                let ticketID = try #require(ticket["id"] as? String)
                let oldCode = try #require(ticket["code"] as? String)

                let unknown = try await sale.call(.post, "/v1/tickets/\(ticketID)/transfer", fan: sender, body: ["email": "nobody@example.com"])
                #expect(unknown.status == 422)
                // Transfers do not tell which addresses have accounts more than a few times an hour.
                for index in 1..<5 {
                    let miss = try await sale.call(.post, "/v1/tickets/\(ticketID)/transfer", fan: sender, body: ["email": "nobody\(index)@example.com"])
                    #expect(miss.status == 422)
                }
                #expect(try await sale.call(
                    .post, "/v1/tickets/\(ticketID)/transfer", fan: sender, body: ["email": "nobody9@example.com"]).status == 429)
                let moved = try await sale.call(.post, "/v1/tickets/\(ticketID)/transfer", fan: sender, body: ["email": "friend@example.com"])
                #expect(moved.status == 200, "\(moved.rawBody)")
                let newCode = try #require(moved.json["code"] as? String)
                #expect(newCode != oldCode)
                #expect(moved.json["holderId"] as? String == friend.id)
                #expect((try await sale.call(.get, "/v1/tickets", fan: sender).json["items"] as? [Any])?.isEmpty == true)
                #expect((try await sale.call(.get, "/v1/tickets", fan: friendToken).json["items"] as? [Any])?.count == 1)
                let again = try await sale.call(.post, "/v1/tickets/\(ticketID)/transfer", fan: sender, body: ["email": "friend@example.com"])
                #expect(again.status == 404, "the sender no longer holds it")

                let staff = try await sale.doorStaff("door")
                let stale = try await sale.call(.post, "/v1/scans", fan: staff, body: ["code": oldCode, "gate": "A", "performanceId": sale.performanceID])
                #expect(stale.json["result"] as? String == "invalid")
                let current = try await sale.call(
                    .post, "/v1/scans", fan: staff, body: ["code": newCode, "gate": "A", "performanceId": sale.performanceID])
                #expect(current.json["result"] as? String == "valid")
                let elsewhere = try await sale.call(.post, "/v1/scans", fan: staff, body: ["code": newCode, "gate": "A", "performanceId": "other"])
                #expect(elsewhere.status == 403, "nobody is door staff of a performance that does not exist")
            }
        }
    }

    @Test func onlyTheOrganizerAndTheStaffTheyTookOnScanTheirPerformancesTickets() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                try await sale.grant(220_000, to: "fan-1")
                let paid = try await sale.checkout(hold: try await sale.holdID(Array(sale.seatIDs[0..<2]), fan: fan), fan: fan)
                let codes = paid.tickets.compactMap { $0["code"] as? String }
                func scan(_ code: String, by token: String) async throws -> OnSale.Reply {
                    try await sale.call(.post, "/v1/scans", fan: token, body: ["code": code, "gate": "A", "performanceId": sale.performanceID])
                }
                // Staff nobody took on, or another organizer's, burn nothing.
                let stranger = try await OnSale.token(platform, userID: "someone-elses-door", roles: [.staff])
                #expect(try await scan(codes[0], by: stranger).status == 403)
                let rival = try await OnSale.token(platform, userID: "rival", roles: [.organizer])
                #expect(try await sale.call(.put, "/v1/organizers/me/staff/someone-elses-door", fan: rival).status == 204)
                #expect(try await scan(codes[0], by: stranger).status == 403)
                #expect(try await scan(codes[0], by: rival).status == 403)
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM ticket_scans") == 0, "refused scans are not scans")

                // The organizer's own staff, and the organizer, do.
                let door = try await sale.doorStaff("door")
                #expect(try await scan(codes[0], by: door).json["result"] as? String == "valid")
                let organizer = try await OnSale.token(platform, userID: "organizer", roles: [.organizer])
                #expect(try await scan(codes[1], by: organizer).json["result"] as? String == "valid")
                let listed = try await sale.call(.get, "/v1/organizers/me/staff", fan: organizer)
                #expect((listed.json["items"] as? [[String: Any]])?.compactMap { $0["userId"] as? String } == ["door"])
                #expect(try await sale.call(.delete, "/v1/organizers/me/staff/door", fan: organizer).status == 204)
                #expect(try await scan(codes[0], by: door).status == 403, "let go: no longer at the door")
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func theBuyerCannotCancelAndBeRefundedForATicketTheyTransferred(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let seller = try await OnSale.token(platform, userID: "fan-1")
                _ = try await platform.identity.signUp(
                    email: "buyer@example.com", password: "correct horse battery", name: "Buyer", verification: .trustedCaller)
                try await sale.grant(220_000, to: "fan-1")
                let paid = try await sale.checkout(hold: try await sale.holdID(Array(sale.seatIDs[0..<2]), fan: seller), fan: seller)
                let orderID = try #require(paid.order["id"] as? String)
                let sold = try #require(paid.tickets.first?["id"] as? String)
                let kept = try #require(paid.tickets.last?["id"] as? String)
                #expect(try await sale.call(.post, "/v1/tickets/\(sold)/transfer", fan: seller, body: ["email": "buyer@example.com"]).status == 200)

                let named = try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: seller, body: ["ticketIds": [sold]])
                #expect(named.status == 409, "\(named.rawBody)")
                #expect(named.json["type"] as? String == "/problems/ticket-transferred")
                #expect(try await sale.balance(seller) == 0, "nothing refunded")

                // Cancelling the whole order gives up only what the seller still holds.
                let whole = try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: seller)
                #expect(whole.status == 200, "\(whole.rawBody)")
                #expect(try await sale.balance(seller) == 110_000)
                let states = try await platform.database.read { sql in
                    try await sql.raw("SELECT id, status FROM tickets ORDER BY id").all().map {
                        (try $0.decode(column: "id", as: String.self), try $0.decode(column: "status", as: String.self))
                    }
                }
                #expect(Dictionary(uniqueKeysWithValues: states) == [sold: "valid", kept: "cancelled"], "the new holder's ticket lives")
                let nothingLeft = try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: seller)
                #expect(nothingLeft.status == 409)
            }
        }
    }
}

@Suite struct GeneralAdmissionCheckoutTests {
    @Test(arguments: DatabaseDialect.allCases)
    func generalAdmissionTicketsAreOnePerUnitAndCancellingOneSellsItAgain(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, quota: 3)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                try await sale.grant(1_000_000, to: "fan-1")
                let held = try await sale.hold(["tier": "Standing", "quantity": 3], fan: fan)
                let holdID = try #require(held.json["id"] as? String)
                let paid = try await sale.checkout(hold: holdID, fan: fan)
                #expect(paid.status == 201, "\(paid.rawBody)")
                #expect(paid.tickets.count == 3)
                #expect(paid.tickets.allSatisfy { $0["seat"] == nil && $0["tier"] as? String == "Standing" })
                #expect(Set(paid.tickets.compactMap { $0["code"] as? String }).count == 3)
                #expect((paid.order["total"] as? [String: Any])?["amount"] as? Int == 330_000)

                let other = try await OnSale.token(platform, userID: "fan-2")
                #expect(try await sale.hold(["tier": "Standing", "quantity": 1], fan: other).status == 409, "sold out")
                let orderID = try #require(paid.order["id"] as? String)
                let one = try #require(paid.tickets.first?["id"] as? String)
                #expect(try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: fan, body: ["ticketIds": [one]]).status == 200)
                #expect(try await sale.hold(["tier": "Standing", "quantity": 1], fan: other).status == 201, "the unit is back on sale")
                try await sale.expectTierCountsMatchARecount()

                try await platform.relay.deliverPending()
                let availability = try await sale.call(.get, "/v1/performances/\(sale.performanceID)/availability", fan: fan)
                let tier = try #require((availability.json["tiers"] as? [[String: Any]])?.first)
                #expect(tier["sold"] as? Int == 2)
                #expect(tier["held"] as? Int == 1)
                #expect(tier["available"] as? Int == 0)
            }
        }
    }
}
