import Foundation
import Logging
import Messaging
import Metrics
import RedisClient

/// Figures that are read when Prometheus scrapes rather than counted as things happen: how far
/// event delivery is behind (the outbox's backlog, each consumer group's lag, dead letters) and
/// how full Redis is. Every node reports the same shared figures, so alerts and dashboards take
/// `max` over nodes; a node that cannot read one within the time limit leaves it out rather
/// than holding the scrape up.
struct ScrapeGauges: Sendable {
    let outbox: OutboxDeadLetters
    /// With Redis: the streams of these topics.
    let streams: (store: RedisDeadLetters, topics: [String])?
    let redis: RedisClient?
    let metrics: any MetricsFactory
    let logger: Logger

    func record() async {
        await reading("outbox backlog") {
            let figures = try await outbox.outboxStats()
            gauge("boxoffice_outbox_pending_events").record(figures.pending)
            gauge("boxoffice_outbox_oldest_pending_seconds").record(figures.oldestPendingSeconds ?? 0)
            gauge("boxoffice_outbox_dead_events").record(figures.dead)
        }
        if let streams {
            await reading("stream lag") {
                for stream in try await streams.store.stats(of: streams.topics) {
                    gauge("boxoffice_stream_dead_letters", [("topic", stream.topic)]).record(stream.deadLetters)
                    for group in stream.groups {
                        let dimensions = [("topic", stream.topic), ("group", group.group)]
                        // Redis leaves lag out when it cannot tell (after a trim); pending still counts.
                        if let lag = group.lag { gauge("boxoffice_stream_consumer_lag", dimensions).record(lag) }
                        gauge("boxoffice_stream_pending_entries", dimensions).record(group.pending)
                    }
                }
            }
        }
        if let redis {
            await reading("redis memory") {
                let info = try await redis.send("INFO", "memory").string ?? ""
                let fields = Self.infoFields(info)
                if let used = fields["used_memory"].flatMap(Int.init) { gauge("boxoffice_redis_memory_used_bytes").record(used) }
                // 0: no limit set, which an alert on memory use must treat as "not applicable".
                if let limit = fields["maxmemory"].flatMap(Int.init) { gauge("boxoffice_redis_memory_max_bytes").record(limit) }
            }
        }
    }

    /// `INFO`'s "name:value" lines.
    static func infoFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return fields
    }

    private func gauge(_ label: String, _ dimensions: [(String, String)] = []) -> Gauge {
        Gauge(label: label, dimensions: dimensions, factory: metrics)
    }

    private func reading(_ what: String, _ body: @escaping @Sendable () async throws -> Void) async {
        do {
            try await withTimeout(.seconds(2), body)
        } catch {
            logger.warning("metrics: could not read \(what)", metadata: ["error": .string(String(describing: error))])
        }
    }
}
