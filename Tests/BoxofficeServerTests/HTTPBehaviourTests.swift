import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Persistence
import RedisClient
import SQLKit
import TestSupport
import Testing

/// A body shape for the test-only echo route, to exercise decoding through the real middleware.
struct Greeting: Codable {
    let name: String
    let times: Int
}

struct ExplodingDependency: Error, CustomStringConvertible {
    var description: String { "connection string postgres://admin:hunter2@10.0.0.5 refused" }
}

/// Test-only routes mounted behind the production middleware.
func testRoutes(_ routes: RouteRegistrar<AppRequestContext>) {
    routes.post("/test/greetings") { request, context in
        let greeting = try await request.decodeJSON(as: Greeting.self, context: context)
        return try Response.json(greeting, status: .created)
    }
    routes.get("/test/explode") { _, _ -> String in
        throw ExplodingDependency()
    }
    routes.get("/test/redis-failing-over") { _, _ -> String in
        throw RedisError.unavailable("no master known")
    }
    routes.get("/test/redis-wrong-type") { _, _ -> String in
        throw RedisError.server(code: "WRONGTYPE", message: "WRONGTYPE Operation against a key holding the wrong kind of value")
    }
    // The server misreading its own stored data is a bug of ours, never the client's 422.
    routes.get("/test/corrupt-row") { _, _ -> Response in
        let greeting = try JSONDecoder().decode(Greeting.self, from: Data(#"{"name":"stored","times":"twice"}"#.utf8))
        return try Response.json(greeting)
    }
}

func decodeProblem(_ body: ByteBuffer) throws -> Problem {
    try JSONDecoder().decode(Problem.self, from: Data(body.readableBytesView))
}

@Suite struct HTTPBehaviourTests {
    @Test func healthAnswersOKWithARequestID() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                try await client.execute(uri: "/health", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
                    #expect(response.headers[.requestID]?.isEmpty == false)
                }
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func readyChecksTheDatabase(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                try await client.execute(uri: "/ready", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains(#""database":"ok""#))
                }
            }
        }
    }

    @Test func aPlainCallerRequestIDIsEchoedAndAnUnsafeOneReplaced() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                try await client.execute(uri: "/health", method: .get, headers: [.requestID: "trace-42.a:b"]) { response in
                    #expect(response.headers[.requestID] == "trace-42.a:b")
                }
                try await client.execute(uri: "/health", method: .get, headers: [.requestID: "bad id\twith spaces"]) { response in
                    let replaced = try #require(response.headers[.requestID])
                    #expect(replaced != "bad id\twith spaces")
                    #expect(UUID(uuidString: replaced) != nil)
                }
            }
        }
    }

    @Test func anUnknownRouteIsANotFoundProblemCarryingTheRequestID() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                try await client.execute(uri: "/v1/nothing-here", method: .get) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let problem = try decodeProblem(response.body)
                    #expect(problem.type == "/problems/not-found")
                    #expect(problem.status == 404)
                    #expect(problem.requestId == response.headers[.requestID])
                }
            }
        }
    }

    @Test func aKnownPathWithTheWrongMethodIsMethodNotAllowedWithAllow() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                try await client.execute(uri: "/health", method: .delete) { response in
                    #expect(response.status == .methodNotAllowed)
                    #expect(response.headers[.allow] == "GET")
                    let problem = try decodeProblem(response.body)
                    #expect(problem.type == "/problems/method-not-allowed")
                    #expect(problem.requestId == response.headers[.requestID])
                }
            }
        }
    }

    @Test func malformedJSONIsABadRequestProblem() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication(additionalRoutes: testRoutes).test(.router) { client in
                try await client.execute(
                    uri: "/test/greetings", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"name": "Kim", "#)
                ) { response in
                    #expect(response.status == .badRequest)
                    let problem = try decodeProblem(response.body)
                    #expect(problem.type == "/problems/bad-request")
                    #expect(problem.requestId == response.headers[.requestID])
                }
            }
        }
    }

    @Test func aWrongShapeIsAValidationProblemNamingTheField() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication(additionalRoutes: testRoutes).test(.router) { client in
                try await client.execute(
                    uri: "/test/greetings", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"name": "Kim", "times": "twice"}"#)
                ) { response in
                    #expect(response.status == .unprocessableContent)
                    let problem = try decodeProblem(response.body)
                    #expect(problem.errors == [.init(field: "times", message: "must be a whole number")])
                }
                try await client.execute(
                    uri: "/test/greetings", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"times": 2}"#)
                ) { response in
                    #expect(response.status == .unprocessableContent)
                    let problem = try decodeProblem(response.body)
                    #expect(problem.errors == [.init(field: "name", message: "is required")])
                }
                try await client.execute(
                    uri: "/test/greetings", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"name": "Kim", "times": 2}"#)
                ) { response in
                    #expect(response.status == .created)
                }
            }
        }
    }

    @Test func aNonJSONContentTypeIsUnsupportedMediaType() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication(additionalRoutes: testRoutes).test(.router) { client in
                try await client.execute(
                    uri: "/test/greetings", method: .post, headers: [.contentType: "text/plain"],
                    body: ByteBuffer(string: "name=Kim")
                ) { response in
                    #expect(response.status == .unsupportedMediaType)
                    let problem = try decodeProblem(response.body)
                    #expect(problem.type == "/problems/unsupported-media-type")
                }
            }
        }
    }

    @Test func aBodyOverTheLimitIsPayloadTooLarge() async throws {
        try await withPlatform(configure: { $0.maximumBodyBytes = 1024 }) { platform in
            try await platform.buildApplication(additionalRoutes: testRoutes).test(.router) { client in
                let name = String(repeating: "x", count: 4096)
                try await client.execute(
                    uri: "/test/greetings", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"name": "\#(name)", "times": 1}"#)
                ) { response in
                    #expect(response.status == .contentTooLarge)
                    let problem = try decodeProblem(response.body)
                    #expect(problem.type == "/problems/payload-too-large")
                    #expect(problem.detail?.contains("1024") == true)
                    #expect(problem.requestId == response.headers[.requestID])
                }
            }
        }
    }

    @Test func anUnexpectedErrorIsAnOpaque500AndIsLoggedWithTheRequestID() async throws {
        let logs = LogRecorder()
        try await withPlatform(logger: logs.logger) { platform in
            try await platform.buildApplication(additionalRoutes: testRoutes).test(.router) { client in
                try await client.execute(uri: "/test/explode", method: .get, headers: [.requestID: "req-explode-1"]) { response in
                    #expect(response.status == .internalServerError)
                    let body = String(buffer: response.body)
                    #expect(!body.contains("hunter2"))
                    #expect(!body.contains("ExplodingDependency"))
                    let problem = try decodeProblem(response.body)
                    #expect(problem.type == "/problems/internal-error")
                    #expect(problem.requestId == "req-explode-1")
                }
            }
        }
        let errors = logs.all.filter { $0.level == .error }
        #expect(errors.count == 1)
        #expect(errors.first?.metadata["request_id"] == "req-explode-1")
        #expect(errors.first?.metadata["error"]?.contains("refused") == true)
    }

    @Test func redisUnreachableIsARetryable503AndABadRedisReplyAnOpaque500() async throws {
        let logs = LogRecorder()
        try await withPlatform(logger: logs.logger) { platform in
            try await platform.buildApplication(additionalRoutes: testRoutes).test(.router) { client in
                try await client.execute(uri: "/test/redis-failing-over", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.retryAfter] == "2")
                    #expect((try? decodeProblem(response.body))?.type == "/problems/service-unavailable")
                    #expect(!String(buffer: response.body).contains("master"), "names no internals")
                }
                try await client.execute(uri: "/test/redis-wrong-type", method: .get) { response in
                    #expect(response.status == .internalServerError)
                    #expect(!String(buffer: response.body).contains("WRONGTYPE"))
                }
            }
        }
        let errors = logs.all.filter { $0.level == .error }
        #expect(errors.count == 2)
        #expect(errors.first?.metadata["error"]?.contains("no master known") == true, "the log keeps the cause")
    }

    @Test func theServerFailingToDecodeItsOwnDataIsALogged500NotA422() async throws {
        let logs = LogRecorder()
        try await withPlatform(logger: logs.logger) { platform in
            try await platform.buildApplication(additionalRoutes: testRoutes).test(.router) { client in
                try await client.execute(uri: "/test/corrupt-row", method: .get, headers: [.requestID: "req-corrupt-1"]) { response in
                    #expect(response.status == .internalServerError)
                    #expect((try? decodeProblem(response.body))?.type == "/problems/internal-error")
                    #expect(!String(buffer: response.body).contains("times"), "names no internals")
                }
            }
        }
        #expect(logs.all.filter { $0.level == .error }.first?.metadata["request_id"] == "req-corrupt-1")
    }

    @Test func aRetryAfterOfOneSecondSaysSecond() {
        #expect(Problem.tooManyRequests(retryAfterSeconds: 1).detail == "Slow down; try again in 1 second.")
        #expect(Problem.tooManyRequests(retryAfterSeconds: 3).detail == "Slow down; try again in 3 seconds.")
    }

    @Test func everyRequestWritesOneAccessLogLine() async throws {
        let logs = LogRecorder()
        try await withPlatform(logger: logs.logger) { platform in
            try await platform.buildApplication().test(.router) { client in
                try await client.execute(uri: "/health", method: .get, headers: [.requestID: "req-log-1"]) { _ in }
                try await client.execute(uri: "/missing", method: .get, headers: [.requestID: "req-log-2"]) { _ in }
            }
        }
        let lines = logs.all.filter { $0.message == "request" }
        #expect(lines.count == 2)
        #expect(lines.map { $0.metadata["request_id"] } == ["req-log-1", "req-log-2"])
        #expect(lines.map { $0.metadata["status"] } == ["200", "404"])
        #expect(lines.map { $0.metadata["route"] } == ["/health", "unmatched"])
        #expect(lines.allSatisfy { $0.metadata["duration_ms"] != nil })
        #expect(lines.allSatisfy { $0.metadata["hb.request.id"] == nil }, "one request ID per line, ours")
    }

    @Test(arguments: DatabaseDialect.allCases)
    func metricsExposeRequestCountsLatenciesAndPoolGauges(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                for _ in 0..<3 {
                    try await client.execute(uri: "/health", method: .get) { _ in }
                }
                try await client.execute(uri: "/nowhere", method: .get) { _ in }
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                    let text = String(buffer: response.body)
                    #expect(text.contains(#"boxoffice_http_requests_total{method="GET",route="/health",status="200"} 3"#))
                    #expect(text.contains(#"boxoffice_http_requests_total{method="GET",route="unmatched",status="404"} 1"#))
                    #expect(text.contains(#"boxoffice_http_request_duration_seconds_bucket{method="GET",route="/health",le="#))
                    #expect(text.contains("boxoffice_db_pool_connections_max"))
                    #expect(text.contains("boxoffice_db_pool_connections_in_use"))
                    #expect(text.contains("boxoffice_db_pool_waiting_requests"))
                }
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func metricsShowTheEventBacklogWhatWasPublishedAndDeadEvents(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                func metrics() async throws -> String {
                    try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
                }
                func value(_ sample: String, in text: String) -> Double? {
                    text.split(separator: "\n").first { $0.hasPrefix(sample + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
                }
                // A hold writes an event; no relay runs behind `.router` tests.
                let sale = try await OnSale.make(client, platform)
                let fan = try await OnSale.token(platform, userID: "fan-1")
                #expect(try await sale.hold(["seatIds": [sale.seatIDs[0]]], fan: fan).status == 201)
                let pending = try await platform.database.read { sql in
                    try await sql.raw("SELECT COUNT(*) AS n FROM outbox WHERE delivered_at IS NULL").first()?.decode(column: "n", as: Int.self) ?? 0
                }
                #expect(pending > 0)
                let before = try await metrics()
                #expect(value("boxoffice_outbox_pending_events", in: before) == Double(pending))
                #expect((value("boxoffice_outbox_oldest_pending_seconds", in: before) ?? -1) >= 0)
                #expect(value("boxoffice_outbox_dead_events", in: before) == 0)
                #expect(value(#"boxoffice_events_published_total{type="reservation.held"}"#, in: before) == nil)

                try await platform.relay.deliverPending()
                // One more event that will never be delivered, set aside as the relay does.
                #expect(try await sale.hold(["seatIds": [sale.seatIDs[1]]], fan: fan).status == 201)
                try await platform.database.withTransaction { transaction in
                    try await transaction.sql.raw("UPDATE outbox SET dead_at = occurred_at WHERE delivered_at IS NULL").run()
                }
                let after = try await metrics()
                #expect(value("boxoffice_outbox_pending_events", in: after) == 0)
                #expect(value("boxoffice_outbox_oldest_pending_seconds", in: after) == 0)
                #expect(value("boxoffice_outbox_dead_events", in: after) == 1)
                #expect(value(#"boxoffice_events_published_total{type="reservation.held"}"#, in: after) == 1, "the set-aside hold is not counted")
            }
        }
    }
}

@Suite struct RFC3339Tests {
    @Test func everyDateTimeTheGrammarAllowsIsReadAndNothingElse() throws {
        let noon = try #require(RFC3339.date(from: "2026-12-24T12:00:00Z"))
        #expect(RFC3339.date(from: "2026-12-24T21:00:00+09:00") == noon)
        #expect(RFC3339.date(from: "2026-12-24t12:00:00z") == noon)
        #expect(RFC3339.date(from: "2026-12-24T12:00:00.250Z") == noon.addingTimeInterval(0.25))
        #expect(RFC3339.date(from: "2026-12-25T09:34:00+21:34") == noon, "offsets beyond Foundation's 18 hours")
        #expect(RFC3339.date(from: "0942-05-10T16:19:08-23:59") != nil)
        for bad in ["2026-12-24", "2026-12-24T12:00:00", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-12-24T12:00:00+9:00", "2026-12-24T12:00:00.Z", "tomorrow"] {
            #expect(RFC3339.date(from: bad) == nil, "\(bad)")
        }
    }
}
