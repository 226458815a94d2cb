import BoxofficeKit
import Coordination
import Foundation
import Testing

/// The behaviour every `RateLimiter` implementation must have. The Redis implementation joins
/// `implementations` when distributed mode lands.
@Suite struct RateLimiterContractTests {
    static let implementations: [String] = ["in-memory"]

    private func make(_ name: String, clock: ManualClock) -> any RateLimiter {
        switch name {
        default: InMemoryRateLimiter(clock: clock)
        }
    }

    @Test(arguments: implementations)
    func aBurstIsAllowedThenTheNextIsDeniedWithWhenToRetry(implementation: String) async throws {
        let clock = ManualClock()
        let limiter = make(implementation, clock: clock)
        let limit = RateLimit.perPeriod(5, 60)  // one every 12 s, five at once
        for _ in 0..<5 {
            #expect(try await limiter.consume("k", limit: limit).allowed)
        }
        let denied = try await limiter.consume("k", limit: limit)
        #expect(!denied.allowed)
        #expect(abs(denied.retryAfter - 12) < 0.001)
        #expect(denied.retryAfterSeconds == 12)
    }

    @Test(arguments: implementations)
    func capacityComesBackAtTheConfiguredRate(implementation: String) async throws {
        let clock = ManualClock()
        let limiter = make(implementation, clock: clock)
        let limit = RateLimit.perPeriod(2, 10)
        #expect(try await limiter.consume("k", limit: limit).allowed)
        #expect(try await limiter.consume("k", limit: limit).allowed)
        #expect(try await !limiter.consume("k", limit: limit).allowed)
        clock.advance(by: 5)
        #expect(try await limiter.consume("k", limit: limit).allowed)
        #expect(try await !limiter.consume("k", limit: limit).allowed)
    }

    @Test(arguments: implementations)
    func checkingRecordsNothingAndResetForgets(implementation: String) async throws {
        let clock = ManualClock()
        let limiter = make(implementation, clock: clock)
        let limit = RateLimit.perPeriod(1, 60)
        for _ in 0..<3 {
            #expect(try await limiter.check("k", limit: limit).allowed)
        }
        #expect(try await limiter.consume("k", limit: limit).allowed)
        #expect(try await !limiter.check("k", limit: limit).allowed)
        try await limiter.reset("k")
        #expect(try await limiter.check("k", limit: limit).allowed)
    }

    @Test(arguments: implementations)
    func keysAreIndependent(implementation: String) async throws {
        let limiter = make(implementation, clock: ManualClock())
        let limit = RateLimit.perPeriod(1, 60)
        #expect(try await limiter.consume("a", limit: limit).allowed)
        #expect(try await limiter.consume("b", limit: limit).allowed)
        #expect(try await !limiter.consume("a", limit: limit).allowed)
    }

    @Test(arguments: implementations)
    func concurrentConsumersNeverExceedTheBurst(implementation: String) async throws {
        let limiter = make(implementation, clock: ManualClock())
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
