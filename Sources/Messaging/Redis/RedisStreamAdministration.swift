import Foundation
import RedisClient

/// Dead letters in the `dlq.<topic>` streams, and what operators see of the streams.
///
/// A dead letter's ID is `<topic>/<entry id>`, e.g. `reservation.events/1764428400000-0`.
public struct RedisDeadLetters: DeadLetterStore {
    private let redis: RedisClient
    private let settings: RedisStreamSettings

    public init(redis: RedisClient, settings: RedisStreamSettings = .init()) {
        self.redis = redis
        self.settings = settings
    }

    /// Every topic that has a stream (or a dead-letter stream) in this Redis.
    public func topics() async throws -> [String] {
        var topics = Set<String>()
        var cursor = "0"
        repeat {
            let reply = try await redis.send("SCAN", cursor, "MATCH", settings.keyPrefix + "*.events", "COUNT", "1000", "TYPE", "stream")
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                throw RedisError.protocolViolation("SCAN answered \(reply)")
            }
            for key in parts[1].array?.compactMap(\.string) ?? [] {
                var topic = String(key.dropFirst(settings.keyPrefix.count))
                if topic.hasPrefix("dlq.") { topic.removeFirst(4) }
                topics.insert(topic)
            }
            cursor = next
        } while cursor != "0"
        return topics.sorted()
    }

    public func list(limit: Int) async throws -> [DeadLetter] {
        var letters: [DeadLetter] = []
        for topic in try await topics() {
            let reply = try await redis.send("XRANGE", settings.deadLetterKey(topic), "-", "+", "COUNT", String(limit))
            for entry in try StreamEntry.parseEntries(reply, stream: topic) {
                guard let fields = entry.fields else { continue }
                letters.append(DeadLetter(
                    id: "\(topic)/\(entry.id)", eventID: fields["id"] ?? "", eventType: fields["type"] ?? "",
                    aggregate: "\(fields["aggregate_type"] ?? "")/\(fields["aggregate_id"] ?? "")", topic: topic, group: fields["group"],
                    error: fields["error"] ?? "", attempts: fields["attempts"].flatMap(Int.init) ?? 0,
                    failedAt: fields["failed_at"].flatMap(Double.init).map(Date.init(timeIntervalSince1970:))))
            }
        }
        // Entry IDs begin with the time they were added: oldest first across topics.
        return Array(letters.sorted { ($0.failedAt ?? .distantPast) < ($1.failedAt ?? .distantPast) }.prefix(limit))
    }

    /// Publishes the event to its topic again: the group that failed on it handles it; groups
    /// that already did skip it (their inbox has it).
    public func replay(_ id: String) async throws -> Bool {
        guard let (topic, entryID, fields) = try await find(id), let event = StreamEntryFields.event(from: fields) else { return false }
        _ = try await redis.pipeline([
            RedisCommand("XADD", [settings.streamKey(topic), "MAXLEN", "~", String(settings.maximumLength), "*"] + StreamEntryFields.fields(of: event)),
            RedisCommand("XDEL", settings.deadLetterKey(topic), entryID),
        ])
        return true
    }

    public func drop(_ id: String) async throws -> Bool {
        guard let (topic, entryID, _) = try await find(id) else { return false }
        return try await redis.send("XDEL", settings.deadLetterKey(topic), entryID).int == 1
    }

    private func find(_ id: String) async throws -> (topic: String, entryID: String, fields: [String: String])? {
        guard let slash = id.lastIndex(of: "/") else { return nil }
        let topic = String(id[..<slash])
        let entryID = String(id[id.index(after: slash)...])
        guard !topic.isEmpty, !entryID.isEmpty else { return nil }
        let reply = try await redis.send("XRANGE", settings.deadLetterKey(topic), entryID, entryID)
        guard let entry = try StreamEntry.parseEntries(reply, stream: topic).first, let fields = entry.fields else { return nil }
        return (topic, entryID, fields)
    }

    /// A consumer group on one stream, as `XINFO GROUPS` tells it.
    public struct GroupStats: Sendable, Equatable {
        public let topic: String
        public let group: String
        /// Entries the group has not read yet (nil when Redis cannot tell, after trimming).
        public let lag: Int?
        /// Entries read but not yet acknowledged.
        public let pending: Int
        public let consumers: Int
    }

    public struct StreamStats: Sendable, Equatable {
        public let topic: String
        public let length: Int
        public let deadLetters: Int
        public let groups: [GroupStats]
    }

    public func stats() async throws -> [StreamStats] {
        try await stats(of: try await topics())
    }

    /// The figures of the named topics' streams only: no scan of the keyspace.
    public func stats(of topics: [String]) async throws -> [StreamStats] {
        var result: [StreamStats] = []
        for topic in topics {
            let key = settings.streamKey(topic)
            let replies = try await redis.pipeline([
                RedisCommand("XLEN", key), RedisCommand("XLEN", settings.deadLetterKey(topic)), RedisCommand("XINFO", "GROUPS", key),
            ])
            let groups: [GroupStats] = (replies[2].array ?? []).compactMap { group in
                let fields = Dictionary((group.pairs ?? []).map { ($0.0.string ?? "", $0.1) }, uniquingKeysWith: { first, _ in first })
                guard let name = fields["name"]?.string else { return nil }
                return GroupStats(
                    topic: topic, group: name, lag: fields["lag"]?.int, pending: fields["pending"]?.int ?? 0,
                    consumers: fields["consumers"]?.int ?? 0)
            }
            result.append(StreamStats(topic: topic, length: replies[0].int ?? 0, deadLetters: replies[1].int ?? 0, groups: groups))
        }
        return result
    }
}
