import BoxofficeKit
import Foundation
import Logging
import Metrics
import NIOCore
import Persistence
import RedisClient
import ServiceLifecycle

/// One subscriber as a consumer group on the Redis streams of its topics.
///
/// The group is named after the subscriber; every node has a consumer in it. A group's events
/// are handled in stream order by one consumer at a time — the node that holds the group's
/// lease runs this service — because read models depend on order across aggregates (a seat map
/// is built before its first hold is counted). When that node dies, another takes the lease,
/// claims the dead consumer's pending entries (`XAUTOCLAIM`) and carries on from there.
///
/// Each batch is handled in one database transaction that also claims the events in the
/// subscriber's inbox, then acknowledged (`XACK`), so an event redelivered after a crash has
/// no second effect. An event the subscriber fails on stays pending and is retried with
/// back-off while later events of its aggregate wait behind it; after `maximumAttempts` it is
/// moved to `dlq.<topic>` with the error, and the events behind it go on.
public final class RedisStreamConsumer: Service {
    private let redis: RedisClient
    private let subscriber: any EventSubscriber
    private let delivery: SubscriberDelivery
    private let consumerName: String
    private let settings: RedisStreamSettings
    private let configuration: OutboxRelay.Configuration
    private let logger: Logger
    private let topics: [String]
    private let handledCounter: Counter
    private let failureCounter: Counter
    private let deadCounter: Counter
    /// How long one blocking read waits for new entries.
    private let blockFor: Duration

    public init(
        redis: RedisClient, subscriber: any EventSubscriber, database: Database, consumerName: String,
        settings: RedisStreamSettings = .init(), configuration: OutboxRelay.Configuration = .init(),
        clock: any WallClock = SystemClock(), logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory,
        blockFor: Duration = .seconds(1)
    ) {
        self.redis = redis
        self.subscriber = subscriber
        self.delivery = SubscriberDelivery(database: database, clock: clock, logger: logger)
        self.consumerName = consumerName
        self.settings = settings
        self.configuration = configuration
        self.logger = logger
        self.topics = EventTopics.topics(for: subscriber.eventTypes)
        self.blockFor = blockFor
        let dimensions = [("group", subscriber.name)]
        self.handledCounter = Counter(label: "boxoffice_stream_events_handled_total", dimensions: dimensions, factory: metrics)
        self.failureCounter = Counter(label: "boxoffice_stream_handling_failures_total", dimensions: dimensions, factory: metrics)
        self.deadCounter = Counter(label: "boxoffice_stream_events_dead_lettered_total", dimensions: dimensions, factory: metrics)
    }

    public var group: String { subscriber.name }

    /// Consumes until cancelled or graceful shutdown. Errors (Redis or the database away) are
    /// logged and retried after a pause; nothing is acknowledged that was not handled.
    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            var connection: RedisConnection?
            var tookOver = false
            while !Task.isCancelled {
                do {
                    if connection?.isActive != true {
                        await connection?.close()
                        connection = try await redis.dedicatedConnection()
                    }
                    if !tookOver {
                        try await createGroups()
                        try await takeOverPendingEntries()
                        tookOver = true
                    }
                    try await consumeOnce(on: connection!)
                } catch where Task.isCancelled {
                    break
                } catch {
                    logger.warning("stream consumer pass failed; retrying", metadata: [
                        "group": .string(group), "error": .string(String(describing: error)),
                    ])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            await connection?.close()
        }
    }

    /// Creates the group on each stream (and the stream), starting from the beginning so that
    /// events published before the group existed are not skipped; the inbox skips any this
    /// subscriber has already handled.
    func createGroups() async throws {
        for topic in topics {
            let reply = try await redis.pipeline([RedisCommand("XGROUP", "CREATE", settings.streamKey(topic), group, "0", "MKSTREAM")])
            if case .error(let text) = reply[0], !text.hasPrefix("BUSYGROUP") { throw RedisError(errorReply: text) }
        }
    }

