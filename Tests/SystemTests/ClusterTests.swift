import AsyncHTTPClient
import BoxofficeKit
import Foundation
@testable import Identity
import NIOCore
import NIOHTTP1
import Persistence
import RedisClient
import SQLKit
import Synchronization
import TestSupport
import Testing

/// Three real nodes behind nginx, sharing PostgreSQL and Redis (with Sentinel), as
/// `scripts/cluster` runs them.
@Suite(.serialized) struct ClusterTests {
    @Test(.timeLimit(.minutes(5)))
    func fansRacingThroughThreeNodesNeverShareASeatAndAKilledNodeLosesNothing() async throws {
        try await Cluster.with(environment: ["BOXOFFICE_HUMAN_CHECK": "off", "BOXOFFICE_FAN_RATE_LIMIT": "0"]) { cluster in
            let http = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(connectionPool: .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)))
            defer { _ = http.shutdown() }
            let client = ClusterClient(http: http)
            let tokens = try await cluster.tokens()
            let organizer = try await tokens.issue(for: User(id: "organizer", email: "o@example.com", name: "O", roles: [.organizer]))

            // 400 seats on sale, through the load balancer; the inventory is built by an event
            // that travels through Redis Streams to whichever node holds the consumer group.
            let performanceID = try await putOnSale(client, cluster.url, organizer: organizer, rows: 40)
            let seatIDs = try await waitForSeats(client, cluster.url, performanceID: performanceID, token: organizer, count: 400)

            // The node running the hold sweeper is the one that dies.
            let victim = try #require(try await leaseHolderPID(cluster, "hold-sweeper"))
            #expect(cluster.nodePIDs.contains(victim))

            let outcomes = Mutex<[(seats: [String], status: Int, holdID: String?, afterKill: Bool)]>([])
            let killed = Mutex(false)
            let killedAt = Mutex<ContinuousClock.Instant?>(nil)
            // How soon a live node takes the dead one's sweeper, watched while the race goes on.
            let takeover = Task { () -> Duration? in
                while !Task.isCancelled {
                    if let at = killedAt.withLock({ $0 }), let holder = try? await leaseHolderPID(cluster, "hold-sweeper"),
                       holder != victim, cluster.nodePIDs.contains(holder) {
                        return ContinuousClock.now - at
                    }
                    try? await Task.sleep(for: .milliseconds(50))
                }
                return nil
            }
            let fans = 700
            let attempt: @Sendable (Int) async throws -> Void = { fan in
                let token = try await tokens.issue(for: User(id: "fan-\(fan)", email: "f\(fan)@example.com", name: "F", roles: [.fan]))
                let seats = Array(seatIDs.shuffled().prefix(2))
                let startedAfterKill = killed.withLock { $0 }
                // A request in flight on the node when it dies ends as a 502 or, when its answer had
                // begun, as a cut-off answer (status 0 here); neither was acknowledged.
                let reply = try? await client.call(
                    .POST, "\(cluster.url)/v1/performances/\(performanceID)/holds", token: token, json: ["seatIds": seats])
                outcomes.withLock { $0.append((seats, reply?.status ?? 0, reply?.json["id"] as? String, startedAfterKill)) }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                while next < 48 {
                    let fan = next
                    group.addTask { try await attempt(fan) }
                    next += 1
                }
                var finished = 0
                while try await group.next() != nil {
                    finished += 1
                    if finished == 200 {
                        kill(victim, SIGKILL)
                        killedAt.withLock { $0 = ContinuousClock.now }
                        // Requests sent from now on may still pick the dead node until nginx
                        // has seen it fail once; those are retried on another node.
                        killed.withLock { $0 = true }
                    }
                    if next < fans {
                        let fan = next
                        group.addTask { try await attempt(fan) }
                        next += 1
                    }
                }
            }
            let all = outcomes.withLock { $0 }
            #expect(all.count == fans)
            let statuses = Dictionary(grouping: all, by: \.status).mapValues(\.count)
            let acknowledged = all.filter { $0.status == 201 }
            #expect(acknowledged.count > 50)
            #expect(statuses[409, default: 0] > 0)
            // Only requests in flight on the victim when it died may fail (nginx does not send a
            // POST that reached a node to another); none sent after it was killed.
            let failed = all.filter { $0.status != 201 && $0.status != 409 }
            #expect(failed.allSatisfy { $0.status == 502 || $0.status == 0 }, "statuses: \(statuses)")
            #expect(failed.count <= 48, "statuses: \(statuses)")
            #expect(failed.filter(\.afterKill).count <= 48)
            #expect(all.filter { $0.afterKill }.count > 400)

