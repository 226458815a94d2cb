import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Persistence
import SQLKit
import Synchronization
import TestSupport
import Testing

/// The purchase path (hold → pay): what it answers, what it leaves for the read models to count,
/// and that buyers of different seats do not queue behind one another.
@Suite struct PurchasePathTests {
    /// The checkout builds its answer from what it wrote; reading the order back must say the same.
    @Test(arguments: DatabaseDialect.allCases)
    func theCheckoutsAnswerIsTheOrderAsStored(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                try await sale.grant(1_000_000, to: "fan-1")
                let wallet = try await sale.checkout(hold: try await sale.holdID([sale.seatIDs[3], sale.seatIDs[1]], fan: fan), fan: fan)
                #expect(wallet.status == 201, "\(wallet.rawBody)")
                let gateway = try await sale.checkout(hold: try await sale.holdID([sale.seatIDs[5]], fan: fan), fan: fan, method: "gateway")
                #expect(gateway.status == 202, "\(gateway.rawBody)")
                for answered in [wallet.order, gateway.order] {
                    let id = try #require(answered["id"] as? String)
                    let stored = try await sale.call(.get, "/v1/orders/\(id)", fan: fan)
                    #expect(NSDictionary(dictionary: answered).isEqual(to: stored.json), "answered \(answered)\nstored \(stored.rawBody)")
                }
                #expect((wallet.order["items"] as? [[String: Any]])?.compactMap { $0["seatId"] as? String } == [sale.seatIDs[1], sale.seatIDs[3]])
            }
        }
    }

    /// Seats taken and popularity are kept by the catalog from reservation events, outside the
    /// purchase; after concurrent holds, purchases, releases and refunds they equal a recount.
    /// So does the seat map.
    @Test(arguments: DatabaseDialect.allCases)
    func theCountersKeptFromEventsEqualARecountAfterConcurrentPurchasesReleasesAndRefunds(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, rows: 6)
                let fans = 24
                for index in 0..<fans { try await sale.grant(1_000_000, to: "fan-\(index)") }
                // Each fan holds two seats of 60; some pay, some let go, some pay and then cancel.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<fans {
                        group.addTask {
                            let fan = try await OnSale.token(platform, userID: "fan-\(index)")
                            let seats = [sale.seatIDs[(index * 2) % 60], sale.seatIDs[(index * 2 + 1) % 60]]
                            let held = try await sale.hold(["seatIds": seats], fan: fan)
                            guard held.status == 201, let holdID = held.json["id"] as? String else { return }
                            switch index % 4 {
                            case 0:
                                #expect(try await sale.call(.delete, "/v1/holds/\(holdID)", fan: fan).status == 204)
                            case 1:
                                let paid = try await sale.checkout(hold: holdID, fan: fan)
                                #expect(paid.status == 201, "\(paid.rawBody)")
                                let orderID = try #require(paid.order["id"] as? String)
                                let cancelled = try await sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: fan, body: [:])
                                #expect(cancelled.status == 200, "\(cancelled.rawBody)")
                            default:
                                #expect(try await sale.checkout(hold: holdID, fan: fan).status == 201)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                while try await platform.relay.deliverPending() > 0 {}

                let performance = SQLBind(sale.performanceID)
                let kept = try await sale.sum("SELECT taken AS n FROM performances WHERE id = \(performance)")
                let recounted = try await sale.sum("""
                    SELECT (SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE performance_id = \(performance) AND status = 'active')
                         + (SELECT COUNT(*) FROM tickets WHERE performance_id = \(performance) AND status = 'valid') AS n
                    """)
                #expect(kept == recounted)
                #expect(recounted == 12 * 2 + 0, "the fans who kept their seats: \(recounted)")
                let popularity = try await sale.sum("SELECT popularity AS n FROM events WHERE id = \(SQLBind(sale.eventID))")
                #expect(popularity == (try await sale.sum("SELECT SUM(quantity) AS n FROM holds WHERE performance_id = \(performance)")))
                #expect(popularity == fans * 2)
                // The seat map: every seat in the state the inventory has.
                let mismatched = try await sale.sum("""
                    SELECT COUNT(*) AS n FROM performance_seats s JOIN availability_seats a
                      ON a.performance_id = s.performance_id AND a.seat_id = s.seat_id
                    WHERE s.performance_id = \(performance) AND a.state <> s.state
                    """)
                #expect(mismatched == 0)
                let soldOnTheMap = try await sale.sum(
                    "SELECT COUNT(*) AS n FROM availability_seats WHERE performance_id = \(performance) AND state = 'sold'")
                #expect(soldOnTheMap == 12 * 2)
                // Money, to the unit: what was granted less what the wallets hold is what paid
                // orders kept (their totals less refunds), and each payment's ledger matches it.
                let granted = try await sale.sum("SELECT CAST(SUM(amount) AS BIGINT) AS n FROM wallet_ledger WHERE reason = 'grant'")
                let held = try await sale.sum("SELECT CAST(SUM(balance) AS BIGINT) AS n FROM wallets")
                let ordersKept = try await sale.sum("SELECT CAST(SUM(total_amount - refunded_amount) AS BIGINT) AS n FROM orders")
                let paid = try await sale.sum("SELECT CAST(SUM(amount - refunded) AS BIGINT) AS n FROM payments WHERE method = 'wallet'")
                #expect(granted - held == ordersKept)
                #expect(paid == ordersKept)
                #expect(ordersKept == 12 * 2 * 110_000, "twelve fans kept two seats; the six who cancelled got everything back (no fee)")
            }
        }
    }

    /// No row every buyer of a performance writes: while one fan's purchase is written but not
    /// yet committed (its locks held), another fan still pays for another seat of the same
    /// performance. (PostgreSQL only: SQLite has one writer by design, and says so.)
    @Test func onPostgresAFanPaysWhileAnotherFansPurchaseOfTheSamePerformanceIsStillOpen() async throws {
        try await withPlatform(.postgres) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let (first, secondFan) = (try await OnSale.token(platform, userID: "fan-a"), try await OnSale.token(platform, userID: "fan-b"))
                try await sale.grant(1_000_000, to: "fan-a")
                try await sale.grant(1_000_000, to: "fan-b")
                let firstHold = try await sale.holdID([sale.seatIDs[0]], fan: first)
                let secondHold = try await sale.holdID([sale.seatIDs[1]], fan: secondFan)
                let second = SecondBuyer()

                struct RollBack: Error {}
                do {
                    try await platform.database.withTransaction { transaction in
                        // Fan A's purchase, written and kept open.
                        let fanA = Principal(userID: "fan-a", roles: [.fan])
                        let hold = try await platform.tickets.pricedHold(id: firstHold, fan: fanA, in: transaction)
                        _ = try await platform.tickets.issueTickets(for: hold, orderID: "order-a", in: transaction)
                        _ = try await platform.payments.payWithWallet(userID: "fan-a", amount: hold.total, orderID: "order-a", in: transaction)
                        second.start { try await sale.checkout(hold: secondHold, fan: secondFan).status }
                        let deadline = ContinuousClock.now + .seconds(10)
                        while second.status == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                        throw RollBack()
                    }
                } catch is RollBack {}
                try await second.finished()
                #expect(second.status == 201, "fan B's checkout waited for fan A's open purchase")
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM tickets WHERE holder_id = 'fan-b' AND status = 'valid'") == 1)
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM tickets WHERE holder_id = 'fan-a'") == 0, "fan A's purchase rolled back")
            }
        }
    }

    /// The gateway saga settles gateway payments; wallet payments complete in their own checkout,
    /// so the relay does not hand the saga their `payment.completed` at all (no inbox row).
    /// The seat map applies a delivery's seat changes a few statements at a time, grouped by
    /// type; a seat that changes hands several times within one delivery must still end as the
    /// holds left it.
    @Test(arguments: DatabaseDialect.allCases)
    func aSeatThatChangesHandsSeveralTimesInOneDeliveryEndsOnTheMapAsItIs(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, rows: 2, limits: ["maxSeatsPerFan": 20])
                while try await platform.relay.deliverPending() > 0 {}
                let fans = try await (1...3).asyncMap { try await OnSale.token(platform, userID: "fan-\($0)") }
                for index in 1...3 { try await sale.grant(1_000_000, to: "fan-\(index)") }
                let seats = sale.seatIDs
                // One delivery's worth: seat 0 is held, let go, held by another fan and bought;
                // seat 1 is bought, seat 2 held and let go, seat 3 held and left held, and seats
                // 4–9 are held and bought in between, interleaved.
                let first = try await sale.holdID([seats[0], seats[2]], fan: fans[0])
                #expect(try await sale.checkout(hold: try await sale.holdID([seats[1]], fan: fans[1]), fan: fans[1]).status == 201)
                #expect(try await sale.call(.delete, "/v1/holds/\(first)", fan: fans[0]).status == 204)
                let second = try await sale.holdID([seats[0]], fan: fans[2])
                _ = try await sale.holdID([seats[3]], fan: fans[0])
                for seat in seats[4...9] {
                    #expect(try await sale.checkout(hold: try await sale.holdID([seat], fan: fans[1]), fan: fans[1]).status == 201)
                }
                #expect(try await sale.checkout(hold: second, fan: fans[2]).status == 201)
                #expect(try await platform.relay.deliverPending() > 0)

                let truth = try await sale.seatStates(in: "performance_seats")
                let map = try await sale.seatStates(in: "availability_seats")
                #expect(map == truth)
                #expect(truth[seats[0]] == "sold" && truth[seats[1]] == "sold" && truth[seats[2]] == "available" && truth[seats[3]] == "held")
                #expect(seats[4...9].allSatisfy { truth[$0] == "sold" })
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func theGatewaySagaIsNotHandedWalletPayments(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                try await sale.grant(1_000_000, to: "fan-1")
                #expect(try await sale.checkout(hold: try await sale.holdID([sale.seatIDs[0]], fan: fan), fan: fan).status == 201)
                while try await platform.relay.deliverPending() > 0 {}
                let walletEvents = try await sale.sum("SELECT COUNT(*) AS n FROM outbox WHERE event_type = 'payment.completed' AND delivered_at IS NOT NULL")
                #expect(walletEvents >= 1)
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM inbox WHERE consumer = 'checkout.gateway-payments'") == 0)

                let started = try await sale.checkout(hold: try await sale.holdID([sale.seatIDs[1]], fan: fan), fan: fan, method: "gateway")
                let payment = try #require((started.json["paymentIntent"] as? [String: Any])?["paymentId"] as? String)
                let sandbox = try #require(platform.sandboxGateway)
                _ = try sandbox.pay(paymentID: payment, outcome: .paid, sendWebhook: false)
                #expect(try await sale.call(.post, "/v1/payments/\(payment)/complete", fan: fan).status < 300)
                while try await platform.relay.deliverPending() > 0 {}
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM inbox WHERE consumer = 'checkout.gateway-payments'") == 1)
                let order = try #require(started.order["id"] as? String)
                #expect(try await sale.call(.get, "/v1/orders/\(order)", fan: fan).json["status"] as? String == "paid")
            }
        }
    }
}

/// A checkout started from inside another fan's open transaction, and what it answered.
private final class SecondBuyer: Sendable {
    private let state = Mutex<(status: Int?, task: Task<Void, any Error>?)>((nil, nil))

    var status: Int? { state.withLock { $0.status } }

    func start(_ checkout: @escaping @Sendable () async throws -> Int) {
        let task = Task {
            let status = try await checkout()
            self.state.withLock { $0.status = status }
        }
        state.withLock { $0.task = task }
    }

    func finished() async throws {
        try await state.withLock { $0.task }?.value
    }
}
