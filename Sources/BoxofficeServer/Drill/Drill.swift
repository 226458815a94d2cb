import AsyncHTTPClient
import BoxofficeKit
import Foundation
import Identity
import Logging
import NIOCore
import NIOHTTP1
import Persistence
import Synchronization

/// `boxoffice drill`: an on-sale rehearsal against a running deployment.
///
/// The drill's organizer and its virtual fans are accounts it makes through the deployment's
/// database settings (as `users create-admin` does) and signs in with the deployment's own
/// keys, as if they had signed in before the sale: signing thousands of people up would
/// measure bcrypt, not the on-sale. Everything else goes through the public API, as fans'
/// phones would: the drill's venue, event and performance behind a waiting room, the fans'
/// wallets, their place in the queue, their holds and payments. The invariants are checked
/// through the API too.
public enum Drill {
    public struct Options: Sendable {
        public var url: String
        public var fans = 2000
        /// Seats on sale; nil: one and a half per fan, so that fans who walk away do not hold up
        /// the ones behind them. Fewer rehearse a sell-out: the waiting room lets in
        /// only as many fans as there are seats left, so those behind wait for the sessions of
        /// fans who walked away to end (a minute here) before the queue closes.
        public var seats: Int?
        /// An organizer (with the admin role, to fund the fans' wallets) to sign in as; nil: the
        /// drill makes one.
        public var organizerEmail: String?
        public var organizerPassword: String?
        /// Fans who let their hold go instead of paying, who walk away holding their seat (the
        /// sweeper frees it when the hold runs out), and who stop waiting before their turn.
        public var abandonPercent = 10
        public var expirePercent = 5
        public var leaveQueuePercent = 5
        /// Requests in flight at once, at most.
        public var connections = 128
        public var reportPath: String

        public init(url: String, reportPath: String) {
            self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
            self.reportPath = reportPath
        }
    }

    static let price: Int64 = 55_000
    static let walletGrant: Int64 = 200_000

