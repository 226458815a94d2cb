import BoxofficeKit
import Foundation
import RedisClient

/// Waiting rooms in Redis, shared by every node: joins are one script each (atomic and
/// idempotent per fan), so a busy on-sale's joins never touch the database.
///
/// Per performance, under `<prefix><performance>:`: `settings` (JSON), `state` (a hash of
/// last_sequence, admitted_through, sealed), `places` (fan → "sequence|joined ms"), `prequeue`
/// (a sorted set by lottery draw), `line` (waiting fans by sequence), `seen` (waiting fans by
/// last poll), `outcome` (fan → admitted/ended with the session's end, or skipped), `active`
/// (running sessions by end) and `admitted` (admissions by time).
public final class RedisQueueStore: QueueStore {
    private let redis: RedisClient
    private let prefix: String

    public init(redis: RedisClient, prefix: String = "boxoffice:queue:") {
        self.redis = redis
        self.prefix = prefix
    }

    private func key(_ performanceID: String, _ part: String) -> String { "\(prefix)\(performanceID):\(part)" }
    private var openKey: String { "\(prefix)open" }

    private static func milliseconds(_ date: Date) -> String { String(Int64((date.timeIntervalSince1970 * 1000).rounded())) }
    private static func date(milliseconds text: Substring) -> Date? { Double(text).map { Date(timeIntervalSince1970: $0 / 1000) } }

    public func saveSettings(_ settings: QueueSettings, performanceID: String) async throws {
        let json = String(decoding: try JSONEncoder().encode(settings), as: UTF8.self)
        let state = key(performanceID, "state")
        _ = try await checked(redis.pipeline([
            RedisCommand("SET", key(performanceID, "settings"), json),
            RedisCommand("HSETNX", state, "last_sequence", "0"), RedisCommand("HSETNX", state, "admitted_through", "0"),
            RedisCommand("HSETNX", state, "sealed", "0"),
            RedisCommand(settings.enabled && !settings.closed ? "SADD" : "SREM", openKey, performanceID),
        ]))
    }

    public func settings(performanceID: String) async throws -> QueueSettings? {
        guard let json = try await redis.send("GET", key(performanceID, "settings")).string else { return nil }
        return try JSONDecoder().decode(QueueSettings.self, from: Data(json.utf8))
    }

    public func openQueues() async throws -> [String: QueueSettings] {
        let ids = try await redis.send("SMEMBERS", openKey).array?.compactMap(\.string) ?? []
        guard !ids.isEmpty else { return [:] }
        let replies = try await checked(redis.pipeline(ids.map { RedisCommand("GET", key($0, "settings")) }))
        var queues: [String: QueueSettings] = [:]
        for (id, reply) in zip(ids, replies) {
            guard let json = reply.string, let settings = try? JSONDecoder().decode(QueueSettings.self, from: Data(json.utf8)) else { continue }
            queues[id] = settings
        }
        return queues
    }

    /// Numbers the pre-queue 1…n in draw order (ties by fan ID) before anyone joins after
    /// opening, and marks the queue sealed. KEYS: state, places, prequeue, line.
    private static let sealLua = """
        local function seal()
            local fans = redis.call('ZRANGE', KEYS[3], 0, -1)
            for i, fan in ipairs(fans) do
                redis.call('ZADD', KEYS[4], i, fan)
                local place = redis.call('HGET', KEYS[2], fan)
                local joined = string.sub(place, string.find(place, '|', 1, true) + 1)
                redis.call('HSET', KEYS[2], fan, i .. '|' .. joined)
            end
            redis.call('HSET', KEYS[1], 'last_sequence', #fans, 'sealed', '1')
            redis.call('DEL', KEYS[3])
        end
        """

    /// KEYS: state, places, prequeue, line, seen, settings. ARGV: fan, now ms, opens ms, draw.
    /// Returns {1 if new, "sequence|joined ms"}, or {-1} when there is no queue.
    private static let joinScript = RedisScript(sealLua + "\n" + """
        if redis.call('EXISTS', KEYS[6]) == 0 then return {-1} end
        local existing = redis.call('HGET', KEYS[2], ARGV[1])
        if existing then return {0, existing} end
        local sequence = ''
        if tonumber(ARGV[2]) >= tonumber(ARGV[3]) then
            if redis.call('HGET', KEYS[1], 'sealed') ~= '1' then seal() end
            sequence = redis.call('HINCRBY', KEYS[1], 'last_sequence', 1)
            redis.call('ZADD', KEYS[4], sequence, ARGV[1])
        else
            redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
        end
        local place = sequence .. '|' .. ARGV[2]
        redis.call('HSET', KEYS[2], ARGV[1], place)
        redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
        return {1, place}
        """)

