import Foundation
import Persistence
import SQLKit
import TestSupport
import Testing

let sampleMigrations = [
    MigrationGroup(module: "alpha", migrations: [
        Migration("0001_create_widgets", sql: ["CREATE TABLE widgets (id TEXT PRIMARY KEY, name TEXT NOT NULL)"]),
        Migration("0002_index_widget_names", sql: ["CREATE INDEX widgets_name ON widgets (name)"]),
    ]),
    MigrationGroup(module: "beta", migrations: [
        Migration("0001_create_gadgets") { dialect in
            [dialect == .postgres
                ? "CREATE TABLE gadgets (position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label TEXT)"
                : "CREATE TABLE gadgets (position INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT)"]
        },
    ]),
]

let sampleMigrationNames = ["alpha/0001_create_widgets", "alpha/0002_index_widget_names", "beta/0001_create_gadgets"]

@Suite struct MigrationTests {
    @Test(arguments: DatabaseDialect.allCases)
    func migratingAnEmptyDatabaseAppliesEverythingInOrderAndASecondRunAppliesNothing(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect) { database in
            let migrator = Migrator(database: database, groups: sampleMigrations)
            #expect(try await migrator.status().allSatisfy { !$0.isApplied })

            #expect(try await migrator.migrate() == sampleMigrationNames)
            #expect(try await migrator.migrate() == [])

            let status = try await migrator.status()
            #expect(status.map(\.name) == sampleMigrationNames)
            #expect(status.allSatisfy { $0.isApplied })
            // The schema really is there.
            try await database.withTransaction { transaction in
                try await transaction.sql.raw("INSERT INTO widgets (id, name) VALUES ('w1', 'first')").run()
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aMigrationAddedLaterIsThePendingOneInStatusAndTheOnlyOneApplied(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect) { database in
            try await Migrator(database: database, groups: Array(sampleMigrations.prefix(1))).migrate()
            let extended = Migrator(database: database, groups: sampleMigrations)
            #expect(try await extended.status().filter { !$0.isApplied }.map(\.name) == ["beta/0001_create_gadgets"])
            #expect(try await extended.migrate() == ["beta/0001_create_gadgets"])
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aFailingMigrationLeavesNoTraceAndIsRetriedNextTime(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect) { database in
            let broken = MigrationGroup(module: "broken", migrations: [
                Migration("0001_half_done", sql: [
                    "CREATE TABLE half (id TEXT PRIMARY KEY)",
                    "THIS IS NOT SQL",
                ]),
            ])
            await #expect(throws: (any Error).self) {
                try await Migrator(database: database, groups: [broken]).migrate()
            }
            // Neither the table from the first statement nor a ledger entry survived.
            let status = try await Migrator(database: database, groups: [broken]).status()
            #expect(status.map(\.isApplied) == [false])
            try await database.withTransaction { transaction in
                try await transaction.sql.raw("CREATE TABLE half (id TEXT PRIMARY KEY)").run()
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func concurrentMigratorsApplyEachMigrationExactlyOnce(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withFreshConfiguration(dialect) { configuration in
            // Eight migrators, each with its own connection pool, as separate processes would.
            let results = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await Database.withDatabase(configuration, logger: TestDatabases.logger) { database in
                            try await Migrator(database: database, groups: sampleMigrations).migrate()
                        }
                    }
                }
                return try await group.reduce(into: [[String]]()) { $0.append($1) }
            }
            #expect(results.flatMap { $0 }.sorted() == sampleMigrationNames.sorted())
            try await Database.withDatabase(configuration, logger: TestDatabases.logger) { database in
                let rows = try await database.read { sql in
                    try await sql.raw("SELECT COUNT(*) AS n FROM schema_migrations").first(decoding: Count.self)
                }
                #expect(rows?.n == sampleMigrationNames.count)
            }
        }
    }
}

@Suite struct MigrationDriftTests {
    @Test(arguments: DatabaseDialect.allCases)
    func aShippedMigrationThatWasEditedStopsStartUpNamingItAndAppliesNothing(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect) { database in
            try await Migrator(database: database, groups: Array(sampleMigrations.prefix(1))).migrate()
            let edited = [
                MigrationGroup(module: "alpha", migrations: [
                    Migration("0001_create_widgets", sql: ["CREATE TABLE widgets (id TEXT PRIMARY KEY, name TEXT)"]),
                    Migration("0002_index_widget_names", sql: ["CREATE INDEX widgets_name ON widgets (name)"]),
                ]),
            ] + sampleMigrations.suffix(1)
            let error = await #expect(throws: MigrationDrift.self) { try await Migrator(database: database, groups: edited).migrate() }
            #expect(error?.name == "alpha/0001_create_widgets" && error?.kind == .changed)
            #expect(error?.description.contains("never changes") == true)
            #expect(try await Migrator(database: database, groups: sampleMigrations).status().filter(\.isApplied).count == 2, "nothing applied")
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aShippedMigrationThatWasRenamedStopsStartUp(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect) { database in
            try await Migrator(database: database, groups: sampleMigrations).migrate()
            let renamed = [
                MigrationGroup(module: "alpha", migrations: [
                    sampleMigrations[0].migrations[0],
                    Migration("0003_index_widget_names", sql: ["CREATE INDEX widgets_name ON widgets (name)"]),
                ]),
                sampleMigrations[1],
            ]
            let error = await #expect(throws: MigrationDrift.self) { try await Migrator(database: database, groups: renamed).migrate() }
            #expect(error?.name == "alpha/0002_index_widget_names" && error?.kind == .unknown)
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aLedgerFromBeforeChecksumsGetsThemOnFirstSightAndIsCheckedFromThenOn(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect) { database in
            try await database.withTransaction { transaction in
                try await transaction.sql.raw("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)").run()
                for statement in sampleMigrations[0].migrations[0].statements(transaction.dialect) {
                    try await transaction.sql.raw(SQLQueryString(statement)).run()
                }
                try await transaction.sql.raw("""
                    INSERT INTO schema_migrations (name, applied_at) VALUES ('alpha/0001_create_widgets', \(bind: Date()))
                    """).run()
            }
            #expect(try await Migrator(database: database, groups: sampleMigrations).migrate() == Array(sampleMigrationNames.dropFirst()))
            let recorded = try await database.read { sql in
                try await sql.raw("SELECT checksum FROM schema_migrations WHERE name = 'alpha/0001_create_widgets'").first()?
                    .decode(column: "checksum", as: String?.self)
            }
            #expect(recorded == sampleMigrations[0].migrations[0].checksum(for: dialect))
        }
    }
}

struct Count: Decodable, Sendable {
    let n: Int
}
