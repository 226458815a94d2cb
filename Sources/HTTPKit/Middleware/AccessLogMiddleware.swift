import Hummingbird
import Logging
import Metrics
import Synchronization

/// Writes one log line per request and records the request in the HTTP metrics:
/// `boxoffice_http_requests_total{method,route,status}`,
/// `boxoffice_http_request_duration_seconds{method,route}` and
/// `boxoffice_http_requests_in_flight`.
///
/// Routes are labelled by their pattern (`/v1/holds/:holdId`), never the raw path, so the number
/// of series stays bounded whatever clients send.
public struct AccessLogMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    private let metrics: any MetricsFactory
    private let inFlight: Gauge
    private let inFlightCount = InFlightCounter()

    public init(metrics: any MetricsFactory) {
        self.metrics = metrics
        self.inFlight = Gauge(label: "boxoffice_http_requests_in_flight", factory: metrics)
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let started = ContinuousClock.now
        inFlight.record(inFlightCount.add(1))
        defer { inFlight.record(inFlightCount.add(-1)) }
        var status = 500
        defer {
            let elapsed = started.duration(to: .now)
            let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? "unmatched"
            let method = request.method.rawValue
            Counter(
                label: "boxoffice_http_requests_total",
                dimensions: [("method", method), ("route", route), ("status", String(status))],
                factory: metrics
            ).increment()
            Timer(
                label: "boxoffice_http_request_duration_seconds",
                dimensions: [("method", method), ("route", route)],
                factory: metrics
            ).record(duration: elapsed)
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            context.logger.info(
                "request",
                metadata: [
                    "method": .string(method),
                    "path": .string(request.uri.path),
                    "route": .string(route),
                    "status": .stringConvertible(status),
                    "duration_ms": .stringConvertible((milliseconds * 100).rounded() / 100),
                ])
        }
        let response = try await next(request, context)
        status = response.status.code
        return response
    }
}

/// The process-wide count behind the in-flight gauge.
final class InFlightCounter: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ delta: Int) -> Int { value.add(delta, ordering: .relaxed).newValue }
}
