import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import Identity
import NIOCore
import Persistence
import Synchronization
import TestSupport
import Testing

/// `serve --otel-endpoint`: the real binary, on PostgreSQL and Redis, sending its spans to an
/// OTLP/HTTP receiver of the test's own.
@Suite struct TracingTests {
    /// Spans as the receiver got them (OTLP/JSON), flattened.
    struct ReceivedSpan: Sendable {
        let traceID: String
        let spanID: String
        let parentSpanID: String
        let name: String
        let kind: Int
        let attributes: [String: String]
    }

    final class Receiver: Sendable {
        private let spans = Mutex<[ReceivedSpan]>([])
        var all: [ReceivedSpan] { spans.withLock { $0 } }

        func add(_ body: ByteBuffer) {
            guard let json = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else { return }
            var received: [ReceivedSpan] = []
            for resource in json["resourceSpans"] as? [[String: Any]] ?? [] {
                for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                    for span in scope["spans"] as? [[String: Any]] ?? [] {
                        var attributes: [String: String] = [:]
                        for attribute in span["attributes"] as? [[String: Any]] ?? [] {
                            guard let key = attribute["key"] as? String, let value = attribute["value"] as? [String: Any] else { continue }
                            attributes[key] = (value["stringValue"] as? String) ?? (value["intValue"]).map { "\($0)" } ?? ""
                        }
                        received.append(ReceivedSpan(
                            traceID: Self.hex(span["traceId"]), spanID: Self.hex(span["spanId"]), parentSpanID: Self.hex(span["parentSpanId"]),
                            name: span["name"] as? String ?? "", kind: (span["kind"] as? Int) ?? Self.kind(span["kind"]), attributes: attributes))
                    }
                }
            }
            spans.withLock { $0.append(contentsOf: received) }
        }

        /// OTLP/JSON writes IDs as hex; a protobuf JSON mapping would write base64. Either way, hex.
        static func hex(_ value: Any?) -> String {
            guard let text = value as? String, !text.isEmpty else { return "" }
            if text.count % 2 == 0, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
            guard let bytes = Data(base64Encoded: text) else { return text }
            return bytes.map { String(format: "%02x", $0) }.joined()
        }

