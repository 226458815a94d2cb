import BoxofficeKit
import Foundation
import Synchronization

/// How many events a key may have: on average one every `interval`, with up to `burst` at once.
public struct RateLimit: Sendable, Equatable {
    public var burst: Int
    public var interval: TimeInterval

    public init(burst: Int, interval: TimeInterval) {
        precondition(burst >= 1 && interval > 0, "a rate limit allows at least one event")
        self.burst = burst
        self.interval = interval
    }

    /// `count` events per `period`, all of which may come at once.
    public static func perPeriod(_ count: Int, _ period: TimeInterval) -> RateLimit {
        RateLimit(burst: count, interval: period / Double(count))
    }
}

public struct RateLimitDecision: Sendable, Equatable {
    public let allowed: Bool
    /// When denied: how long until the next event would be allowed.
    public let retryAfter: TimeInterval

    public static let allow = RateLimitDecision(allowed: true, retryAfter: 0)

    /// Whole seconds for a `Retry-After` header, never zero.
    public var retryAfterSeconds: Int { max(1, Int(retryAfter.rounded(.up))) }
}

/// Counts events per key against a limit, shared by every node that uses the same store.
///
/// The algorithm is GCRA (the generic cell rate algorithm): one timestamp per key, the
/// "theoretical arrival time", which makes each check O(1) in time and space and lets the Redis
/// implementation be a single atomic script.
public protocol RateLimiter: Sendable {
    /// Records one event for `key` if the limit allows it.
    func consume(_ key: String, limit: RateLimit) async throws -> RateLimitDecision
    /// Whether one more event would be allowed now, without recording anything.
    func check(_ key: String, limit: RateLimit) async throws -> RateLimitDecision
    /// Forgets `key`, e.g. after a successful sign-in.
    func reset(_ key: String) async throws
}

/// The embedded rate limiter: state in this process only, which is right for one node.
public final class InMemoryRateLimiter: RateLimiter {
    private let clock: any WallClock
    private let arrivals = Mutex<[String: Date]>([:])

    public init(clock: any WallClock = SystemClock()) {
        self.clock = clock
    }

    public func consume(_ key: String, limit: RateLimit) async throws -> RateLimitDecision {
        let now = clock.now()
        return arrivals.withLock { arrivals in
            let (decision, newArrival) = GCRA.decide(now: now, arrival: arrivals[key], limit: limit)
            if decision.allowed { arrivals[key] = newArrival }
            Self.prune(&arrivals, now: now)
            return decision
        }
    }

    public func check(_ key: String, limit: RateLimit) async throws -> RateLimitDecision {
        let now = clock.now()
        return arrivals.withLock { arrivals in GCRA.decide(now: now, arrival: arrivals[key], limit: limit).decision }
    }

    public func reset(_ key: String) async throws {
        _ = arrivals.withLock { $0.removeValue(forKey: key) }
    }

    /// Keys whose arrival time has passed are back to a full burst; forget them so the table
    /// stays as small as the set of keys that are actually limited.
    private static func prune(_ arrivals: inout [String: Date], now: Date) {
        guard arrivals.count > 10_000 else { return }
        arrivals = arrivals.filter { $0.value > now }
    }
}

/// The arithmetic of GCRA, shared by every implementation.
public enum GCRA {
    /// Decides one event at `now` given the key's stored theoretical arrival time.
    public static func decide(now: Date, arrival: Date?, limit: RateLimit) -> (decision: RateLimitDecision, newArrival: Date) {
        let tolerance = limit.interval * Double(limit.burst - 1)
        let theoretical = max(arrival ?? now, now)
        let allowedAt = theoretical.addingTimeInterval(-tolerance)
        // A microsecond of slack: intervals such as 1/5 s do not add up exactly in binary, and
        // the fifth of a burst of five must not be refused for 2e-16 s (Redis counts whole µs).
        if allowedAt.timeIntervalSince(now) > 1e-6 {
            return (RateLimitDecision(allowed: false, retryAfter: allowedAt.timeIntervalSince(now)), theoretical)
        }
        return (.allow, theoretical.addingTimeInterval(limit.interval))
    }
}