    private static let sealScript = RedisScript(sealLua + "\n" + """
        if redis.call('HGET', KEYS[1], 'sealed') ~= '1' then seal() end
        return 1
        """)

    public func join(
        performanceID: String, fanID: String, at: Date, opensAt: Date, lottery: Int64
    ) async throws -> (place: QueuePlace, isNew: Bool) {
        // A sorted set's score is a double, exact for draws of up to 53 bits (the service's are 52).
        let draw = String(Double(lottery))
        let reply = try await redis.eval(
            Self.joinScript,
            keys: ["state", "places", "prequeue", "line", "seen", "settings"].map { key(performanceID, $0) },
            arguments: [fanID, Self.milliseconds(at), Self.milliseconds(opensAt), draw])
        guard let parts = reply.array, let flag = parts.first?.int else { throw RedisError.protocolViolation("join answered \(reply)") }
        guard flag >= 0 else { throw Problem.notFound(detail: "This performance has no waiting room.") }
        guard parts.count == 2, let text = parts[1].string, let place = Self.place(text) else {
            throw RedisError.protocolViolation("join answered \(reply)")
        }
        return (place, flag == 1)
    }

    private static func place(_ text: String) -> QueuePlace? {
        let fields = text.split(separator: "|", omittingEmptySubsequences: false)
        guard fields.count == 2, let joined = date(milliseconds: fields[1]) else { return nil }
        return QueuePlace(sequence: Int(fields[0]), joinedAt: joined)
    }

    public func place(performanceID: String, fanID: String) async throws -> QueuePlace? {
        try await redis.send("HGET", key(performanceID, "places"), fanID).string.flatMap(Self.place)
    }

    public func seal(performanceID: String) async throws {
        try await redis.eval(Self.sealScript, keys: ["state", "places", "prequeue", "line"].map { key(performanceID, $0) }, arguments: [])
    }

    public func counters(performanceIDs: [String]) async throws -> [String: QueueCounters] {
        guard !performanceIDs.isEmpty else { return [:] }
        let replies = try await checked(redis.pipeline(performanceIDs.map {
            RedisCommand("HMGET", key($0, "state"), "last_sequence", "admitted_through", "sealed")
        }))
        var counters: [String: QueueCounters] = [:]
        for (id, reply) in zip(performanceIDs, replies) {
            guard let values = reply.array, values.count == 3, let last = values[0].int else { continue }
            counters[id] = QueueCounters(lastSequence: last, admittedThrough: values[1].int ?? 0, sealed: values[2].string == "1")
        }
        return counters
    }

    public func touch(performanceID: String, fanIDs: [String], at: Date) async throws {
        guard !fanIDs.isEmpty else { return }
        let now = Self.milliseconds(at)
        // XX: only fans still waiting are in `seen`; the admitted and skipped stay out.
        _ = try await checked(redis.pipeline(fanIDs.chunked(500).map { batch in
            RedisCommand("ZADD", [key(performanceID, "seen"), "XX"] + batch.flatMap { [now, $0] })
        }))
    }

