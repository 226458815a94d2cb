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
import WaitingRoom

/// A performance on sale behind a waiting room, driven through the real API, with the gate
/// stepped by hand on a manual clock.
struct Room {
    let sale: OnSale
    let clock: ManualClock
    let gate: QueueGate
    let organizer: String

    var platform: BoxofficePlatform { sale.platform }
    var performanceID: String { sale.performanceID }

    static func make(
        _ client: any TestClientProtocol, _ platform: BoxofficePlatform, clock: ManualClock, quota: Int? = nil,
        queue: [String: Any] = [:]
    ) async throws -> Room {
        let sale = try await OnSale.make(client, platform, quota: quota)
        let room = Room(
            sale: sale, clock: clock, gate: QueueGate(service: platform.waitingRoom),
            organizer: try await OnSale.token(platform, userID: "organizer", roles: [.organizer]))
        var settings: [String: Any] = [
            "enabled": true, "opensAt": clock.now().addingTimeInterval(-60).formatted(Date.ISO8601FormatStyle()),
            "admitPerMinute": 600, "maxActiveShoppers": 1000,
        ]
        settings.merge(queue) { _, new in new }
        let configured = try await sale.call(.put, "/v1/performances/\(sale.performanceID)/queue", fan: room.organizer, body: settings)
        #expect(configured.status == 200, "\(configured.rawBody)")
        return room
    }

    func fan(_ index: Int) async throws -> String {
        try await OnSale.token(platform, userID: "fan-\(index)")
    }

    func join(_ fan: String) async throws -> OnSale.Reply {
        try await sale.call(.post, "/v1/performances/\(performanceID)/queue/join", fan: fan)
    }

    func status(_ ticket: String) async throws -> OnSale.Reply {
        try await sale.client.execute(
            uri: "/v1/performances/\(performanceID)/queue/status", method: .get, headers: [.queueTicket: ticket]
        ) { response in
            OnSale.Reply(
                status: response.status.code,
                json: (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] ?? [:],
                rawBody: String(buffer: response.body))
        }
    }

    /// One gate step, then what every node does a few times a second (keep-alives, counters).
    @discardableResult
    func step(advancing seconds: TimeInterval = 1) async throws -> Int {
        clock.advance(by: seconds)
        try await platform.waitingRoom.flush()
        let admitted = try await gate.step()
        try await platform.waitingRoom.flush()
        return admitted
    }

    func stats() async throws -> [String: Any] {
        try await sale.call(.get, "/v1/performances/\(performanceID)/queue/stats", fan: organizer).json
    }

    /// Admitted fans, in the order the gate let them in.
    func admittedInOrder() async throws -> [String] {
        try await platform.database.read { sql in
            try await sql.raw("""
                SELECT fan_id FROM queue_places WHERE performance_id = \(bind: performanceID) AND admitted_at IS NOT NULL
                ORDER BY admitted_at, sequence
                """).all().map { try $0.decode(column: "fan_id", as: String.self) }
        }
    }
}

