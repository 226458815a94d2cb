import BoxofficeKit
import Foundation
import Persistence
import RedisClient
import TestSupport
import Testing
import WaitingRoom

/// What every queue store must do: the embedded SQL one (SQLite, PostgreSQL) and Redis.
@Suite struct QueueStoreContractTests {
    static let implementations = ["sqlite", "postgres", "redis"]

    private func withStore(_ name: String, _ body: (any QueueStore) async throws -> Void) async throws {
        switch name {
        case "redis":
            try await TestRedis.withClient { redis async throws in
                try await body(RedisQueueStore(redis: redis, prefix: TestRedis.uniquePrefix()))
            }
        default:
            try await TestDatabases.withDatabase(name == "postgres" ? .postgres : .sqlite, migrations: [SQLQueueStore.migrations]) { database in
                try await body(SQLQueueStore(database: database))
            }
        }
    }

    private let opensAt = Date(timeIntervalSince1970: 1_800_000_000)

    private func settings(enabled: Bool = true, closed: Bool = false) -> QueueSettings {
        QueueSettings(
            enabled: enabled, opensAt: opensAt, prequeueMinutes: 10, admitPerMinute: 60, maxActiveShoppers: 10, sessionMinutes: 10,
            keepAliveSeconds: 60, closed: closed, seed: "seed", organizerID: "organizer")
    }