    /// Runs the drill; `progress` gets a one-line summary twice a second.
    public static func run(
        _ options: Options, configuration: ServerConfiguration, logger: Logger, progress: @escaping @Sendable (String) -> Void
    ) async throws -> DrillReport {
        let runID = String(UUID().uuidString.prefix(8)).lowercased()
        progress("drill \(runID): making \(options.fans) fans' accounts")
        let accounts = try await makeAccounts(options, runID: runID, configuration: configuration, logger: logger)

        var poolConfiguration = HTTPClient.Configuration()
        poolConfiguration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: options.connections)
        poolConfiguration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: poolConfiguration)
        do {
            let api = DrillAPI(http: http, base: options.url)
            let organizer = try await accounts.organizerToken(api)
            let report = try await rehearse(options, runID: runID, api: api, organizer: organizer, fans: accounts.fans, progress: progress)
            try await http.shutdown()
            return report
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    struct Accounts: Sendable {
        let organizerToken: @Sendable (DrillAPI) async throws -> String
        let fans: [(id: String, token: String)]
    }

    private static func makeAccounts(
        _ options: Options, runID: String, configuration: ServerConfiguration, logger: Logger
    ) async throws -> Accounts {
        try await Server.withDatabase(configuration, logger: logger) { database in
            let pending = try await Migrator(database: database, groups: BoxofficePlatform.migrationGroups).status().filter { !$0.isApplied }
            guard pending.isEmpty else {
                throw ConfigurationError(
                    origin: "--database-url", problem: "this database has \(pending.count) migrations to apply; is it the deployment's? (boxoffice migrate)")
            }
            let platform = try await BoxofficePlatform(configuration: configuration, database: database, logger: logger)
            let identity = platform.identity
            let made = try await identity.provisionAccounts(
                (0..<options.fans).map { (email: "drill-\(runID)-fan-\($0)@example.com", name: "Drill fan \($0)") })
            var fans: [(id: String, token: String)] = []
            for user in made { fans.append((user.id, try await identity.issueAccessToken(for: user))) }
            if let email = options.organizerEmail, let password = options.organizerPassword {
                return Accounts(organizerToken: { api in try await api.signIn(email: email, password: password) }, fans: fans)
            }
            let organizer = try await identity.provisionAccounts(
                [(email: "drill-\(runID)-organizer@example.com", name: "Drill organizer")], roles: [.organizer, .admin])
            let token = try await identity.issueAccessToken(for: organizer[0])
            return Accounts(organizerToken: { _ in token }, fans: fans)
        }
    }

    // MARK: The on-sale

    private static func rehearse(
        _ options: Options, runID: String, api: DrillAPI, organizer: String, fans: [(id: String, token: String)],
        progress: @escaping @Sendable (String) -> Void
    ) async throws -> DrillReport {
        let seatCount = max(1, options.seats ?? options.fans * 3 / 2)
        progress("drill \(runID): putting \(seatCount) seats on sale behind a waiting room")
        let sale = try await putOnSale(api, organizer: organizer, runID: runID, seats: seatCount)
        let grants = try await forEach(fans, limit: options.connections) { fan in
            try await api.call(
                .POST, "/v1/admin/wallets/\(fan.id)/grants", token: organizer,
                json: ["amount": walletGrant, "reason": "boxoffice drill \(runID)"], headers: ["Idempotency-Key": "drill-\(runID)-\(fan.id)"])
        }
        if let refused = grants.first(where: { $0.status >= 300 }) {
            throw DrillError("the organizer could not fund the fans' wallets (\(refused.status)): it needs the admin role")
        }

        // A deployment that asks for a proof of work at the queue gets one from every fan,
        // solved before the sale opens, as fans' browsers do while they wait for it.
        let proofs = try await solveProofs(api, count: fans.count, limit: options.connections, progress: progress)

        let recorder = DrillRecorder(fans: fans.count)
        let started = ContinuousClock.now
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                progress(recorder.progressLine(since: started))
            }
        }
        // Sold out: once no seat is left and nobody admitted is still choosing or paying, the
        // organizer closes the queue, and those still waiting are told (as fans at a real sale
        // are) instead of waiting for walked-away holds to run out.
        let closer = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                guard recorder.shopping == 0, recorder.snapshot().admissions.count > 0,
                      let availability = try? await api.call(.GET, "/v1/performances/\(sale.performanceID)/availability", token: organizer),
                      ((availability.json["tiers"] as? [[String: Any]]) ?? []).allSatisfy({ ($0["available"] as? Int ?? 1) == 0 })
                else { continue }
                _ = try? await api.call(.POST, "/v1/performances/\(sale.performanceID)/queue/close", token: organizer)
                progress("drill \(runID): sold out; the organizer closed the queue")
                return
            }
        }
        let plans = fans.indices.map { FanPlan(index: $0, options: options, proof: proofs?[$0]) }
        _ = try await forEach(Array(zip(fans, plans)), limit: fans.count) { fan, plan in
            await shop(api: api, sale: sale, fan: fan, plan: plan, recorder: recorder, started: started)
        }
        closer.cancel()
        ticker.cancel()
        progress(recorder.progressLine(since: started))
        let elapsed = ContinuousClock.now - started

        progress("drill \(runID): checking the invariants")
        let invariants = try await check(api: api, organizer: organizer, sale: sale, fans: fans, recorder: recorder)
        return DrillReport(
            runID: runID, url: options.url, fans: fans.count, seats: seatCount, elapsed: elapsed,
            recorder: recorder.snapshot(), invariants: invariants)
    }

    struct Sale: Sendable {
        let performanceID: String
        let seatIDs: [String]
    }

    private static func putOnSale(_ api: DrillAPI, organizer: String, runID: String, seats: Int) async throws -> Sale {
        func created(_ reply: DrillAPI.Reply, _ what: String) throws -> String {
            guard reply.status < 300, let id = reply.json["id"] as? String else {
                throw DrillError("could not create the drill's \(what) (\(reply.status)): \(reply.json["detail"] as? String ?? "")")
            }
            return id
        }
        let venue = try created(try await api.call(.POST, "/v1/venues", token: organizer, json: ["name": "Drill hall \(runID)", "address": "Seoul"]), "venue")
        let perRow = 20
        let csv = (0..<seats).map { index in
            let row = index / perRow + 1, seat = index % perRow + 1
            return "A,\(row),\(seat),\(seat),\(row),R"
        }.joined(separator: "\n")
        let mapped = try await api.call(.PUT, "/v1/venues/\(venue)/seatmap", token: organizer, csv: csv)
        guard mapped.status < 300 else { throw DrillError("the drill's seat map was refused (\(mapped.status)): \(mapped.json["detail"] ?? "")") }
        let event = try created(try await api.call(.POST, "/v1/events", token: organizer, json: [
            "title": "Drill \(runID)", "description": "An on-sale rehearsal (boxoffice drill).", "artist": "Drill",
            "category": "concert", "venueId": venue,
        ]), "event")
        let now = Date()
        func iso(_ offset: TimeInterval) -> String { now.addingTimeInterval(offset).formatted(Date.ISO8601FormatStyle()) }
        let performance = try created(try await api.call(.POST, "/v1/events/\(event)/performances", token: organizer, json: [
            "startsAt": iso(30 * 86400), "onSaleFrom": iso(-60), "onSaleUntil": iso(29 * 86400),
            "prices": [["tier": "R", "price": ["amount": price, "currency": "KRW"]]],
        ]), "performance")
        let published = try await api.call(.POST, "/v1/events/\(event)/publish", token: organizer)
        guard published.status < 300 else { throw DrillError("the drill's event could not be published (\(published.status))") }
        // The seats appear once the inventory is built from the performance's event.
        var seatIDs: [String] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while seatIDs.count < seats, ContinuousClock.now < deadline {
            let availability = try await api.call(.GET, "/v1/performances/\(performance)/availability", token: organizer)
            seatIDs = (availability.json["seats"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            if seatIDs.count < seats { try await Task.sleep(for: .milliseconds(250)) }
        }
        guard seatIDs.count == seats else { throw DrillError("the drill's \(seats) seats did not appear within 60 s (\(seatIDs.count) did)") }
        // Admissions as fast as a big on-sale lets in, a cap on shoppers at once, and short
        // sessions and keep-alives, so that fans who walk away free their place within a minute.
        let queue = try await api.call(.PUT, "/v1/performances/\(performance)/queue", token: organizer, json: [
            "enabled": true, "opensAt": iso(0), "admitPerMinute": 12_000, "maxActiveShoppers": max(500, seats / 2), "keepAliveSeconds": 10,
            "sessionMinutes": 1,
        ])
        guard queue.status < 300 else { throw DrillError("the waiting room could not be set up (\(queue.status)): \(queue.json["detail"] ?? "")") }
        return Sale(performanceID: performance, seatIDs: seatIDs.shuffled())
    }

    /// One proof of work per fan when the deployment's queue asks for it (`--human-check
    /// pow`); nil when it does not.
    private static func solveProofs(
        _ api: DrillAPI, count: Int, limit: Int, progress: @escaping @Sendable (String) -> Void
    ) async throws -> [[String: String]]? {
        let first = try await api.call(.POST, "/v1/auth/challenge", token: nil)
        guard first.status == 200 else { return nil }  // 409: no proof-of-work here
        progress("drill: the queue asks for a proof of work; solving one per fan (\(first.json["difficulty"] ?? "?") bits)")
        let solved = ContinuousClock.now
        let proofs = try await forEach(Array(0..<count), limit: min(limit, 16)) { _ -> [String: String] in
            let reply = try await api.call(.POST, "/v1/auth/challenge", token: nil)
            guard let challenge = reply.json["challenge"] as? String, let difficulty = reply.json["difficulty"] as? Int else {
                throw DrillError("no proof-of-work challenge (\(reply.status))")
            }
            return ["challenge": challenge, "nonce": ProofOfWorkCheck.solve(challenge, difficulty: difficulty)]
        }
        progress("drill: \(count) proofs of work solved in \(String(format: "%.1f", DrillReport.seconds(ContinuousClock.now - solved))) s")
        return proofs
    }

    /// What a fan will do, fixed by its number so that a run's mix is what was asked.
    struct FanPlan: Sendable {
        enum Ending: String, Sendable { case pay, abandon, expire, leaveQueue }
        let index: Int
        let ending: Ending
        let proof: [String: String]?

        init(index: Int, options: Options, proof: [String: String]?) {
            self.index = index
            self.proof = proof
            let slot = (index &* 7919) % 100  // spread the endings over the queue
            if slot < options.leaveQueuePercent {
                ending = .leaveQueue
            } else if slot < options.leaveQueuePercent + options.abandonPercent {
                ending = .abandon
            } else if slot < options.leaveQueuePercent + options.abandonPercent + options.expirePercent {
                ending = .expire
            } else {
                ending = .pay
            }
        }
    }

    private static func shop(
        api: DrillAPI, sale: Sale, fan: (id: String, token: String), plan: FanPlan, recorder: DrillRecorder, started: ContinuousClock.Instant
    ) async {
        // Fans arrive over the first second, as they do when a sale opens.
        try? await Task.sleep(for: .milliseconds(Int.random(in: 0..<1000)))
        let queue = "/v1/performances/\(sale.performanceID)/queue"
        let joinedAt = ContinuousClock.now
        guard let joined = await recorder.timed(.join, expecting: [200], {
            try await api.call(.POST, "\(queue)/join", token: fan.token, json: plan.proof.map { ["humanCheck": $0] } ?? [:])
        }),
              let ticket = joined.json["queueTicket"] as? String, let position = joined.json["position"] as? Int
        else { return recorder.end(.error) }
        recorder.joined(fan: fan.id, position: position, sent: joinedAt - started, answered: ContinuousClock.now - started)
        if (joined.json["state"] as? String) == "waiting" { recorder.waiting(fan: fan.id, askedAt: joinedAt - started) }
        if plan.ending == .leaveQueue, (joined.json["state"] as? String) != "admitted" {
            try? await Task.sleep(for: .milliseconds(500))
            return recorder.end(.leftQueue)
        }
        var access = joined.json["accessToken"] as? String
        while access == nil {
            try? await Task.sleep(for: .milliseconds(Int.random(in: 700..<1300)))
            let asked = ContinuousClock.now - started
            guard let status = await recorder.timed(.status, expecting: [200], { try await api.call(.GET, "\(queue)/status", token: nil, headers: ["Queue-Ticket": ticket]) })
            else { return recorder.end(.error) }
            switch status.json["state"] as? String {
            case "admitted": access = status.json["accessToken"] as? String
            case "waiting": recorder.waiting(fan: fan.id, askedAt: asked)
            default: return recorder.end(.soldOut)  // closed: the sale ended before this fan's turn
            }
        }
        recorder.admitted(fan: fan.id, at: ContinuousClock.now - started)
        guard let accessToken = access else { return recorder.end(.error) }
        recorder.end(await buy(api: api, sale: sale, fan: fan, plan: plan, accessToken: accessToken, recorder: recorder, started: started))
        recorder.leftShop()
    }

    /// An admitted fan's shopping: a seat, then paying for it or not.
    private static func buy(
        api: DrillAPI, sale: Sale, fan: (id: String, token: String), plan: FanPlan, accessToken: String, recorder: DrillRecorder,
        started: ContinuousClock.Instant
    ) async -> DrillRecorder.Outcome {

        // A seat: the fan's own pick first, then others, as fans do when theirs is taken.
        var hold: (id: String, seat: String)?
        for attempt in 0..<4 {
            let seat = sale.seatIDs[(attempt == 0 ? plan.index : Int.random(in: 0..<sale.seatIDs.count)) % sale.seatIDs.count]
            guard let reply = await recorder.timed(.hold, expecting: [201, 409], {
                try await api.call(
                    .POST, "/v1/performances/\(sale.performanceID)/holds", token: fan.token, json: ["seatIds": [seat]],
                    headers: ["Queue-Access": accessToken])
            }) else { return .error }
            if reply.status == 201, let id = reply.json["id"] as? String {
                hold = (id, seat)
                break
            }

        }
        guard let hold else { return .soldOut }
        recorder.held()
        switch plan.ending {
        case .abandon:
            try? await Task.sleep(for: .milliseconds(Int.random(in: 200..<800)))
            guard await recorder.timed(.release, expecting: [204], { try await api.call(.DELETE, "/v1/holds/\(hold.id)", token: fan.token) }) != nil
            else { return .error }
            return .abandoned
        case .expire:
            return .leftHolding
        case .pay, .leaveQueue:
            try? await Task.sleep(for: .milliseconds(Int.random(in: 200..<800)))
            guard let paid = await recorder.timed(.checkout, expecting: [201], {
                try await api.call(
                    .POST, "/v1/checkout", token: fan.token, json: ["holdId": hold.id, "method": "wallet"],
                    headers: ["Idempotency-Key": "drill-\(fan.id)", "Queue-Access": accessToken])
            }),
                let order = paid.json["order"] as? [String: Any], let orderID = order["id"] as? String,
                let total = ((order["total"] as? [String: Any])?["amount"] as? NSNumber)?.int64Value
            else { return .error }
            recorder.paid(fan: fan.id, order: orderID, seat: hold.seat, total: total, at: ContinuousClock.now - started)
            return .paid
        }
    }

    // MARK: Invariants

    private static func check(
        api: DrillAPI, organizer: String, sale: Sale, fans: [(id: String, token: String)], recorder: DrillRecorder
    ) async throws -> [DrillReport.Invariant] {
        let snapshot = recorder.snapshot()
        var invariants: [DrillReport.Invariant] = []

        // No seat in two paid orders, and the seat map (once the events are through) shows as
        // sold exactly the seats that were paid for.
        let paidSeats = snapshot.paid.map(\.seat)
        let twice = paidSeats.count - Set(paidSeats).count
        var shownSold = -1
        let deadline = ContinuousClock.now + .seconds(30)
        repeat {
            let availability = try await api.call(.GET, "/v1/performances/\(sale.performanceID)/availability", token: organizer)
            shownSold = ((availability.json["tiers"] as? [[String: Any]]) ?? []).reduce(0) { $0 + ($1["sold"] as? Int ?? 0) }
            if shownSold != paidSeats.count { try await Task.sleep(for: .milliseconds(250)) }
        } while shownSold != paidSeats.count && ContinuousClock.now < deadline
        invariants.append(.init(
            name: "No seat sold twice", holds: twice == 0 && shownSold == paidSeats.count,
            detail: "\(paidSeats.count) seats paid for, \(twice) of them twice; the seat map shows \(shownSold) sold"))

        // Money: every wallet holds its grant less what its owner paid, to the won.
        let paidBy = Dictionary(grouping: snapshot.paid, by: \.fan).mapValues { $0.reduce(Int64(0)) { $0 + $1.total } }
        let balances = try await forEach(fans, limit: 64) { fan -> (String, Int64?) in
            let reply = try await api.call(.GET, "/v1/wallet", token: fan.token)
            return (fan.id, ((reply.json["balance"] as? [String: Any])?["amount"] as? NSNumber)?.int64Value)
        }
        let wrong = balances.filter { fan, balance in balance != walletGrant - (paidBy[fan] ?? 0) }
        let granted = Int64(fans.count) * walletGrant
        let left = balances.reduce(Int64(0)) { $0 + ($1.1 ?? 0) }
        let paidTotal = paidBy.values.reduce(0, +)
        invariants.append(.init(
            name: "Money conserved", holds: wrong.isEmpty && granted - left == paidTotal,
            detail: "granted \(granted) − balances \(left) = \(granted - left); paid \(paidTotal); \(wrong.count) wallets off"))

        // Admitted in join order: no fan was let in while someone who surely joined before them
        // (whose join was answered before theirs was sent) was still told to wait. Seen
        // admitted (when that answer came) before the earlier fan was last told to wait (when
        // that question was sent) proves the order broken; a second is allowed for a node's
        // view of the queue, which may be that old.
        let joins = snapshot.joins
        var outOfOrder = 0
        for (early, waited) in snapshot.lastWaiting {
            guard let earlyJoin = joins[early] else { continue }
            let overtaken = snapshot.firstAdmitted.contains { late, admitted in
                guard let lateJoin = joins[late] else { return false }
                return earlyJoin.answered < lateJoin.sent && admitted + .seconds(1) < waited
            }
            if overtaken { outOfOrder += 1 }
        }
        invariants.append(.init(
            name: "Admitted in join order", holds: outOfOrder == 0,
            detail: "\(snapshot.firstAdmitted.count) fans admitted; \(outOfOrder) still told to wait after someone who joined after them was let in"))

        invariants.append(.init(
            name: "No request failed", holds: snapshot.errors.isEmpty,
            detail: snapshot.errors.isEmpty ? "every answer was one a fan expects" : "unexpected answers: \(snapshot.errors.sorted { $0.key < $1.key })"))
        return invariants
    }

    /// Runs `body` for every item, at most `limit` at a time; results in the items' order.
    static func forEach<Item: Sendable, Result: Sendable>(
        _ items: [Item], limit: Int, _ body: @escaping @Sendable (Item) async throws -> Result
    ) async throws -> [Result] {
        try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            var results: [Result?] = Array(repeating: nil, count: items.count)
            var next = 0
            while next < min(limit, items.count) {
                let index = next
                group.addTask { (index, try await body(items[index])) }
                next += 1
            }
            while let (index, result) = try await group.next() {
                results[index] = result
                if next < items.count {
                    let index = next
                    group.addTask { (index, try await body(items[index])) }
                    next += 1
                }
            }
            return results.compactMap { $0 }
        }
    }
}

public struct DrillError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// JSON over HTTP to the deployment.
struct DrillAPI: Sendable {
    let http: HTTPClient
    let base: String

    struct Reply: @unchecked Sendable {  // the parsed JSON is never mutated
        let status: Int
        let json: [String: Any]
    }

    func call(
        _ method: HTTPMethod, _ path: String, token: String?, json: Any? = nil, csv: String? = nil, headers: [String: String] = [:]
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        }
        if let csv {
            request.headers.add(name: "Content-Type", value: "text/csv")
            request.body = .bytes(ByteBuffer(string: csv))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 32 << 20)
        let parsed = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
        return Reply(status: Int(response.status.code), json: parsed)
    }

    func signIn(email: String, password: String) async throws -> String {
        let reply = try await call(.POST, "/v1/auth/signin", token: nil, json: ["email": email, "password": password])
        guard reply.status == 200, let token = reply.json["accessToken"] as? String else {
            throw DrillError("could not sign in as \(email) (\(reply.status)): \(reply.json["detail"] as? String ?? "")")
        }
        return token
    }
}
