import BoxofficeKit
import Coordination
import Foundation
import Persistence
import TestSupport
import Testing

/// The behaviour every `SessionStore` must have: in SQLite, PostgreSQL or Redis.
@Suite struct SessionStoreContractTests {
    static let implementations = ["sqlite", "postgres", "redis"]

    private func withStore(_ name: String, clock: ManualClock, _ body: (any SessionStore) async throws -> Void) async throws {
        switch name {
        case "redis":
            try await TestRedis.withClient { redis async throws in
                try await body(RedisSessionStore(redis: redis, clock: clock, prefix: TestRedis.uniquePrefix()))
            }
        default:
            let dialect: DatabaseDialect = name == "postgres" ? .postgres : .sqlite
            try await TestDatabases.withDatabase(dialect, migrations: [SQLSessionStore.migrations]) { database in
                try await body(SQLSessionStore(database: database, clock: clock))
            }
        }
    }

    @Test(arguments: implementations)
    func savedDataLoadsUntilItExpiresAndSavingAgainReplacesIt(implementation: String) async throws {
        let clock = ManualClock()
        try await withStore(implementation, clock: clock) { store async throws in
            try await store.save("k", data: Data("one".utf8), expiresAt: clock.now().addingTimeInterval(60))
            #expect(try await store.load("k") == Data("one".utf8))
            try await store.save("k", data: Data("two".utf8), expiresAt: clock.now().addingTimeInterval(60))
            #expect(try await store.load("k") == Data("two".utf8))
            clock.advance(by: 61)
            #expect(try await store.load("k") == nil)
        }
    }

    @Test(arguments: implementations)
    func deletedAndUnknownKeysLoadNothing(implementation: String) async throws {
        let clock = ManualClock()
        try await withStore(implementation, clock: clock) { store async throws in
            try await store.save("k", data: Data("x".utf8), expiresAt: clock.now().addingTimeInterval(60))
            try await store.delete("k")
            try await store.delete("never-saved")
            #expect(try await store.load("k") == nil)
            #expect(try await store.load("never-saved") == nil)
        }
    }
}
