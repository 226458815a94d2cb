import Foundation
import Persistence
import SQLKit
import Synchronization
import TestSupport
import Testing

private let counterSchema = [
    MigrationGroup(module: "test", migrations: [
        Migration("0001_counters", sql: [
            "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
            "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
        ]),
    ]),
]

private struct Boom: Error {}

@Suite struct TransactionTests {
    @Test(arguments: DatabaseDialect.allCases)
    func aTransactionThatThrowsLeavesNoRowsAndRethrowsTheSameError(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: counterSchema) { database in
            await #expect(throws: Boom.self) {
                try await database.withTransaction { transaction in
                    try await transaction.sql.raw("INSERT INTO notes (id, body) VALUES ('n1', 'one')").run()
                    try await transaction.sql.raw("INSERT INTO notes (id, body) VALUES ('n2', 'two')").run()
                    throw Boom()
                }
            }
            let count = try await noteCount(database)
            #expect(count == 0)
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aTransactionThatReturnsLeavesAllItsRows(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: counterSchema) { database in
            try await database.withTransaction { transaction in
                for index in 0..<5 {
                    try await transaction.sql.raw("INSERT INTO notes (id, body) VALUES (\(bind: "n\(index)"), 'x')").run()
                }
            }
            #expect(try await noteCount(database) == 5)
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func afterCommitHooksRunOnlyWhenTheTransactionCommits(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: counterSchema) { database in
            let calls = Mutex<[String]>([])
            try await database.withTransaction { transaction in
                transaction.afterCommit { calls.withLock { $0.append("committed") } }
            }
            _ = try? await database.withTransaction { transaction in
                transaction.afterCommit { calls.withLock { $0.append("rolled back") } }
                throw Boom()
            }
            #expect(calls.withLock { $0 } == ["committed"])
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func twoHundredConcurrentWritersAllCommitWithoutLockErrors(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: counterSchema) { database in
            try await database.withTransaction { transaction in
                try await transaction.sql.raw("INSERT INTO counters (name, value) VALUES ('hits', 0)").run()
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        try await database.withTransaction { transaction in
                            // Read-modify-write: lost updates would show in the final value.
                            let current = try await transaction.sql
                                .raw("SELECT value FROM counters WHERE name = 'hits'\(unsafeRaw: dialect == .postgres ? " FOR UPDATE" : "")")
                                .first()?.decode(column: "value", as: Int.self) ?? -1
                            try await transaction.sql.raw("UPDATE counters SET value = \(bind: current + 1) WHERE name = 'hits'").run()
                            try await transaction.sql.raw("INSERT INTO notes (id, body) VALUES (\(bind: "n\(index)"), 'x')").run()
                        }
                    }
                }
                try await group.waitForAll()
            }
            let value = try await database.read { sql in
                try await sql.raw("SELECT value FROM counters WHERE name = 'hits'").first()?.decode(column: "value", as: Int.self)
            }
            #expect(value == 200)
            #expect(try await noteCount(database) == 200)
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func readsRunWhileAWriteTransactionIsOpen(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: counterSchema) { database in
            try await database.withTransaction { transaction in
                try await transaction.sql.raw("INSERT INTO notes (id, body) VALUES ('inside', 'x')").run()
                // Another task's read does not see the uncommitted row, and is not blocked…
                #expect(try await Task.detached { try await noteCount(database) }.value == 0)
                // …while a read this task makes inside its transaction runs in it.
                #expect(try await noteCount(database) == 1)
            }
            #expect(try await noteCount(database) == 1)
        }
    }

    /// Every connection of the pool is inside a transaction that reads before it commits (as a
    /// checkout asks the waiting room): the reads run in those transactions, so none waits for
    /// a connection that will never come free.
    @Test(arguments: DatabaseDialect.allCases)
    func readsInsideTransactionsNeverWaitForAConnectionWhenThePoolIsFull(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: counterSchema) { database in
            // A deadlock hangs with nothing committing; a busy machine only goes slowly. So the
            // test fails when 15 s pass without a single transaction finishing, not at a deadline.
            let committed = CommitCounter()
            let finished = try await withThrowingTaskGroup(of: Bool.self) { race in
                race.addTask {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for index in 0..<64 {
                            group.addTask {
                                try await database.withTransaction { transaction in
                                    try await transaction.sql.raw("INSERT INTO notes (id, body) VALUES (\(bind: "n\(index)"), 'x')").run()
                                    try await Task.sleep(for: .milliseconds(20))
                                    _ = try await noteCount(database)
                                }
                                committed.count.add(1, ordering: .relaxed)
                            }
                        }
                        try await group.waitForAll()
                    }
                    return true
                }
                race.addTask {
                    var seen = -1
                    while committed.count.load(ordering: .relaxed) != seen {
                        seen = committed.count.load(ordering: .relaxed)
                        try await Task.sleep(for: .seconds(15))
                    }
                    return false
                }
                let first = try await race.next() ?? false
                race.cancelAll()
                return first
            }
            #expect(finished, "the transactions waited for connections held by each other")
            if finished { #expect(try await noteCount(database) == 64) }
        }
    }

    @Test func sqliteReadConnectionsRefuseWrites() async throws {
        try await TestDatabases.withDatabase(.sqlite, migrations: counterSchema) { database in
            await #expect(throws: (any Error).self) {
                try await database.read { sql in
                    try await sql.raw("INSERT INTO notes (id, body) VALUES ('sneaky', 'x')").run()
                }
            }
            let count = try await noteCount(database)
            #expect(count == 0)
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func poolStatisticsReportTheConfiguredMaximumAndConnectionsInUse(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect) { database in
            #expect(database.poolStatistics.inUse == 0)
            try await database.withTransaction { _ in
                #expect(database.poolStatistics.inUse == 1)
            }
            #expect(database.poolStatistics.maximumConnections >= 2)
        }
    }
}

private func noteCount(_ database: Database) async throws -> Int {
    try await database.read { sql in
        try await sql.raw("SELECT COUNT(*) AS n FROM notes").first()?.decode(column: "n", as: Int.self) ?? -1
    }
}

/// How many transactions have committed, shared by the tasks of one test.
private final class CommitCounter: Sendable {
    let count = Atomic<Int>(0)
}
