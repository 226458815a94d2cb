import BoxofficeKit
import Coordination
import Foundation
import TestSupport
import Testing

/// The behaviour every `Cache` must have, embedded and Redis alike.
@Suite struct CacheContractTests {
    static let implementations = ["in-memory", "redis"]

    private func withCache(_ name: String, clock: ManualClock, _ body: (any Cache) async throws -> Void) async throws {
        switch name {
        case "redis":
            try await TestRedis.withClient { redis async throws in
                try await body(RedisCache(redis: redis, clock: clock, prefix: TestRedis.uniquePrefix()))
            }
        default:
            try await body(InMemoryCache(clock: clock))
        }
    }

    @Test(arguments: implementations)
    func aValueIsServedUntilItsTimeToLiveEndsOrItIsDeleted(implementation: String) async throws {
        let clock = ManualClock()
        try await withCache(implementation, clock: clock) { cache async throws in
            #expect(try await cache.get("k") == nil)
            // Redis also expires keys in real time: a long TTL keeps a slow machine from doing it
            // before the test's clock does.
            try await cache.set("k", Data("one".utf8), ttl: 30)
            #expect(try await cache.get("k") == Data("one".utf8))
            try await cache.set("k", Data("two".utf8), ttl: 30)
            #expect(try await cache.get("k") == Data("two".utf8))
            clock.advance(by: 31)
            #expect(try await cache.get("k") == nil)
            try await cache.set("k", Data("three".utf8), ttl: 60)
            try await cache.delete("k")
            #expect(try await cache.get("k") == nil)
        }
    }

    @Test(arguments: implementations)
    func keysAreIndependentAndBinarySafeJSONRoundTrips(implementation: String) async throws {
        try await withCache(implementation, clock: ManualClock()) { cache async throws in
            let json = Data(#"{"seats":"AAEC","name":"Zoë | 1"}"#.utf8)
            try await cache.set("a", json, ttl: 60)
            try await cache.set("b", Data("b".utf8), ttl: 60)
            #expect(try await cache.get("a") == json)
            #expect(try await cache.get("b") == Data("b".utf8))
        }
    }
}

/// The behaviour every `LeaseStore` must have. Leases run out in real time (that is their
/// point), so these tests use short real durations.
@Suite struct LeaseContractTests {
    static let implementations = ["in-memory", "redis"]

    private func withLeases(_ name: String, _ body: (any LeaseStore) async throws -> Void) async throws {
        switch name {
        case "redis":
            try await TestRedis.withClient { redis async throws in
                try await body(RedisLeaseStore(redis: redis, prefix: TestRedis.uniquePrefix()))
            }
        default:
            try await body(InMemoryLeaseStore())
        }
    }

    @Test(arguments: implementations)
    func oneHolderAtATimeRenewalKeepsItAndExpiryHandsItOver(implementation: String) async throws {
        try await withLeases(implementation) { leases async throws in
            // Generous lengths: a loaded 2-core machine can pause a test for seconds.
            let taken = ContinuousClock.now
            #expect(try await leases.acquire("sweeper", holder: "node-a", duration: 5))
            let refused = try await !leases.acquire("sweeper", holder: "node-b", duration: 5)
            let renewed = try await leases.acquire("sweeper", holder: "node-a", duration: 5)  // renewal
            // Redis keeps its own time: when the machine stalled past the lease, these prove nothing.
            if ContinuousClock.now - taken < .seconds(4) {
                #expect(refused)
                #expect(renewed)
            }
            #expect(try await leases.acquire("relay", holder: "node-b", duration: 5))  // another name
            try await Task.sleep(for: .milliseconds(5500))
            // node-a stopped renewing (its node died): node-b takes over.
            #expect(try await leases.acquire("sweeper", holder: "node-b", duration: 5))
            #expect(try await !leases.acquire("sweeper", holder: "node-a", duration: 5))
        }
    }

    @Test(arguments: implementations)
    func releaseHandsOverAtOnceButOnlyByTheHolder(implementation: String) async throws {
        try await withLeases(implementation) { leases async throws in
            #expect(try await leases.acquire("job", holder: "node-a", duration: 60))
            try await leases.release("job", holder: "node-b")  // not its lease: no effect
            #expect(try await !leases.acquire("job", holder: "node-b", duration: 60))
            try await leases.release("job", holder: "node-a")
            #expect(try await leases.acquire("job", holder: "node-b", duration: 60))
        }
    }

    @Test(arguments: implementations)
    func concurrentContendersGetOneWinner(implementation: String) async throws {
        try await withLeases(implementation) { leases async throws in
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for node in 0..<50 {
                    group.addTask { try await leases.acquire("singleton", holder: "node-\(node)", duration: 60) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1)
        }
    }

    @Test func aLeasedJobRunsOnOneNodeAndAnotherTakesOverWhenItStops() async throws {
        let leases = InMemoryLeaseStore()
        let runs = RunLog()
        func service(_ node: String) -> LeasedService {
            LeasedService(
                name: "sweeper", leases: leases, holder: node, duration: 5, retryInterval: .milliseconds(50),
                logger: TestDatabases.logger
            ) {
                await runs.started(node)
                while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
            }
        }
        let first = Task { try await service("node-a").run() }
        try await waitFor { await runs.nodes == ["node-a"] }
        let second = Task { try await service("node-b").run() }
        // node-a keeps renewing the lease, so node-b keeps waiting.
        try await Task.sleep(for: .seconds(1))
        #expect(await runs.nodes == ["node-a"])
        first.cancel()  // node-a stops: it releases the lease, node-b takes over
        try await waitFor { await runs.nodes == ["node-a", "node-b"] }
        second.cancel()
    }
}

private func waitFor(_ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within 10 s")
            return
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

private actor RunLog {
    var nodes: [String] = []
    func started(_ node: String) { nodes.append(node) }
}