@Suite struct WaitingRoomTests {
    @Test(arguments: DatabaseDialect.allCases)
    func fansWhoJoinAfterOpeningAreAdmittedStrictlyInJoinOrder(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let room = try await Room.make(client, platform, clock: clock, queue: ["admitPerMinute": 60])
                var tickets: [String] = []
                for index in 0..<6 {
                    let joined = try await room.join(try await room.fan(index))
                    #expect(joined.status == 200)
                    #expect(joined.json["state"] as? String == "waiting")
                    #expect(joined.json["position"] as? Int == index + 1)
                    #expect(joined.json["ahead"] as? Int == index)
                    tickets.append(try #require(joined.json["queueTicket"] as? String))
                }
                // One a second at 60 a minute: each step lets the next fan in, never one out of turn.
                for admittedSoFar in 1...6 {
                    for ticket in tickets { _ = try await room.status(ticket) }  // everyone keeps polling
                    try await room.step()
                    #expect(try await room.admittedInOrder() == (0..<admittedSoFar).map { "fan-\($0)" })
                }
                let first = try await room.status(tickets[0])
                #expect(first.json["state"] as? String == "admitted")
                #expect((first.json["accessToken"] as? String)?.isEmpty == false)
            }
        }
    }

    @Test func thePrequeueIsDrawnAtOpeningAheadOfLaterFansAndEachSeedDrawsItsOwnOrder() async throws {
        let clock = ManualClock()
        try await withPlatform(clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let opensIn: TimeInterval = 300
                let queue: [String: Any] = [
                    "opensAt": clock.now().addingTimeInterval(opensIn).formatted(Date.ISO8601FormatStyle()), "prequeueMinutes": 10,
                ]
                let first = try await Room.make(client, platform, clock: clock, queue: queue)
                let second = try await Room.make(client, platform, clock: clock, queue: queue)
                let early = 8
                var tickets: [String] = []
                for index in 0..<early {
                    let fan = try await first.fan(index)
                    let joined = try await first.join(fan)
                    #expect(joined.json["state"] as? String == "waiting")
                    #expect(joined.json["position"] == nil)  // drawn at opening
                    #expect(joined.json["etaSeconds"] as? Int == Int(opensIn))
                    tickets.append(try #require(joined.json["queueTicket"] as? String))
                    _ = try await second.join(fan)
                }
                clock.advance(by: opensIn)
                let late = try await first.join(try await first.fan(99))
                #expect(late.json["position"] as? Int == early + 1)
                // After the draw (which the node sees at its next refresh), a pre-queue ticket's
                // status carries a place and a ticket to keep.
                try await platform.waitingRoom.flush()
                let drawn = try await first.status(tickets[0])
                #expect((drawn.json["position"] as? Int).map { (1...early).contains($0) } == true)
                #expect(drawn.json["queueTicket"] as? String != nil)

                for _ in 0..<3 { try await first.step() }
                let order = try await first.admittedInOrder()
                #expect(Set(order.prefix(early)) == Set((0..<early).map { "fan-\($0)" }))
                #expect(order.last == "fan-99")
                try await second.step()
                let otherOrder = try await second.admittedInOrder()
                #expect(Set(otherOrder) == Set(order.prefix(early)))
                #expect(otherOrder != Array(order.prefix(early)), "two seeds drew the same order of \(early)")
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func activeShoppersNeverExceedTheCapAndAFinishedShopperFreesTheSlotAtOnce(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let room = try await Room.make(client, platform, clock: clock, queue: ["maxActiveShoppers": 3])
                var fans: [String] = []
                var tickets: [String] = []
                for index in 0..<8 {
                    let fan = try await room.fan(index)
                    fans.append(fan)
                    tickets.append(try #require(try await room.join(fan).json["queueTicket"] as? String))
                }
                for _ in 0..<4 {
                    try await room.step()
                    #expect(try await room.stats()["active"] as? Int ?? 99 <= 3)
                }
                #expect(try await room.admittedInOrder().count == 3)
                // The first shopper buys (hold, then pay from the wallet, both with the token):
                // their slot goes to the next fan at the next step.
                let admin = try await OnSale.token(platform, userID: "admin", roles: [.admin])
                #expect(try await room.sale.call(
                    .post, "/v1/admin/wallets/fan-0/grants", fan: admin, body: ["amount": 1_000_000, "reason": "test"],
                    headers: OnSale.idempotencyKey()).status < 300)
                let ticket = try #require(tickets.first)
                let token = try #require(try await room.status(ticket).json["accessToken"] as? String)
                let hold = try await room.sale.call(
                    .post, "/v1/performances/\(room.performanceID)/holds", fan: fans[0], body: ["seatIds": [room.sale.seatIDs[0]]],
                    headers: [.queueAccess: token])
                let holdID = try #require(hold.json["id"] as? String)
                let paid = try await room.sale.call(
                    .post, "/v1/checkout", fan: fans[0], body: ["holdId": holdID, "method": "wallet"],
                    headers: [.queueAccess: token, .idempotencyKey: UUID().uuidString])
                #expect(paid.status == 201, "\(paid.rawBody)")
                try await platform.relay.deliverPending()
                try await waitUntil { try await room.stats()["active"] as? Int == 2 }
                try await room.step()
                #expect(try await room.admittedInOrder() == ["fan-0", "fan-1", "fan-2", "fan-3"])
                #expect(try await room.stats()["active"] as? Int == 3)
                // The same figures for Prometheus, from the node running the gate.
                let gate = QueueGate(service: platform.waitingRoom, metrics: platform.metrics)
                try await gate.step()
                let metrics = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
                #expect(metrics.contains("boxoffice_queue_active_shoppers{performance=\"\(room.performanceID)\"} 3"))
                #expect(metrics.contains("boxoffice_queue_waiting{performance=\"\(room.performanceID)\"} 4"))
            }
        }
    }

    @Test func admissionsInAnySixtySecondsNeverExceedTheRate() async throws {
        let clock = ManualClock()
        try await withPlatform(clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let room = try await Room.make(client, platform, clock: clock, queue: ["admitPerMinute": 6, "keepAliveSeconds": 3600])
                for index in 0..<30 { _ = try await room.join(try await room.fan(index)) }
                var admissions: [(at: Date, count: Int)] = []
                for _ in 0..<120 {  // four minutes in two-second steps
                    let admitted = try await room.step(advancing: 2)
                    if admitted > 0 { admissions.append((clock.now(), admitted)) }
                }
                let total = admissions.reduce(0) { $0 + $1.count }
                #expect(total >= 20 && total <= 25, "admitted \(total) in four minutes at 6 a minute")
                for start in admissions.map(\.at) {
                    let inWindow = admissions.filter { $0.at >= start && $0.at < start.addingTimeInterval(60) }.reduce(0) { $0 + $1.count }
                    #expect(inWindow <= 6, "\(inWindow) admitted in the minute from \(start)")
                }
            }
        }
    }

    @Test func withEverythingHeldTheGatePausesAndResumesWhenAHoldExpires() async throws {
        let clock = ManualClock()
        try await withPlatform(clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let room = try await Room.make(client, platform, clock: clock, quota: 2, queue: ["sessionMinutes": 2, "keepAliveSeconds": 3600])
                var tickets: [String] = []
                for index in 0..<5 {
                    tickets.append(try #require(try await room.join(try await room.fan(index)).json["queueTicket"] as? String))
                }
                // Two units left: two fans in, no more while they shop.
                try await room.step()
                try await room.step()
                #expect(try await room.admittedInOrder() == ["fan-0", "fan-1"])
                let buyer = try await room.fan(0)
                let token = try #require(try await room.status(tickets[0]).json["accessToken"] as? String)
                let held = try await room.sale.call(
                    .post, "/v1/performances/\(room.performanceID)/holds", fan: buyer, body: ["tier": "Standing", "quantity": 2],
                    headers: [.queueAccess: token])
                #expect(held.status == 201, "\(held.rawBody)")
                for _ in 0..<3 { try await room.step(advancing: 5) }
                #expect(try await room.admittedInOrder().count == 2)
                #expect(try await room.stats()["state"] as? String == "sold-out")
                // The sessions end (two minutes) but the units stay held: still nobody in.
                for _ in 0..<3 { try await room.step(advancing: 60) }
                #expect(try await room.admittedInOrder().count == 2)
                // The hold runs out (five minutes): the units are back, and so is the gate.
                for _ in 0..<3 { try await room.step(advancing: 60) }
                #expect(try await room.admittedInOrder() == ["fan-0", "fan-1", "fan-2", "fan-3"])
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aWaiterWhoStopsPollingIsSkippedAndNoLongerCounted(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let room = try await Room.make(
                    client, platform, clock: clock, queue: ["keepAliveSeconds": 10, "opensAt": clock.now().addingTimeInterval(30).formatted(Date.ISO8601FormatStyle()), "prequeueMinutes": 5])
                var tickets: [String] = []
                for index in 0..<3 { tickets.append(try #require(try await room.join(try await room.fan(index)).json["queueTicket"] as? String)) }
                // fan-0 goes quiet; the others keep polling until the queue opens.
                for _ in 0..<4 {
                    clock.advance(by: 8)
                    _ = try await room.status(tickets[1])
                    _ = try await room.status(tickets[2])
                    try await platform.waitingRoom.flush()
                }
                let stats = try await room.stats()
                #expect(stats["abandoned"] as? Int == 1)
                #expect(stats["waiting"] as? Int == 2)
                try await room.step(advancing: 0)
                #expect(Set(try await room.admittedInOrder()) == ["fan-1", "fan-2"])
                #expect(try await room.status(tickets[0]).json["state"] as? String == "expired")
            }
        }
    }

    @Test func anAccessTokenAdmitsOneFanToOnePerformanceWhileTheSessionRuns() async throws {
        let clock = ManualClock()
        try await withPlatform(clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let roomA = try await Room.make(client, platform, clock: clock, queue: ["sessionMinutes": 2])
                let roomB = try await Room.make(client, platform, clock: clock)
                let fan = try await roomA.fan(1)
                let ticket = try #require(try await roomA.join(fan).json["queueTicket"] as? String)
                try await roomA.step()
                let token = try #require(try await roomA.status(ticket).json["accessToken"] as? String)
                func hold(_ room: Room, _ seat: Int, as holder: String = fan, token: String?) async throws -> OnSale.Reply {
                    try await room.sale.call(
                        .post, "/v1/performances/\(room.performanceID)/holds", fan: holder, body: ["seatIds": [room.sale.seatIDs[seat]]],
                        headers: token.map { [.queueAccess: $0] } ?? [:])
                }
                let withoutToken = try await hold(roomA, 0, token: nil)
                #expect(withoutToken.status == 403)
                #expect(withoutToken.json["type"] as? String == "/problems/queue-access-required")
                #expect(try await hold(roomB, 0, token: token).status == 403)  // another performance
                #expect(try await hold(roomA, 0, as: try await roomA.fan(2), token: token).status == 403)  // someone else's
                #expect(try await hold(roomA, 0, token: String(token.dropLast(2)) + "xx").status == 403)  // forged
                let admitted = try await hold(roomA, 0, token: token)
                #expect(admitted.status == 201)
                let heldID = try #require(admitted.json["id"] as? String)
                clock.advance(by: 121)  // the session ends
                #expect(try await hold(roomA, 1, token: token).status == 403)

                // The services themselves ask: code that calls them directly cannot skip the queue.
                let principal = Principal(userID: "fan-9", roles: [.fan])
                let direct = await #expect(throws: Problem.self) {
                    _ = try await platform.reservations.hold(performanceID: roomA.performanceID, .seats([roomA.sale.seatIDs[5]]), fan: principal)
                }
                #expect(direct?.status == 403)
                let fanID = try #require(try await platform.identity.accessTokenVerifier.principal(fromAccessToken: fan).userID as String?)
                let unpaid = await #expect(throws: Problem.self) {
                    _ = try await platform.checkout.checkout(
                        holdID: heldID, method: .wallet, idempotencyKey: "k-1", fan: Principal(userID: fanID, roles: [.fan]))
                }
                #expect(unpaid?.status == 403, "paying without the admission token is refused however it is called")
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func joiningTwiceAtOnceFromTwoDevicesGivesOnePlace(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let room = try await Room.make(client, platform, clock: clock)
                _ = try await room.join(try await room.fan(0))
                let fan = try await room.fan(1)
                let answers = try await withThrowingTaskGroup(of: OnSale.Reply.self) { group in
                    for _ in 0..<10 { group.addTask { try await room.join(fan) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(answers.allSatisfy { $0.status == 200 })
                #expect(Set(answers.compactMap { $0.json["position"] as? Int }) == [2])
                // What curl and many clients send: a JSON content type and no body at all. (Another
                // fan: this one has used up its ten joins a minute.)
                let bare = try await room.sale.call(
                    .post, "/v1/performances/\(room.performanceID)/queue/join", fan: try await room.fan(2), headers: [.contentType: "application/json"])
                #expect(bare.status == 200 && bare.json["position"] as? Int == 3, "\(bare.rawBody)")
                let limited = try await room.join(fan)
                #expect(limited.status == 429)
                let places = try await platform.database.read { sql in
                    try await sql.raw("SELECT COUNT(*) AS n FROM queue_places WHERE fan_id = 'fan-1'").first()?.decode(column: "n", as: Int.self)
                }
                #expect(places == 1)
            }
        }
    }

    @Test func organizersPauseResumeAndCloseAndNobodyElseCan() async throws {
        let clock = ManualClock()
        try await withPlatform(clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let room = try await Room.make(client, platform, clock: clock)
                let stranger = try await OnSale.token(platform, userID: "other-organizer", roles: [.organizer])
                let path = "/v1/performances/\(room.performanceID)/queue"
                #expect(try await room.sale.call(.post, "\(path)/pause", fan: stranger).status == 404)
                #expect(try await room.sale.call(.post, "\(path)/pause", fan: room.fan(7)).status == 403)
                let ticket = try #require(try await room.join(try await room.fan(0)).json["queueTicket"] as? String)
                #expect(try await room.sale.call(.post, "\(path)/pause", fan: room.organizer).json["paused"] as? Bool == true)
                #expect(try await room.step() == 0)
                #expect(try await room.stats()["state"] as? String == "paused")
                // The console reads the settings in force back; nobody else may.
                let settings = try await room.sale.call(.get, path, fan: room.organizer)
                #expect(settings.json["paused"] as? Bool == true && settings.json["admitPerMinute"] as? Int == 600, "\(settings.rawBody)")
                #expect(try await room.sale.call(.get, path, fan: stranger).status == 404)
                #expect(try await room.sale.call(.post, "\(path)/resume", fan: room.organizer).status == 200)
                #expect(try await room.step() == 1)
                _ = try await room.join(try await room.fan(1))
                #expect(try await room.sale.call(.post, "\(path)/close", fan: room.organizer).json["closed"] as? Bool == true)
                #expect(try await room.status(ticket).json["state"] as? String == "closed")
                #expect(try await room.join(try await room.fan(2)).status == 409)
                let events = try await platform.database.read { sql in
                    try await sql.raw("SELECT DISTINCT event_type FROM outbox WHERE event_type LIKE 'queue.%'").all()
                        .map { try $0.decode(column: "event_type", as: String.self) }
                }
                #expect(Set(events) == ["queue.joined", "queue.admitted", "queue.closed"])
            }
        }
    }

    @Test func theHandWrittenStatusJSONSaysWhatTheEncoderWould() throws {
        let samples = [
            WaitingRoomService.Status(state: "waiting", position: 12, ahead: 11, etaSeconds: 40, queueTicket: "QT1.cA.c2ln"),
            WaitingRoomService.Status(state: "admitted", position: 0, ahead: 0, etaSeconds: 0, accessToken: "eyJh.eyJz.c2ln"),
            WaitingRoomService.Status(state: "closed"),
        ]
        for status in samples {
            let decoded = try JSONDecoder().decode(WaitingRoomService.Status.self, from: Data(status.json.utf8))
            #expect(decoded == status)
        }
    }

    @Test func statusStreamsAsServerSentEventsUntilTheFanIsLetIn() async throws {
        let clock = ManualClock()
        try await withPlatform(clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let room = try await Room.make(client, platform, clock: clock)
                let ticket = try #require(try await room.join(try await room.fan(0)).json["queueTicket"] as? String)
                try await room.step()
                let body = try await client.execute(
                    uri: "/v1/performances/\(room.performanceID)/queue/events?ticket=\(ticket)", method: .get
                ) { response in
                    #expect(response.headers[.contentType] == "text/event-stream")
                    return String(buffer: response.body)
                }
                #expect(body.contains("event: status\ndata: {"))
                #expect(body.contains("\"state\":\"admitted\""))
                let bad = try await client.execute(uri: "/v1/performances/\(room.performanceID)/queue/events?ticket=QT1.x.y", method: .get) {
                    $0.status.code
                }
                #expect(bad == 401)
            }
        }
    }
}

func waitUntil(seconds: Double = 10, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("condition not met within \(seconds) s")
    throw CancellationError()
}
