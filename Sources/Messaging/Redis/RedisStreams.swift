import Foundation
import RedisClient
import Synchronization

/// Where the streams live and how long they are kept.
public struct RedisStreamSettings: Sendable {
    /// Put before every key, e.g. to keep two deployments on one Redis apart. Empty by default,
    /// so the streams are named as the topics are: `reservation.events`, `dlq.reservation.events`.
    public var keyPrefix: String
    /// Each stream keeps about this many entries (trimmed as entries are added).
    public var maximumLength: Int
    /// Entries older than this are trimmed (checked at most once a minute); nil keeps them.
    public var maximumAge: TimeInterval?

    public init(keyPrefix: String = "", maximumLength: Int = 100_000, maximumAge: TimeInterval? = 7 * 24 * 3600) {
        self.keyPrefix = keyPrefix
        self.maximumLength = maximumLength
        self.maximumAge = maximumAge
    }

    func streamKey(_ topic: String) -> String { keyPrefix + topic }
    func deadLetterKey(_ topic: String) -> String { keyPrefix + "dlq." + topic }
    /// Per group: how often each pending event has failed, and when it may be tried again.
    func retriesKey(group: String) -> String { keyPrefix + "bus-retries:" + group }
}

/// The fields of a stream entry that carries an event.
enum StreamEntryFields {
    static func fields(of event: EventEnvelope) -> [String] {
        [
            "id", event.id, "type", event.type, "aggregate_type", event.aggregateType, "aggregate_id", event.aggregateID,
            "occurred_at", String(event.occurredAt.timeIntervalSince1970), "position", String(event.position),
            "payload", String(decoding: event.payload, as: UTF8.self),
        ]
    }

    static func event(from fields: [String: String]) -> EventEnvelope? {
        guard let id = fields["id"], let type = fields["type"], let aggregateType = fields["aggregate_type"],
              let aggregateID = fields["aggregate_id"], let occurredAt = fields["occurred_at"].flatMap(Double.init),
              let position = fields["position"].flatMap(Int64.init), let payload = fields["payload"]
        else { return nil }
        return EventEnvelope(
            id: id, type: type, aggregateType: aggregateType, aggregateID: aggregateID,
            occurredAt: Date(timeIntervalSince1970: occurredAt), payload: Data(payload.utf8), position: position)
    }
}

/// One entry read from a stream: its ID and fields (nil when the entry was trimmed away while
/// it was still pending).
struct StreamEntry: Sendable {
    let stream: String
    let id: String
    let fields: [String: String]?

    /// `XREADGROUP`/`XREAD` replies: a map (RESP3) or an array of pairs (RESP2) of stream name to
    /// entries; null when nothing arrived.
    static func parseRead(_ reply: RESPValue) throws -> [StreamEntry] {
        if reply.isNull { return [] }
        let streams: [(RESPValue, RESPValue)]
        if case .map(let keys, let values) = reply {
            streams = Array(zip(keys, values))
        } else if let items = reply.array {
            streams = try items.map { item in
                guard let pair = item.array, pair.count == 2 else { throw RedisError.protocolViolation("stream reply \(item)") }
                return (pair[0], pair[1])
            }
        } else {
            throw RedisError.protocolViolation("stream reply \(reply)")
        }
        return try streams.flatMap { name, entries in
            guard let stream = name.string else { throw RedisError.protocolViolation("stream name \(name)") }
            return try parseEntries(entries, stream: stream)
        }
    }

    /// An array of `[id, [field, value, …]]`.
    static func parseEntries(_ reply: RESPValue, stream: String) throws -> [StreamEntry] {
        guard let entries = reply.array else { return [] }
        return try entries.map { entry in
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string else {
                throw RedisError.protocolViolation("stream entry \(entry)")
            }
            guard let flat = parts[1].array else { return StreamEntry(stream: stream, id: id, fields: nil) }
            var fields: [String: String] = [:]
            for index in stride(from: 0, to: flat.count - 1, by: 2) {
                if let key = flat[index].string, let value = flat[index + 1].string { fields[key] = value }
            }
            return StreamEntry(stream: stream, id: id, fields: fields)
        }
    }
}

/// Publishes outbox events to one Redis stream per topic, in outbox order, in one pipeline.
///
/// A batch counts as published only once a replica has it too (`WAIT`): Redis replicates
/// asynchronously, so an entry acknowledged by the master alone is lost if Sentinel promotes
/// the replica before it arrived, and with it, say, the `payment.completed` of a paid order.
/// When no replica acknowledges in time the batch stays undelivered in the outbox and is sent
/// again (consumers drop the repeat by event ID). A Redis without replicas has nothing to wait for.
public final class RedisStreamPublisher: EventPublisher {
    private let redis: RedisClient
    private let settings: RedisStreamSettings
    private let lastAgeTrim = Mutex<(at: Date, topics: Set<String>)>((.distantPast, []))

    public init(redis: RedisClient, settings: RedisStreamSettings = .init()) {
        self.redis = redis
        self.settings = settings
    }

    public func publish(_ events: [EventEnvelope]) async throws {
        guard !events.isEmpty else { return }
        let commands = events.map { event in
            RedisCommand(
                "XADD",
                [settings.streamKey(EventTopics.topic(for: event.type)), "MAXLEN", "~", String(settings.maximumLength), "*"]
                    + StreamEntryFields.fields(of: event))
        }
        // WAIT in the same pipeline: it waits for this connection's writes, the XADDs above.
        let replies = try await redis.pipeline(commands + [RedisCommand("WAIT", "1", String(Self.replicaWaitMilliseconds))])
        if let failure = replies.first(where: { if case .error = $0 { true } else { false } }), case .error(let text) = failure {
            throw RedisError.server(code: "ERR", message: "publishing events: \(text)")
        }
        if (replies.last?.int ?? 0) < 1, try await hasReplicas() {
            throw RedisError.server(code: "NOREPL", message: "no replica acknowledged the events within \(Self.replicaWaitMilliseconds) ms")
        }
        try await trimByAge(topics: Set(events.map { EventTopics.topic(for: $0.type) }))
    }

    static let replicaWaitMilliseconds = 1000

    /// Whether the master has replicas attached (`ROLE`: `master`, offset, replicas).
    private func hasReplicas() async throws -> Bool {
        let role = try await redis.send("ROLE")
        guard let parts = role.array, parts.count >= 3, parts[0].string == "master" else { return true }
        return !(parts[2].array ?? []).isEmpty
    }

    /// Drops entries older than the configured age from the streams this node publishes to, at
    /// most once a minute.
    private func trimByAge(topics: Set<String>) async throws {
        guard let maximumAge = settings.maximumAge else { return }
        let now = Date()
        let due: Set<String>? = lastAgeTrim.withLock { last in
            let known = last.topics.union(topics)
            guard now.timeIntervalSince(last.at) >= 60 || !topics.isSubset(of: last.topics) else { return nil }
            last = (now, known)
            return known
        }
        guard let due else { return }
        let oldest = String(Int64((now.timeIntervalSince1970 - maximumAge) * 1000))
        _ = try await redis.pipeline(due.sorted().map { RedisCommand("XTRIM", settings.streamKey($0), "MINID", "~", oldest) })
    }
}