    /// Makes every pending entry of the group this consumer's: the previous lease holder's are
    /// orphaned (it stopped renewing). Consumers long idle with nothing pending are removed.
    func takeOverPendingEntries() async throws {
        for topic in topics {
            let key = settings.streamKey(topic)
            var cursor = "0-0"
            repeat {
                let reply = try await redis.send("XAUTOCLAIM", key, group, consumerName, "0", cursor, "COUNT", "500", "JUSTID")
                guard let parts = reply.array, parts.count >= 2, let next = parts[0].string else {
                    throw RedisError.protocolViolation("XAUTOCLAIM answered \(reply)")
                }
                let claimed = parts[1].array?.count ?? 0
                if claimed > 0 {
                    logger.info("took over pending events", metadata: ["group": .string(group), "stream": .string(key), "count": .stringConvertible(claimed)])
                }
                cursor = next
            } while cursor != "0-0"
            let consumers = try await redis.send("XINFO", "CONSUMERS", key, group).array ?? []
            for consumer in consumers {
                let fields = Dictionary((consumer.pairs ?? []).map { ($0.0.string ?? "", $0.1) }, uniquingKeysWith: { first, _ in first })
                guard let name = fields["name"]?.string, name != consumerName, fields["pending"]?.int == 0,
                      let idle = fields["idle"]?.int, idle > 600_000
                else { continue }
                try await redis.send("XGROUP", "DELCONSUMER", key, group, name)
            }
        }
    }

    private struct Retry {
        var attempts: Int
        var notBefore: Date
    }

    /// One round: this consumer's pending entries that are due (retries, entries taken over),
    /// else new entries (waiting up to `blockFor` for some); handles them in outbox order;
    /// acknowledges what was handled and records what failed.
    func consumeOnce(on connection: RedisConnection) async throws {
        let batch = String(configuration.batchSize)
        let keys = topics.map(settings.streamKey)
        let retries = try await loadRetries()
        let now = Date()
        // Aggregates whose earliest pending entry is backing off: nothing of theirs may pass it.
        var blocked = Set<String>()
        var entries: [(entry: StreamEntry, event: EventEnvelope?)] = []
        let pendingReply = try await connection.send(
            RedisCommand("XREADGROUP", ["GROUP", group, consumerName, "COUNT", batch, "STREAMS"] + keys + keys.map { _ in "0" }))
        var pending = try Self.ordered(StreamEntry.parseRead(pendingReply), batchSize: configuration.batchSize)
        pending = pending.filter { item in
            guard let event = item.event else { return true }
            if blocked.contains(event.aggregateKey) { return false }
            if let retry = retries[event.id], retry.notBefore > now {
                blocked.insert(event.aggregateKey)
                return false
            }
            return true
        }
        if !pending.isEmpty {
            entries = pending
        } else {
            let milliseconds = blockFor.components.seconds * 1000 + blockFor.components.attoseconds / 1_000_000_000_000_000
            let fresh = try await connection.send(
                RedisCommand(
                    "XREADGROUP",
                    ["GROUP", group, consumerName, "COUNT", batch, "BLOCK", String(milliseconds), "STREAMS"] + keys + keys.map { _ in ">" }),
                timeout: .milliseconds(milliseconds) + redis.configuration.commandTimeout)
            entries = try Self.ordered(StreamEntry.parseRead(fresh), batchSize: configuration.batchSize)
                .filter { item in item.event.map { !blocked.contains($0.aggregateKey) } ?? true }
        }
        guard !entries.isEmpty else { return }

        let events = subscriber.wanted(entries.compactMap(\.event))
        let failures = try await delivery.deliverAroundFailures(events, to: subscriber)
        let failedIDs = Set(failures.map(\.event.id))
        var stopped = Set<String>()
        var acknowledged: [StreamEntry] = []
        for item in entries {
            if let event = item.event {
                if failedIDs.contains(event.id) { stopped.insert(event.aggregateKey) }
                if stopped.contains(event.aggregateKey) { continue }
            } else {
                logger.warning("a pending stream entry was trimmed before it was handled", metadata: [
                    "group": .string(group), "stream": .string(item.entry.stream), "entry": .string(item.entry.id),
                ])
            }
            acknowledged.append(item.entry)
        }
        var commands = Dictionary(grouping: acknowledged, by: \.stream).sorted { $0.key < $1.key }.map { stream, entries in
            RedisCommand("XACK", [stream, group] + entries.map(\.id))
        }
        let cleared = acknowledged.compactMap { entry in entry.fields?["id"] }.filter { retries[$0] != nil }
        if !cleared.isEmpty { commands.append(RedisCommand("HDEL", [settings.retriesKey(group: group)] + cleared)) }
        if !commands.isEmpty { _ = try await redis.pipeline(commands) }
        handledCounter.increment(by: events.count - failures.count)

        for (event, failure) in failures {
            guard let entry = entries.first(where: { $0.event?.id == event.id })?.entry else { continue }
            try await recordFailure(of: event, entry: entry, error: failure, previous: retries[event.id])
        }
    }