    public func waiting(performanceID: String, after: Int, limit: Int) async throws -> [WaitingFan] {
        let line = try await redis.send(
            "ZRANGEBYSCORE", key(performanceID, "line"), "(\(after)", "+inf", "WITHSCORES", "LIMIT", "0", String(limit))
        let flat = line.array ?? []
        var fans: [(fan: String, sequence: Int)] = []
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            // RESP3 answers pairs as [member, score] arrays; RESP2 as a flat list.
            if let fan = flat[index].string, let score = flat[index + 1].string.flatMap(Double.init) {
                fans.append((fan, Int(score)))
            }
        }
        if fans.isEmpty, let pairs = line.array?.compactMap(\.array), !pairs.isEmpty {
            fans = pairs.compactMap { pair in
                guard pair.count == 2, let fan = pair[0].string else { return nil }
                let score: Double? = if case .double(let value) = pair[1] { value } else { pair[1].string.flatMap(Double.init) }
                return score.map { (fan, Int($0)) }
            }
        }
        guard !fans.isEmpty else { return [] }
        let seen = try await redis.pipeline(fans.map { RedisCommand("ZSCORE", key(performanceID, "seen"), $0.fan) })
        return zip(fans, seen).map { fan, score in
            let milliseconds: Double = if case .double(let value) = score { value } else { score.string.flatMap(Double.init) ?? 0 }
            return WaitingFan(sequence: fan.sequence, fanID: fan.fan, lastSeen: Date(timeIntervalSince1970: milliseconds / 1000))
        }
    }

    /// KEYS: state, line, seen, outcome, active, admitted. ARGV: through, now ms, ends ms,
    /// admitted count, then the admitted fans, then the skipped ones.
    private static let gateStepScript = RedisScript("""
        local admittedCount = tonumber(ARGV[4])
        for i = 5, #ARGV do
            local fan = ARGV[i]
            redis.call('ZREM', KEYS[2], fan)
            redis.call('ZREM', KEYS[3], fan)
            if i < 5 + admittedCount then
                redis.call('HSET', KEYS[4], fan, 'admitted|' .. ARGV[3])
                redis.call('ZADD', KEYS[5], ARGV[3], fan)
                redis.call('ZADD', KEYS[6], ARGV[2], fan)
            else
                redis.call('HSET', KEYS[4], fan, 'skipped')
            end
        end
        if tonumber(redis.call('HGET', KEYS[1], 'admitted_through') or '0') < tonumber(ARGV[1]) then
            redis.call('HSET', KEYS[1], 'admitted_through', ARGV[1])
        end
        return 1
        """)

    public func recordGateStep(
        performanceID: String, admitted: [String], skipped: [String], through: Int, at: Date, sessionEndsAt: Date
    ) async throws {
        try await redis.eval(
            Self.gateStepScript, keys: ["state", "line", "seen", "outcome", "active", "admitted"].map { key(performanceID, $0) },
            arguments: [String(through), Self.milliseconds(at), Self.milliseconds(sessionEndsAt), String(admitted.count)] + admitted + skipped)
    }

    public func outcome(performanceID: String, fanID: String) async throws -> GateOutcome? {
        guard let text = try await redis.send("HGET", key(performanceID, "outcome"), fanID).string else { return nil }
        if text == "skipped" { return .skipped }
        let fields = text.split(separator: "|")
        guard fields.count == 2, let ends = Self.date(milliseconds: fields[1]) else { return nil }
        return .admitted(sessionEndsAt: ends, ended: fields[0] == "ended")
    }

    /// KEYS: active, outcome. ARGV: up to (ms), or a fan with "fan". Ends the sessions and
    /// returns whose.
    private static let endScript = RedisScript("""
        local fans = {}
        if ARGV[1] == 'fans' then
            for i = 2, #ARGV do
                if redis.call('ZSCORE', KEYS[1], ARGV[i]) then fans[#fans + 1] = ARGV[i] end
            end
        else
            fans = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
        end
        for _, fan in ipairs(fans) do
            local ends = redis.call('ZSCORE', KEYS[1], fan)
            redis.call('ZREM', KEYS[1], fan)
            redis.call('HSET', KEYS[2], fan, 'ended|' .. ends)
        end
        return fans
        """)

    public func endExpiredSessions(performanceID: String, at: Date) async throws -> [String] {
        try await redis.eval(Self.endScript, keys: [key(performanceID, "active"), key(performanceID, "outcome")], arguments: ["due", Self.milliseconds(at)])
            .array?.compactMap(\.string) ?? []
    }

    public func endSessions(performanceID: String, fanIDs: [String]) async throws -> [String] {
        guard !fanIDs.isEmpty else { return [] }
        return try await redis.eval(Self.endScript, keys: [key(performanceID, "active"), key(performanceID, "outcome")], arguments: ["fans"] + fanIDs)
            .array?.compactMap(\.string) ?? []
    }

    public func admissions(performanceID: String, since: Date) async throws -> Int {
        try await redis.send("ZCOUNT", key(performanceID, "admitted"), Self.milliseconds(since), "+inf").int ?? 0
    }

    public func figures(
        performanceID: String, at: Date, seenSince: Date, admittedSince: Date
    ) async throws -> (waiting: Int, abandoned: Int, active: Int, admitted: Int) {
        let replies = try await checked(redis.pipeline([
            RedisCommand("ZCARD", key(performanceID, "seen")),
            RedisCommand("ZCOUNT", key(performanceID, "seen"), "-inf", "(" + Self.milliseconds(seenSince)),
            RedisCommand("ZCOUNT", key(performanceID, "active"), "(" + Self.milliseconds(at), "+inf"),
            RedisCommand("ZCOUNT", key(performanceID, "admitted"), Self.milliseconds(admittedSince), "+inf"),
        ]))
        let counts = replies.map { $0.int ?? 0 }
        return (counts[0] - counts[1], counts[1], counts[2], counts[3])
    }

    /// Pipelined replies, with the first error reply thrown.
    private func checked(_ replies: [RESPValue]) throws -> [RESPValue] {
        for reply in replies {
            if case .error(let text) = reply { throw RedisError(errorReply: text) }
        }
        return replies
    }
}