    @Test(arguments: implementations)
    func thePrequeueIsNumberedInDrawOrderBeforeLaterFansAndJoiningAgainKeepsThePlace(implementation: String) async throws {
        try await withStore(implementation) { store in
            try await store.saveSettings(settings(), performanceID: "p1")
            #expect(try await store.settings(performanceID: "p1") == settings())
            let early = opensAt.addingTimeInterval(-60)
            let draws: [String: Int64] = ["ana": 30, "bo": -5, "cy": 900, "di": 12]
            for (fan, draw) in draws.sorted(by: { $0.key < $1.key }) {
                let joined = try await store.join(performanceID: "p1", fanID: fan, at: early, opensAt: opensAt, lottery: draw)
                #expect(joined.isNew && joined.place.sequence == nil)
            }
            #expect(try await store.join(performanceID: "p1", fanID: "ana", at: early, opensAt: opensAt, lottery: 30).isNew == false)
            #expect(try await store.counters(performanceIDs: ["p1"])["p1"] == QueueCounters(lastSequence: 0, admittedThrough: 0, sealed: false))
            // The first join after opening seals the pre-queue first.
            let late = try await store.join(performanceID: "p1", fanID: "ed", at: opensAt, opensAt: opensAt, lottery: -100)
            #expect(late.place.sequence == 5)
            var drawn: [String: Int] = [:]
            for fan in draws.keys { drawn[fan] = try await store.place(performanceID: "p1", fanID: fan)?.sequence }
            #expect(drawn == ["bo": 1, "di": 2, "ana": 3, "cy": 4])
            try await store.seal(performanceID: "p1")  // again: changes nothing
            #expect(try await store.counters(performanceIDs: ["p1"])["p1"] == QueueCounters(lastSequence: 5, admittedThrough: 0, sealed: true))
            let again = try await store.join(performanceID: "p1", fanID: "bo", at: opensAt, opensAt: opensAt, lottery: -5)
            #expect(!again.isNew && again.place.sequence == 1 && again.place.joinedAt == early)
            await #expect(throws: Problem.self) {
                try await store.join(performanceID: "no-queue", fanID: "x", at: opensAt, opensAt: opensAt, lottery: 0)
            }
        }
    }

    @Test(arguments: implementations)
    func concurrentJoinsGetGaplessSequencesAndOneFanOnePlace(implementation: String) async throws {
        try await withStore(implementation) { store in
            try await store.saveSettings(settings(), performanceID: "p1")
            let sequences = try await withThrowingTaskGroup(of: Int?.self) { group in
                for fan in 0..<40 {
                    group.addTask { try await store.join(performanceID: "p1", fanID: "fan-\(fan)", at: opensAt, opensAt: opensAt, lottery: 0).place.sequence }
                }
                for _ in 0..<10 {
                    group.addTask { try await store.join(performanceID: "p1", fanID: "twice", at: opensAt, opensAt: opensAt, lottery: 0).place.sequence }
                }
                return try await group.reduce(into: [Int?]()) { $0.append($1) }
            }
            #expect(Set(sequences.compactMap { $0 }) == Set(1...41))
            #expect(try await store.counters(performanceIDs: ["p1"])["p1"]?.lastSequence == 41)
        }
    }

    @Test(arguments: implementations)
    func theGatesStepsAreRecordedAndSessionsEnd(implementation: String) async throws {
        try await withStore(implementation) { store in
            try await store.saveSettings(settings(), performanceID: "p1")
            try await store.saveSettings(settings(enabled: false), performanceID: "p2")
            try await store.saveSettings(settings(closed: true), performanceID: "p3")
            #expect(Set(try await store.openQueues().keys) == ["p1"])
            for fan in ["a", "b", "c", "d"] {
                _ = try await store.join(performanceID: "p1", fanID: fan, at: opensAt, opensAt: opensAt, lottery: 0)
            }
            let later = opensAt.addingTimeInterval(30)
            try await store.touch(performanceID: "p1", fanIDs: ["b", "c", "d"], at: later)
            let line = try await store.waiting(performanceID: "p1", after: 0, limit: 10)
            #expect(line.map(\.fanID) == ["a", "b", "c", "d"])
            #expect(line.map(\.sequence) == [1, 2, 3, 4])
            #expect(line[0].lastSeen == opensAt && line[1].lastSeen == later)
            var figures = try await store.figures(performanceID: "p1", at: later, seenSince: opensAt.addingTimeInterval(10), admittedSince: opensAt)
            #expect(figures.waiting == 3 && figures.abandoned == 1 && figures.active == 0 && figures.admitted == 0)

            let ends = later.addingTimeInterval(600)
            try await store.recordGateStep(performanceID: "p1", admitted: ["b", "c"], skipped: ["a"], through: 3, at: later, sessionEndsAt: ends)
            #expect(try await store.counters(performanceIDs: ["p1"])["p1"]?.admittedThrough == 3)
            #expect(try await store.waiting(performanceID: "p1", after: 3, limit: 10).map(\.fanID) == ["d"])
            #expect(try await store.outcome(performanceID: "p1", fanID: "a") == .skipped)
            #expect(try await store.outcome(performanceID: "p1", fanID: "b") == .admitted(sessionEndsAt: ends, ended: false))
            #expect(try await store.outcome(performanceID: "p1", fanID: "d") == nil)
            figures = try await store.figures(performanceID: "p1", at: later, seenSince: opensAt.addingTimeInterval(10), admittedSince: opensAt)
            #expect(figures.waiting == 1 && figures.abandoned == 0 && figures.active == 2 && figures.admitted == 2)

            // Only running sessions end: a skipped fan's and an unknown one's are left alone.
            #expect(try await store.endSessions(performanceID: "p1", fanIDs: ["a", "b", "nobody"]) == ["b"])
            #expect(try await store.endSessions(performanceID: "p1", fanIDs: ["b"]).isEmpty)
            #expect(try await store.outcome(performanceID: "p1", fanID: "b") == .admitted(sessionEndsAt: ends, ended: true))
            #expect(try await store.endExpiredSessions(performanceID: "p1", at: ends.addingTimeInterval(-1)).isEmpty)
            #expect(try await store.endExpiredSessions(performanceID: "p1", at: ends) == ["c"])
            figures = try await store.figures(performanceID: "p1", at: ends, seenSince: opensAt, admittedSince: opensAt)
            #expect(figures.active == 0 && figures.admitted == 2)
        }
    }
}