    /// Sorts entries read from several streams into outbox order. A stream that filled the batch
    /// may have more entries that come before another stream's later ones, so entries past the
    /// lowest such batch end wait for the next round (they stay pending, and come first then).
    static func ordered(_ entries: [StreamEntry], batchSize: Int) -> [(entry: StreamEntry, event: EventEnvelope?)] {
        let items = entries.map { entry in (entry: entry, event: entry.fields.flatMap(StreamEntryFields.event(from:))) }
        var horizon = Int64.max
        for (_, streamItems) in Dictionary(grouping: items, by: \.entry.stream) where streamItems.count >= batchSize {
            if let last = streamItems.compactMap(\.event?.position).max() { horizon = min(horizon, last) }
        }
        return items
            .filter { ($0.event?.position ?? Int64.min) <= horizon }
            .sorted { ($0.event?.position ?? Int64.min) < ($1.event?.position ?? Int64.min) }
    }

    private func loadRetries() async throws -> [String: Retry] {
        let reply = try await redis.send("HGETALL", settings.retriesKey(group: group))
        var retries: [String: Retry] = [:]
        for (key, value) in reply.pairs ?? [] {
            guard let id = key.string, let text = value.string else { continue }
            let parts = text.split(separator: ":")
            guard parts.count == 2, let attempts = Int(parts[0]), let milliseconds = Double(parts[1]) else { continue }
            retries[id] = Retry(attempts: attempts, notBefore: Date(timeIntervalSince1970: milliseconds / 1000))
        }
        return retries
    }

    private func recordFailure(of event: EventEnvelope, entry: StreamEntry, error: SubscriberFailure, previous: Retry?) async throws {
        let attempts = (previous?.attempts ?? 0) + 1
        let message = String(String(describing: error.underlying).prefix(2000))
        failureCounter.increment()
        var metadata: Logger.Metadata = [
            "group": .string(group), "event_id": .string(event.id), "event_type": .string(event.type),
            "attempts": .stringConvertible(attempts), "error": .string(message),
        ]
        let retriesKey = settings.retriesKey(group: group)
        guard attempts < configuration.maximumAttempts else {
            let topic = EventTopics.topic(for: event.type)
            let deadLetter = StreamEntryFields.fields(of: event) + [
                "group", group, "topic", topic, "error", message, "attempts", String(attempts),
                "failed_at", String(Date().timeIntervalSince1970), "source_entry", entry.id,
            ]
            // Into the dead-letter stream first: if the acknowledgement is lost, the entry is
            // dead-lettered again rather than lost.
            try await redis.send(RedisCommand("XADD", [settings.deadLetterKey(topic), "*"] + deadLetter))
            _ = try await redis.pipeline([
                RedisCommand("XACK", entry.stream, group, entry.id), RedisCommand("HDEL", retriesKey, event.id),
            ])
            deadCounter.increment()
            logger.error("event moved to the dead-letter stream after repeated failures", metadata: metadata)
            return
        }
        let delay = configuration.retryDelay(afterAttempts: attempts)
        let notBefore = (Date().timeIntervalSince1970 + delay) * 1000
        try await redis.send("HSET", retriesKey, event.id, "\(attempts):\(Int64(notBefore))")
        metadata["retry_in_seconds"] = .stringConvertible(delay)
        logger.warning("event handling failed; will retry", metadata: metadata)
    }
}
