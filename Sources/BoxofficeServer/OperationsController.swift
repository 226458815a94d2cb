import BoxofficeKit
import Foundation
import HTTPKit
import Hummingbird
import Logging
import Metrics
import NIOCore
import Persistence
import Prometheus
import RedisClient

/// `/health`, `/ready`, `/metrics` and `/openapi.json`: what load balancers, Prometheus and
/// integrators ask of every node.
struct OperationsController {
    let database: Database
    /// Checked by `/ready` too when nodes share state through it.
    let redis: RedisClient?
    let drain: DrainState
    let registry: PrometheusCollectorRegistry
    let metrics: any MetricsFactory
    let scrapeGauges: ScrapeGauges
    let openAPIJSON: Data
    /// When set, `/metrics` answers only requests that carry it.
    var metricsToken: String?

    static let paths: Set<String> = ["/health", "/ready", "/metrics", "/openapi.json"]

    struct Status: ResponseEncodable {
        let status: String
        var checks: [String: String]?
    }

    func addRoutes(to routes: RouteRegistrar<AppRequestContext>) {
        routes.get("/health") { _, _ in
            // Alive: the process answers. Dependencies are /ready's business.
            Status(status: "ok")
        }
        routes.get("/ready") { _, context in
            try await readiness(context: context)
        }
        routes.get("/metrics") { request, _ in
            // With a scrape token set, only Prometheus (sending it as a bearer token) reads the figures.
            if let metricsToken {
                let presented = request.headers[.authorization].map { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : "" } ?? ""
                guard Secrets.constantTimeEquals(presented, metricsToken) else {
                    throw Problem.unauthorized(detail: "Send the metrics scrape token as 'Authorization: Bearer <token>'.")
                }
            }
            return await exposition()
        }
        routes.get("/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: openAPIJSON)))
        }
    }

    private func readiness(context: AppRequestContext) async throws -> Response {
        if drain.isDraining {
            return Problem.serviceUnavailable(detail: "This node is draining for shutdown.")
                .response(requestID: context.requestID)
        }
        do {
            try await withTimeout(.seconds(2)) { try await database.ping() }
        } catch {
            context.logger.warning("readiness check failed", metadata: ["error": .string(String(describing: error))])
            return Problem.serviceUnavailable(detail: "The database is not answering.")
                .response(requestID: context.requestID)
        }
        guard let redis else { return try Response.json(Status(status: "ok", checks: ["database": "ok"])) }
        do {
            _ = try await withTimeout(.seconds(2)) { try await redis.send("PING") }
        } catch {
            context.logger.warning("readiness check failed", metadata: ["error": .string(String(describing: error))])
            return Problem.serviceUnavailable(detail: "Redis is not answering.").response(requestID: context.requestID)
        }
        return try Response.json(Status(status: "ok", checks: ["database": "ok", "redis": "ok"]))
    }

    private func exposition() async -> Response {
        await scrapeGauges.record()
        let pool = database.poolStatistics
        Gauge(label: "boxoffice_db_pool_connections_max", factory: metrics).record(pool.maximumConnections)
        Gauge(label: "boxoffice_db_pool_connections_in_use", factory: metrics).record(pool.inUse)
        Gauge(label: "boxoffice_db_pool_waiting_requests", factory: metrics).record(pool.waiting)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
    }
}

/// Runs `operation`, giving up with `TimeoutError` after `limit`.
func withTimeout<Result: Sendable>(
    _ limit: Duration, _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeoutError(limit: limit)
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() else { throw TimeoutError(limit: limit) }
        return result
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "timed out after \(limit)" }
}
