import Foundation
import Instrumentation
import Logging
import OTel
import ServiceLifecycle

/// OpenTelemetry for a serving node: traces to an OTLP/HTTP collector when one is configured,
/// and the current span's IDs on every log line.
public enum Telemetry {
    /// `trace_id` and `span_id` of the current span, for the log handler of every line (nothing
    /// outside a traced request).
    public static let logMetadata: Logger.MetadataProvider = OTel.makeLoggingMetadataProvider()

    /// With `--otel-endpoint`: makes this process's tracer and returns the service that batches
    /// and exports its spans, which must run for as long as anything is traced. Once a process.
    static func bootstrapTracing(_ configuration: ServerConfiguration, logger: Logger) throws -> (any Service)? {
        guard let endpoint = configuration.otelEndpoint else { return nil }
        var otel = OTel.Configuration.default
        otel.serviceName = "boxoffice"
        otel.logs.enabled = false
        otel.metrics.enabled = false  // Prometheus scrapes /metrics
        otel.traces.enabled = true
        otel.traces.exporter = .otlp
        otel.traces.otlpExporter.endpoint = (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + "/v1/traces"
        otel.propagators = [.traceContext]
        otel.diagnosticLogger = .custom(logger.with(component: "tracing"))
        otel.diagnosticLogLevel = .warning
        let (tracer, exporter) = try OTel.makeTracingBackend(configuration: otel)
        InstrumentationSystem.bootstrap(tracer)
        logger.notice("tracing to an OTLP collector", metadata: ["endpoint": .string(otel.traces.otlpExporter.endpoint)])
        return exporter
    }
}