            // No seat held twice; every acknowledged hold is in the database with its seats.
            let acknowledgedSeats = acknowledged.flatMap(\.seats)
            #expect(Set(acknowledgedSeats).count == acknowledgedSeats.count)
            try await cluster.withDatabase { database in
                let rows = try await database.read { sql in
                    try await sql.raw("""
                        SELECT h.id, i.seat_id FROM holds h JOIN hold_items i ON i.hold_id = h.id
                        WHERE h.performance_id = \(bind: performanceID) AND h.status = 'active'
                        """).all()
                }
                var seatsByHold: [String: Set<String>] = [:]
                var holders: [String: Int] = [:]
                for row in rows {
                    let hold = try row.decode(column: "id", as: String.self)
                    let seat = try row.decode(column: "seat_id", as: String.self)
                    seatsByHold[hold, default: []].insert(seat)
                    holders[seat, default: 0] += 1
                }
                #expect(holders.values.allSatisfy { $0 == 1 })
                for outcome in acknowledged {
                    let hold = try #require(outcome.holdID)
                    #expect(seatsByHold[hold] == Set(outcome.seats), "acknowledged hold \(hold) lost")
                }
                // Holds the database has beyond the acknowledged ones can only be the dead
                // node's unanswered requests.
                let unanswered = seatsByHold.count - acknowledged.count
                #expect(unanswered >= 0 && unanswered <= failed.count)
            }

