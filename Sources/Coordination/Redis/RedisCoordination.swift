import BoxofficeKit
import Foundation
import RedisClient

/// Rate limits in Redis: GCRA as one script, so a check is one atomic round trip whichever node
/// makes it. Times come from the caller's clock (nodes keep their clocks in sync with NTP).
public final class RedisRateLimiter: RateLimiter {
    private let redis: RedisClient
    private let clock: any WallClock
    private let prefix: String

    /// KEYS[1] = the key; ARGV = now (µs), interval (µs), burst, consume (1/0).
    /// Returns {allowed (1/0), retry after (µs)}.
    static let script = RedisScript("""
        local now = tonumber(ARGV[1])
        local interval = tonumber(ARGV[2])
        local burst = tonumber(ARGV[3])
        local arrival = tonumber(redis.call('GET', KEYS[1]) or now)
        if arrival < now then arrival = now end
        local allowed_at = arrival - interval * (burst - 1)
        if allowed_at > now then return {0, allowed_at - now} end
        if ARGV[4] == '1' then
            local next_arrival = arrival + interval
            redis.call('SET', KEYS[1], string.format('%.0f', next_arrival), 'PX', math.ceil((next_arrival - now) / 1000) + 1)
        end
        return {1, 0}
        """)

    public init(redis: RedisClient, clock: any WallClock = SystemClock(), prefix: String = "boxoffice:ratelimit:") {
        self.redis = redis
        self.clock = clock
        self.prefix = prefix
    }

    public func consume(_ key: String, limit: RateLimit) async throws -> RateLimitDecision {
        try await decide(key, limit: limit, consume: true)
    }

    public func check(_ key: String, limit: RateLimit) async throws -> RateLimitDecision {
        try await decide(key, limit: limit, consume: false)
    }

    public func reset(_ key: String) async throws {
        try await redis.send("DEL", prefix + key)
    }

    private func decide(_ key: String, limit: RateLimit, consume: Bool) async throws -> RateLimitDecision {
        let micros = { (interval: TimeInterval) in String(Int64((interval * 1_000_000).rounded())) }
        let reply = try await redis.eval(
            Self.script, keys: [prefix + key],
            arguments: [micros(clock.now().timeIntervalSince1970), micros(limit.interval), String(limit.burst), consume ? "1" : "0"])
        guard let parts = reply.array, parts.count == 2, let allowed = parts[0].int, let retryMicros = parts[1].int else {
            throw RedisError.protocolViolation("the rate-limit script answered \(reply)")
        }
        return allowed == 1 ? .allow : RateLimitDecision(allowed: false, retryAfter: Double(retryMicros) / 1_000_000)
    }
}

/// Values that end at a time of the caller's clock: stored with that time, so a value past it is
/// never returned even before Redis's own expiry (a whole-second-rounded copy) removes it.
enum ExpiringValue {
    static func encode(_ data: Data, expiresAt: Date) -> String {
        String(format: "%.3f", expiresAt.timeIntervalSince1970) + "|" + String(decoding: data, as: UTF8.self)
    }

    static func decode(_ text: String, now: Date) -> Data? {
        guard let bar = text.firstIndex(of: "|"), let seconds = Double(text[..<bar]) else { return nil }
        guard Date(timeIntervalSince1970: seconds) > now else { return nil }
        return Data(text[text.index(after: bar)...].utf8)
    }

    /// Milliseconds to keep the key for, at least one.
    static func milliseconds(until expiresAt: Date, now: Date) -> String {
        String(max(1, Int64((expiresAt.timeIntervalSince(now) * 1000).rounded(.up))))
    }
}

/// Keys under a prefix whose values end at a time of the caller's clock: what sessions and the
/// cache both are.
struct ExpiringKeys: Sendable {
    let redis: RedisClient
    let clock: any WallClock
    let prefix: String

    func load(_ key: String) async throws -> Data? {
        guard let text = try await redis.send("GET", prefix + key).string else { return nil }
        return ExpiringValue.decode(text, now: clock.now())
    }

    func save(_ key: String, _ data: Data, expiresAt: Date) async throws {
        let now = clock.now()
        guard expiresAt > now else { return try await delete(key) }
        try await redis.send(
            "SET", prefix + key, ExpiringValue.encode(data, expiresAt: expiresAt), "PX", ExpiringValue.milliseconds(until: expiresAt, now: now))
    }

    func delete(_ key: String) async throws {
        try await redis.send("DEL", prefix + key)
    }
}

/// Sessions in Redis, each with a time to live.
public final class RedisSessionStore: SessionStore {
    private let keys: ExpiringKeys

    public init(redis: RedisClient, clock: any WallClock = SystemClock(), prefix: String = "boxoffice:session:") {
        self.keys = ExpiringKeys(redis: redis, clock: clock, prefix: prefix)
    }

    public func save(_ key: String, data: Data, expiresAt: Date) async throws {
        try await keys.save(key, data, expiresAt: expiresAt)
    }

    public func load(_ key: String) async throws -> Data? {
        try await keys.load(key)
    }

    public func delete(_ key: String) async throws {
        try await keys.delete(key)
    }
}

/// A cache in Redis, shared by every node.
public final class RedisCache: Cache {
    private let keys: ExpiringKeys

    public init(redis: RedisClient, clock: any WallClock = SystemClock(), prefix: String = "boxoffice:cache:") {
        self.keys = ExpiringKeys(redis: redis, clock: clock, prefix: prefix)
    }

    public func get(_ key: String) async throws -> Data? {
        try await keys.load(key)
    }

    public func set(_ key: String, _ value: Data, ttl: TimeInterval) async throws {
        try await keys.save(key, value, expiresAt: keys.clock.now().addingTimeInterval(ttl))
    }

    public func delete(_ key: String) async throws {
        try await keys.delete(key)
    }
}

/// Leases in Redis: a key holding the holder's name with a time to live. Taking and renewing
/// is one script, so a lease changes hands only after it ran out or was released.
public final class RedisLeaseStore: LeaseStore {
    private let redis: RedisClient
    private let prefix: String

    /// KEYS[1] = the lease; ARGV = holder, milliseconds. 1 when the holder has it afterwards.
    static let acquireScript = RedisScript("""
        local current = redis.call('GET', KEYS[1])
        if current == false or current == ARGV[1] then
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            return 1
        end
        return 0
        """)

    static let releaseScript = RedisScript("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """)

    public init(redis: RedisClient, prefix: String = "boxoffice:lease:") {
        self.redis = redis
        self.prefix = prefix
    }

    public func acquire(_ name: String, holder: String, duration: TimeInterval) async throws -> Bool {
        let milliseconds = String(max(1, Int64((duration * 1000).rounded())))
        return try await redis.eval(Self.acquireScript, keys: [prefix + name], arguments: [holder, milliseconds]).int == 1
    }

    public func release(_ name: String, holder: String) async throws {
        try await redis.eval(Self.releaseScript, keys: [prefix + name], arguments: [holder])
    }
}