        static func kind(_ value: Any?) -> Int {
            switch value as? String {
            case "SPAN_KIND_SERVER": 2
            case "SPAN_KIND_CLIENT": 3
            case "SPAN_KIND_CONSUMER": 5
            default: 0
            }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aCheckoutAndTheConsumersItTriggersAreOneTraceWithDatabaseRedisAndGatewaySpans() async throws {
        let redisURL = try TestRedis.requireURL()
        let receiver = Receiver()
        let router = Router()
        router.post("/v1/traces") { request, _ -> Response in
            receiver.add(try await request.body.collect(upTo: 16 << 20))
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
        let collector = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await collector.test(.live) { collectorClient in
            let collectorPort = try #require(collectorClient.port)
            try await TestDatabases.withFreshConfiguration(.postgres) { database in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("boxoffice-tracing-\(UUID().uuidString)").path
                defer { try? FileManager.default.removeItem(atPath: directory) }
                // A Redis database of its own: the node's streams and leases meet no other test's.
                // The per-fan rate limit stays on: every signed-in request counts in Redis.
                let server = try BoxofficeExecutable.start(
                    ["serve", "--port", "0", "--data-dir", directory, "--drain-seconds", "0"],
                    environment: [
                        "BOXOFFICE_DATABASE_URL": TestDatabases.url(of: database), "BOXOFFICE_REDIS_URL": "\(redisURL)/9",
                        "BOXOFFICE_ALLOW_SANDBOX_GATEWAY": "true", "BOXOFFICE_HUMAN_CHECK": "off",
                        "BOXOFFICE_OTEL_ENDPOINT": "http://127.0.0.1:\(collectorPort)",
                        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_BSP_SCHEDULE_DELAY": "200",
                    ])
                defer { if server.process.isRunning { server.process.terminate() } }
                let port = try await Self.listeningPort(server)

                // Tokens signed with the keys the node made in the database.
                let keys = try await Database.withDatabase(database, logger: TestDatabases.logger) { db in
                    try await SigningKeyStore(database: db, clock: SystemClock()).load()
                }
                let tokens = AccessTokens(keys: keys, lifetime: 3600, clock: SystemClock())
                let organizer = try await tokens.issue(for: User(id: "organizer", email: "o@example.com", name: "O", roles: [.organizer]))
                let admin = try await tokens.issue(for: User(id: "admin", email: "a@example.com", name: "A", roles: [.admin]))
                let fan = try await tokens.issue(for: User(id: "fan", email: "f@example.com", name: "F", roles: [.fan]))

                try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                    func call(
                        _ method: HTTPRequest.Method, _ path: String, _ token: String, json: Any? = nil, csv: String? = nil,
                        headers: HTTPFields = [:]
                    ) async throws -> (status: Int, json: [String: Any]) {
                        var fields = headers
                        fields[.authorization] = "Bearer \(token)"
                        var body: ByteBuffer?
                        if let json { fields[.contentType] = "application/json"; body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)) }
                        if let csv { fields[.contentType] = "text/csv"; body = ByteBuffer(string: csv) }
                        let response = try await client.execute(.init(path, method: method, headers: fields, body: body))
                        let parsed = response.body.flatMap { try? JSONSerialization.jsonObject(with: Data($0.readableBytesView)) as? [String: Any] }
                        return (Int(response.status.code), parsed ?? [:])
                    }
                    let venue = try #require(try await call(.post, "/v1/venues", organizer, json: ["name": "Hall", "address": "Seoul"]).json["id"] as? String)
                    let csv = (1...10).map { "A,1,\($0),\($0),1,R" }.joined(separator: "\n")
                    #expect(try await call(.put, "/v1/venues/\(venue)/seatmap", organizer, csv: csv).status == 200)
                    let event = try #require(try await call(.post, "/v1/events", organizer, json: [
                        "title": "Traced night", "description": "", "artist": "Band", "category": "concert", "venueId": venue,
                    ]).json["id"] as? String)
                    let now = Date()
                    func iso(_ offset: TimeInterval) -> String { now.addingTimeInterval(offset).formatted(Date.ISO8601FormatStyle()) }
                    let performance = try #require(try await call(.post, "/v1/events/\(event)/performances", organizer, json: [
                        "startsAt": iso(30 * 86400), "onSaleFrom": iso(-3600), "onSaleUntil": iso(29 * 86400),
                        "prices": [["tier": "R", "price": ["amount": 110_000, "currency": "KRW"]]],
                    ]).json["id"] as? String)
                    #expect(try await call(.post, "/v1/events/\(event)/publish", organizer).status < 300)
                    var seats: [String] = []
                    let deadline = ContinuousClock.now + .seconds(30)
                    while seats.count < 10, ContinuousClock.now < deadline {
                        let availability = try await call(.get, "/v1/performances/\(performance)/availability", organizer)
                        seats = (availability.json["seats"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                        if seats.count < 10 { try await Task.sleep(for: .milliseconds(250)) }
                    }
                    #expect(try await call(
                        .post, "/v1/admin/wallets/fan/grants", admin, json: ["amount": 1_000_000, "reason": "test"],
                        headers: [HTTPField.Name("Idempotency-Key")!: UUID().uuidString]).status < 300)

                    // The caller starts the trace (as an upstream gateway would); the checkout
                    // continues it.
                    let walletTrace = Self.randomHex(bytes: 16)
                    let gatewayTrace = Self.randomHex(bytes: 16)
                    func traced(_ trace: String) -> HTTPFields {
                        [HTTPField.Name("traceparent")!: "00-\(trace)-\(Self.randomHex(bytes: 8))-01", HTTPField.Name("Idempotency-Key")!: UUID().uuidString]
                    }
                    let first = try #require(try await call(.post, "/v1/performances/\(performance)/holds", fan, json: ["seatIds": [seats[0]]]).json["id"] as? String)
                    #expect(try await call(.post, "/v1/checkout", fan, json: ["holdId": first, "method": "wallet"], headers: traced(walletTrace)).status == 201)
                    let second = try #require(try await call(.post, "/v1/performances/\(performance)/holds", fan, json: ["seatIds": [seats[1]]]).json["id"] as? String)
                    #expect(try await call(.post, "/v1/checkout", fan, json: ["holdId": second, "method": "gateway"], headers: traced(gatewayTrace)).status == 202)

                    // The wallet checkout's trace: its request, the database and Redis calls under
                    // it, and the handling of the events it published, by the consumer groups
                    // that read them from Redis Streams.
                    var trace: [ReceivedSpan] = []
                    let until = ContinuousClock.now + .seconds(30)
                    repeat {
                        try await Task.sleep(for: .milliseconds(250))
                        trace = receiver.all.filter { $0.traceID == walletTrace }
                        // Each consumer group exports its spans in its own batch: wait for two.
                    } while trace.filter({ $0.name == "handle reservation.confirmed" }).count < 2 && ContinuousClock.now < until
                    let request = try #require(trace.first { $0.kind == 2 }, "no server span in \(trace.map(\.name))")
                    #expect(request.name == "/v1/checkout")
                    #expect(request.attributes["http.route"] == "/v1/checkout")
                    #expect(request.attributes["http.response.status_code"] == "201")
                    #expect(trace.contains { $0.attributes["db.system"] == "postgresql" && $0.kind == 3 }, "database spans: \(trace.map(\.name))")
                    #expect(trace.contains { $0.attributes["db.system"] == "redis" }, "Redis spans: \(trace.map(\.name))")
                    let handlers = trace.filter { $0.name == "handle reservation.confirmed" }
                    #expect(handlers.count >= 2, "consumers of reservation.confirmed: \(trace.map(\.name))")
                    #expect(handlers.allSatisfy { $0.kind == 5 && $0.attributes["messaging.destination.name"] == "reservation.events" })
                    // Every span of the trace hangs from another span of it, up to the caller's.
                    let ids = Set(trace.map(\.spanID))
                    #expect(trace.filter { !ids.contains($0.parentSpanID) }.map(\.name) == [request.name], "one root below the caller")
                    #expect(trace.filter { $0.parentSpanID == request.spanID }.count >= 1)

                    // The gateway checkout's trace has the call to the gateway.
                    var gateway: [ReceivedSpan] = []
                    repeat {
                        try await Task.sleep(for: .milliseconds(100))
                        gateway = receiver.all.filter { $0.traceID == gatewayTrace }
                    } while !gateway.contains(where: { $0.name == "gateway prepare" }) && ContinuousClock.now < until
                    #expect(gateway.contains { $0.name == "gateway prepare" && $0.attributes["payment.gateway"] == "sandbox" })
                }
                server.process.terminate()
                let outcome = await server.finish()
                #expect(outcome.status == 0, "\(outcome.standardError)")
                // The checkout's log lines carry its trace and span IDs.
                let lines = outcome.standardOutput.split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
                let checkout = lines.filter { $0["msg"] as? String == "request" && $0["route"] as? String == "/v1/checkout" }
                #expect(checkout.count == 2)
                #expect(checkout.allSatisfy { ($0["trace_id"] as? String)?.count == 32 && ($0["span_id"] as? String)?.count == 16 })
            }
        }
    }

    static func randomHex(bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// The port from the JSON log's `listening` line.
    static func listeningPort(_ server: BoxofficeExecutable.RunningProcess) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, server.process.isRunning {
            for line in server.standardOutput.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      object["msg"] as? String == "listening", let address = object["address"] as? String,
                      let port = address.split(separator: ":").last.flatMap({ Int($0) })
                else { continue }
                return port
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let outcome = await server.finish()
        Issue.record("no 'listening' line: \(outcome.standardOutput)\n\(outcome.standardError)")
        throw CancellationError()
    }
}