            // The sweeper (and any other singleton the victim ran) moved to a live node, within
            // the lease's length and a retry.
            let raceEnded = ContinuousClock.now
            let deadline = raceEnded + .seconds(30)
            let killToTakeover = try await withThrowingTaskGroup(of: Duration?.self) { group in
                group.addTask { await takeover.value }
                group.addTask { try await Task.sleep(until: deadline); takeover.cancel(); return nil }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
            let takeoverTime = try #require(killToTakeover, "no live node took the hold sweeper within 30 s")
            FileHandle.standardError.write(Data("node killed: a live node took its lease \(takeoverTime) after the kill\n".utf8))
            #expect(takeoverTime < .seconds(3))

            // The read model catches up through the surviving nodes' consumers: every seat held
            // in the database shows as held.
            let heldInDatabase = try await cluster.withDatabase { database in
                try await database.read { sql in
                    try await sql.raw("""
                        SELECT COUNT(*) AS n FROM holds h JOIN hold_items i ON i.hold_id = h.id
                        WHERE h.performance_id = \(bind: performanceID) AND h.status = 'active'
                        """).first()?.decode(column: "n", as: Int.self) ?? -1
                }
            }
            var shown = -1
            while shown != heldInDatabase, ContinuousClock.now < deadline + .seconds(30) {
                let availability = try await client.call(.GET, "\(cluster.url)/v1/performances/\(performanceID)/availability", token: organizer)
                shown = ((availability.json["tiers"] as? [[String: Any]])?.first?["held"] as? Int) ?? -1
                if shown != heldInDatabase { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(shown == heldInDatabase)
            let caughtUp = ContinuousClock.now
            let sinceKill = caughtUp - (killedAt.withLock { $0 } ?? raceEnded)
            FileHandle.standardError.write(Data(
                "node killed: the seat map was current \(caughtUp - raceEnded) after the race ended, \(sinceKill) after the kill\n".utf8))
            #expect(caughtUp - raceEnded < .seconds(5))

            // A node stopped gracefully hands its leases over as its shutdown begins, without
            // waiting for them to run out or for its own drain to end.
            let stopping = try #require(try await leaseHolderPID(cluster, "hold-sweeper"))
            kill(stopping, SIGTERM)
            let stoppedAt = ContinuousClock.now
            var holder = stopping
            while holder == stopping || holder == victim, ContinuousClock.now - stoppedAt < .seconds(30) {
                try await Task.sleep(for: .milliseconds(20))
                holder = try await leaseHolderPID(cluster, "hold-sweeper") ?? stopping
            }
            let handover = ContinuousClock.now - stoppedAt
            FileHandle.standardError.write(Data("node stopped with SIGTERM: its lease was taken \(handover) later\n".utf8))
            #expect(holder != stopping && holder != victim && cluster.nodePIDs.contains(holder))
            #expect(handover < .seconds(1.5), "handed over in \(handover)")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aFansRateLimitHoldsAcrossAllThreeNodesTogether() async throws {
        try await Cluster.with(environment: ["BOXOFFICE_FAN_RATE_LIMIT": "10"]) { cluster in
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            defer { _ = http.shutdown() }
            let client = ClusterClient(http: http)
            let token = try await cluster.tokens().issue(for: User(id: "eager-fan", email: "e@example.com", name: "E", roles: [.fan]))
            let ports = cluster.nodePorts
            #expect(ports.count == 3)
            // Straight to the nodes, a third each: a limit kept per node would allow 30 at once.
            let started = ContinuousClock.now
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<60 {
                    group.addTask {
                        try await client.call(.GET, "http://127.0.0.1:\(ports[index % 3])/v1/tickets", token: token).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            let elapsed = ContinuousClock.now - started
            let allowed = statuses.filter { $0 == 200 }.count
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            #expect(Set(statuses).isSubset(of: [200, 429]))
            #expect(allowed >= 10)
            #expect(Double(allowed) <= 10 + 10 * seconds + 1, "\(allowed) allowed in \(seconds) s")
            #expect(allowed < 30)
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func theWaitingRoomAdmitsInJoinOrderWithinTheCapAcrossThreeNodes() async throws {
        try await Cluster.with(environment: ["BOXOFFICE_HUMAN_CHECK": "off", "BOXOFFICE_FAN_RATE_LIMIT": "0"]) { cluster in
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            defer { _ = http.shutdown() }
            let client = ClusterClient(http: http)
            let tokens = try await cluster.tokens()
            let organizer = try await tokens.issue(for: User(id: "organizer", email: "o@example.com", name: "O", roles: [.organizer]))
            let performanceID = try await putOnSale(client, cluster.url, organizer: organizer, rows: 4)
            _ = try await waitForSeats(client, cluster.url, performanceID: performanceID, token: organizer, count: 40)
            let queue = "\(cluster.url)/v1/performances/\(performanceID)/queue"
            let configured = try await client.call(.PUT, queue, token: organizer, json: [
                "enabled": true, "opensAt": Date().addingTimeInterval(-1).formatted(Date.ISO8601FormatStyle()),
                "admitPerMinute": 6000, "maxActiveShoppers": 5, "keepAliveSeconds": 120,
            ])
            #expect(configured.status == 200)

            // Twelve fans join one after another, each through whichever node nginx picks.
            var tickets: [String] = []
            for fan in 0..<12 {
                let token = try await tokens.issue(for: User(id: "fan-\(fan)", email: "f\(fan)@example.com", name: "F", roles: [.fan]))
                let joined = try await client.call(.POST, "\(queue)/join", token: token)
                #expect(joined.status == 200)
                tickets.append(try #require(joined.json["queueTicket"] as? String))
            }
            // Poll every ticket on every node until the gate (on one node) has let five in.
            func statuses(on port: Int) async throws -> [String] {
                var states: [String] = []
                for ticket in tickets {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/performances/\(performanceID)/queue/status")
                    request.headers.add(name: "Queue-Ticket", value: ticket)
                    let response = try await http.execute(request, timeout: .seconds(10))
                    let body = try await response.body.collect(upTo: 1 << 20)
                    let json = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
                    states.append(json["state"] as? String ?? "?")
                }
                return states
            }
            let expected = Array(repeating: "admitted", count: 5) + Array(repeating: "waiting", count: 7)
            let deadline = ContinuousClock.now + .seconds(30)
            var seen: [[String]] = []
            repeat {
                try await Task.sleep(for: .milliseconds(500))
                seen = []
                for port in cluster.nodePorts { seen.append(try await statuses(on: port)) }
            } while seen.contains(where: { $0 != expected }) && ContinuousClock.now < deadline
            for states in seen { #expect(states == expected) }
            let stats = try await client.call(.GET, "\(queue)/stats", token: organizer)
            #expect(stats.json["active"] as? Int == 5)
            #expect(stats.json["waiting"] as? Int == 7)
        }
    }

    @Test(.timeLimit(.minutes(4)))
    func aGatewayPaymentAcknowledgedJustBeforeTheRedisMasterDiesEndsPaidNeverStuck() async throws {
        try await Cluster.with(environment: ["BOXOFFICE_HUMAN_CHECK": "off", "BOXOFFICE_FAN_RATE_LIMIT": "0"]) { cluster in
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            defer { _ = http.shutdown() }
            let client = ClusterClient(http: http)
            let tokens = try await cluster.tokens()
            let organizer = try await tokens.issue(for: User(id: "organizer", email: "o@example.com", name: "O", roles: [.organizer]))
            let performanceID = try await putOnSale(client, cluster.url, organizer: organizer, rows: 1)
            let seats = try await waitForSeats(client, cluster.url, performanceID: performanceID, token: organizer, count: 10)
            let fan = try await tokens.issue(for: User(id: "fan-paying", email: "pay@example.com", name: "F", roles: [.fan]))

            // The sandbox gateway lives in one node: this fan pays through that node.
            let node = "http://127.0.0.1:\(try #require(cluster.nodePorts.first))"
            let hold = try await client.call(.POST, "\(node)/v1/performances/\(performanceID)/holds", token: fan, json: ["seatIds": Array(seats.prefix(2))])
            let holdID = try #require(hold.json["id"] as? String)
            let started = try await client.call(
                .POST, "\(node)/v1/checkout", token: fan, json: ["holdId": holdID, "method": "gateway"],
                headers: ["Idempotency-Key": UUID().uuidString])
            #expect(started.status == 202)
            let orderID = try #require((started.json["order"] as? [String: Any])?["id"] as? String)
            let payURL = try #require((started.json["paymentIntent"] as? [String: Any])?["payUrl"] as? String)

            // The fan pays; the gateway's signed webhook reaches the node a moment later and the
            // payment is recorded, while the Redis master, through which its event must travel, dies.
            #expect(try await client.call(.POST, payURL, token: nil).status == 200)
            let masterPID = try #require(Int32(try String(
                contentsOf: cluster.directory.appendingPathComponent("redis/master.pid"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            try await Task.sleep(for: .milliseconds(250))
            kill(masterPID, SIGKILL)
            let killedAt = ContinuousClock.now

            var status = "pending_payment"
            var order: [String: Any] = [:]
            while status == "pending_payment", ContinuousClock.now - killedAt < .seconds(150) {
                try await Task.sleep(for: .seconds(1))
                if let reply = try? await client.call(.GET, "\(node)/v1/orders/\(orderID)", token: fan), reply.status == 200 {
                    order = reply.json
                    status = order["status"] as? String ?? status
                }
            }
            let seconds = (ContinuousClock.now - killedAt).components.seconds
            FileHandle.standardError.write(Data("redis master killed after a gateway payment: the order was \(status) \(seconds) s later\n".utf8))
            #expect(["paid", "cancelled"].contains(status), "stuck as \(status) \(seconds) s after the kill")
            if status == "paid" {
                #expect((order["items"] as? [Any])?.count == 2)
            } else {
                #expect((order["refunded"] as? [String: Any])?["amount"] as? Int == 220_000, "cancelled only with the money given back")
            }
            let paid = try await cluster.withDatabase { database in
                try await database.read { sql in
                    try await sql.raw("SELECT COUNT(*) AS n FROM tickets WHERE order_id = \(bind: orderID) AND status = 'valid'").first()?
                        .decode(column: "n", as: Int.self)
                }
            }
            #expect(paid == (status == "paid" ? 2 : 0))
        }
    }

    func putOnSale(_ client: ClusterClient, _ url: String, organizer: String, rows: Int) async throws -> String {
        let venue = try await client.call(.POST, "\(url)/v1/venues", token: organizer, json: ["name": "Arena", "address": "Seoul"])
        let venueID = try #require(venue.json["id"] as? String)
        let csv = (1...rows).flatMap { row in (1...10).map { seat in "A,\(row),\(seat),\(seat),\(row),R" } }.joined(separator: "\n")
        #expect(try await client.call(.PUT, "\(url)/v1/venues/\(venueID)/seatmap", token: organizer, csv: csv).status == 200)
        let event = try await client.call(.POST, "\(url)/v1/events", token: organizer, json: [
            "title": "Cluster night", "description": "", "artist": "Band", "category": "concert", "venueId": venueID,
        ])
        let eventID = try #require(event.json["id"] as? String)
        let now = Date()
        func iso(_ offset: TimeInterval) -> String { now.addingTimeInterval(offset).formatted(Date.ISO8601FormatStyle()) }
        let performance = try await client.call(.POST, "\(url)/v1/events/\(eventID)/performances", token: organizer, json: [
            "startsAt": iso(30 * 86400), "onSaleFrom": iso(-3600), "onSaleUntil": iso(29 * 86400),
            "prices": [["tier": "R", "price": ["amount": 110_000, "currency": "KRW"]]],
        ])
        let performanceID = try #require(performance.json["id"] as? String)
        #expect(try await client.call(.POST, "\(url)/v1/events/\(eventID)/publish", token: organizer).status < 300)
        return performanceID
    }

    func waitForSeats(
        _ client: ClusterClient, _ url: String, performanceID: String, token: String, count: Int
    ) async throws -> [String] {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let reply = try await client.call(.GET, "\(url)/v1/performances/\(performanceID)/availability", token: token)
            let seats = (reply.json["seats"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            if seats.count == count { return seats }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("the performance's \(count) seats did not appear")
        throw CancellationError()
    }

    /// The process ID of the node holding lease `name` (holders are `host/pid/random`); nil
    /// while nobody holds it (between a holder's death and the takeover).
    func leaseHolderPID(_ cluster: Cluster, _ name: String) async throws -> Int32? {
        let holder = try await cluster.withRedis { redis in try await redis.send("GET", "boxoffice:lease:\(name)").string }
        guard let parts = holder?.split(separator: "/"), parts.count == 3 else { return nil }
        return Int32(parts[1])
    }
}
