import BoxofficeKit
import Coordination
import Foundation
import RedisClient
import TestSupport
import Testing

/// The behaviour every `RateLimiter` implementation must have, embedded and Redis alike.
@Suite struct RateLimiterContractTests {
    static let implementations: [String] = ["in-memory", "redis"]

    private func withLimiter(_ name: String, clock: ManualClock, _ body: (any RateLimiter) async throws -> Void) async throws {
        switch name {
        case "redis":
            try await TestRedis.withClient { redis async throws in
                try await body(RedisRateLimiter(redis: redis, clock: clock, prefix: TestRedis.uniquePrefix()))
            }
        default:
            try await body(InMemoryRateLimiter(clock: clock))
        }
    }

    @Test(arguments: implementations)
    func aBurstIsAllowedThenTheNextIsDeniedWithWhenToRetry(implementation: String) async throws {
        let clock = ManualClock()
        try await withLimiter(implementation, clock: clock) { limiter async throws in
            let limit = RateLimit.perPeriod(5, 60)  // one every 12 s, five at once
            for _ in 0..<5 {
                #expect(try await limiter.consume("k", limit: limit).allowed)
            }
            let denied = try await limiter.consume("k", limit: limit)
            #expect(!denied.allowed)
            #expect(abs(denied.retryAfter - 12) < 0.001)
            #expect(denied.retryAfterSeconds == 12)
        }
    }

    @Test(arguments: implementations)
    func capacityComesBackAtTheConfiguredRate(implementation: String) async throws {
        let clock = ManualClock()
        try await withLimiter(implementation, clock: clock) { limiter async throws in
            let limit = RateLimit.perPeriod(2, 10)
            let started = ContinuousClock.now
            #expect(try await limiter.consume("k", limit: limit).allowed)
            #expect(try await limiter.consume("k", limit: limit).allowed)
            let deniedAtFirst = try await !limiter.consume("k", limit: limit).allowed
            clock.advance(by: 5)
            #expect(try await limiter.consume("k", limit: limit).allowed)
            let deniedAgain = try await !limiter.consume("k", limit: limit).allowed
            // Redis forgets an idle key after the period in its own time: a machine stalled that
            // long proves nothing about the rate.
            if ContinuousClock.now - started < .seconds(8) {
                #expect(deniedAtFirst)
                #expect(deniedAgain)
            }
        }
    }

    @Test(arguments: implementations)
    func checkingRecordsNothingAndResetForgets(implementation: String) async throws {
        let clock = ManualClock()
        try await withLimiter(implementation, clock: clock) { limiter async throws in
            let limit = RateLimit.perPeriod(1, 60)
            for _ in 0..<3 {
                #expect(try await limiter.check("k", limit: limit).allowed)
            }
            #expect(try await limiter.consume("k", limit: limit).allowed)
            #expect(try await !limiter.check("k", limit: limit).allowed)
            try await limiter.reset("k")
            #expect(try await limiter.check("k", limit: limit).allowed)
        }
    }

    @Test(arguments: implementations)
    func aWholeBurstIsAllowedWhateverTheIntervalsBinaryRounding(implementation: String) async throws {
        try await withLimiter(implementation, clock: ManualClock()) { limiter async throws in
            // Periods long enough that Redis's own expiry (real time) cannot end a key while the
            // test's clock stands still (FanRateLimitTests caught 5 per second allowing 4).
            for (count, period) in [(3, 30.0), (5, 30.0), (7, 30.0), (9, 30.0), (10, 14.0), (11, 14.0)] {
                let limit = RateLimit.perPeriod(count, period)
                var allowed = 0
                for _ in 0..<(count + 3) where try await limiter.consume("k\(count)/\(period)", limit: limit).allowed { allowed += 1 }
                #expect(allowed == count, "\(count) per \(period) s")
            }
        }
    }

    @Test(arguments: implementations)
    func keysAreIndependent(implementation: String) async throws {
        try await withLimiter(implementation, clock: ManualClock()) { limiter async throws in
            let limit = RateLimit.perPeriod(1, 60)
            #expect(try await limiter.consume("a", limit: limit).allowed)
            #expect(try await limiter.consume("b", limit: limit).allowed)
            #expect(try await !limiter.consume("a", limit: limit).allowed)
        }
    }

    @Test(arguments: implementations)
    func concurrentConsumersNeverExceedTheBurst(implementation: String) async throws {
        try await withLimiter(implementation, clock: ManualClock()) { limiter async throws in
            let limit = RateLimit.perPeriod(50, 3600)
            let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<500 {
                    group.addTask { try await limiter.consume("hot", limit: limit).allowed }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(allowed == 50)
        }
    }
}
