import BoxofficeKit
import Coordination
import Foundation
import Persistence
import TestSupport
import Testing

/// The behaviour every `SessionStore` must have; the Redis store joins with distributed mode.
@Suite struct SessionStoreContractTests {
    private func withStore(_ dialect: DatabaseDialect, clock: ManualClock, _ body: (any SessionStore) async throws -> Void) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: [SQLSessionStore.migrations]) { database in
            try await body(SQLSessionStore(database: database, clock: clock))
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func savedDataLoadsUntilItExpiresAndSavingAgainReplacesIt(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withStore(dialect, clock: clock) { store in
            try await store.save("k", data: Data("one".utf8), expiresAt: clock.now().addingTimeInterval(60))
            #expect(try await store.load("k") == Data("one".utf8))
            try await store.save("k", data: Data("two".utf8), expiresAt: clock.now().addingTimeInterval(60))
            #expect(try await store.load("k") == Data("two".utf8))
            clock.advance(by: 61)
            #expect(try await store.load("k") == nil)
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func deletedAndUnknownKeysLoadNothing(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withStore(dialect, clock: clock) { store in
            try await store.save("k", data: Data("x".utf8), expiresAt: clock.now().addingTimeInterval(60))
            try await store.delete("k")
            try await store.delete("never-saved")
            #expect(try await store.load("k") == nil)
            #expect(try await store.load("never-saved") == nil)
        }
    }
}
