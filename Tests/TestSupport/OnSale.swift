import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Identity
import Persistence
import SQLKit
import Testing

/// An on-sale performance built through the real API, and fans to buy it.
public struct OnSale: Sendable {
    public let client: any TestClientProtocol
    public let platform: BoxofficePlatform
    public let eventID: String
    public let performanceID: String
    public let seatIDs: [String]

    /// A parsed reply; the JSON is never mutated after parsing, so sharing it across tasks is safe.
    public struct Reply: @unchecked Sendable {
        public let status: Int
        public let json: [String: Any]
        public let rawBody: String

        public init(status: Int, json: [String: Any], rawBody: String) {
            self.status = status
            self.json = json
            self.rawBody = rawBody
        }
    }

    /// A venue of `rows` × 10 seats (tier R), or general admission with `quota`, on sale now.
    public static func make(
        _ client: any TestClientProtocol, _ platform: BoxofficePlatform, rows: Int = 10, quota: Int? = nil,
        onSaleIn: TimeInterval = -3600, limits: [String: Int] = [:], publish: Bool = true
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
        if publish { _ = try await call(.post, "/v1/events/\(event)/publish") }
        // Inventory is built from performance.scheduled: deliver it now instead of waiting for the relay.
        try await platform.relay.deliverPending()
        let seats = try await platform.database.read { sql in
            try await sql.raw("SELECT seat_id FROM performance_seats WHERE performance_id = \(bind: performanceID) ORDER BY label").all()
                .map { try $0.decode(column: "seat_id", as: String.self) }
        }
        return OnSale(client: client, platform: platform, eventID: event, performanceID: performanceID, seatIDs: seats)
    }

    public static func token(_ platform: BoxofficePlatform, userID: String, roles: [Role] = [.fan]) async throws -> String {
        try await platform.identity.issueAccessToken(for: User(id: userID, email: "\(userID)@example.com", name: userID, roles: roles))
    }

    /// The organizer takes `userID` on as door staff; returns that staff member's token.
    public func doorStaff(_ userID: String) async throws -> String {
        let organizer = try await Self.token(platform, userID: "organizer", roles: [.organizer])
        let reply = try await call(.put, "/v1/organizers/me/staff/\(userID)", fan: organizer)
        precondition(reply.status == 204, "taking on staff: \(reply.rawBody)")
        return try await Self.token(platform, userID: userID, roles: [.staff])
    }

    /// An `Idempotency-Key` header, fresh unless a key is given.
    public static func idempotencyKey(_ key: String = UUID().uuidString) -> HTTPFields {
        [.idempotencyKey: key]
    }

    public func call(
        _ method: HTTPRequest.Method, _ path: String, fan: String, body: [String: Any]? = nil, headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers: HTTPFields = [.authorization: "Bearer \(fan)"]
        headers.append(contentsOf: extra)
        var buffer: ByteBuffer?
        if let body { headers[.contentType] = "application/json"; buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)) }
        return try await client.execute(uri: path, method: method, headers: headers, body: buffer) { response in
            Reply(
                status: response.status.code,
                json: (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] ?? [:],
                rawBody: String(buffer: response.body))
        }
    }

    public func hold(_ body: [String: Any], fan: String) async throws -> Reply {
        try await call(.post, "/v1/performances/\(performanceID)/holds", fan: fan, body: body)
    }

    /// Each general-admission tier's kept counts (`ga_tiers.held`, `.sold`) equal a recount of
    /// its running holds and valid tickets.
    public func expectTierCountsMatchARecount(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let rows = try await platform.database.read { sql in
            try await sql.raw("""
                SELECT g.tier, g.held, g.sold,
                       (SELECT COALESCE(SUM(h.quantity), 0) FROM holds h
                        WHERE h.performance_id = g.performance_id AND h.tier = g.tier AND h.status = 'active') AS running,
                       (SELECT COUNT(*) FROM tickets t
                        WHERE t.performance_id = g.performance_id AND t.tier = g.tier AND t.status = 'valid' AND t.seat_id IS NULL) AS valid
                FROM ga_tiers g WHERE g.performance_id = \(bind: performanceID)
                """).all().map {
                    (try $0.decode(column: "tier", as: String.self), try $0.decode(column: "held", as: Int.self),
                     try $0.decode(column: "sold", as: Int.self), try $0.decode(column: "running", as: Int.self),
                     try $0.decode(column: "valid", as: Int.self))
                }
        }
        #expect(!rows.isEmpty, "no general-admission tiers", sourceLocation: sourceLocation)
        for (tier, held, sold, running, valid) in rows {
            #expect(held == running, "\(tier): held \(held), running holds \(running)", sourceLocation: sourceLocation)
            #expect(sold == valid, "\(tier): sold \(sold), valid tickets \(valid)", sourceLocation: sourceLocation)
        }
    }

    public func outboxCount(_ type: String) async throws -> Int {
        try await platform.database.read { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM outbox WHERE event_type = \(bind: type)").first()?.decode(column: "n", as: Int.self) ?? -1
        }
    }
}

