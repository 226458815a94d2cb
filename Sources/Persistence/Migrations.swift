import BoxofficeKit
import Crypto
import Foundation
import Logging
import SQLKit

/// One versioned change to the schema, owned by the module whose tables it touches.
public struct Migration: Sendable {
    /// Ordered within its module: `0001_create_outbox`. Never rename or edit one that shipped;
    /// add a new one instead.
    public let id: String
    /// The statements for each dialect, run in order in one transaction.
    public let statements: @Sendable (DatabaseDialect) -> [String]

    public init(_ id: String, statements: @escaping @Sendable (DatabaseDialect) -> [String]) {
        self.id = id
        self.statements = statements
    }

    /// A migration whose SQL is the same in both dialects.
    public init(_ id: String, sql: [String]) {
        self.init(id) { _ in sql }
    }

    /// SHA-256 of the statements as they run on `dialect`: recorded when applied, compared at
    /// every start, so a shipped migration that was edited is caught instead of silently
    /// leaving databases that ran the old text different from new ones.
    public func checksum(for dialect: DatabaseDialect) -> String {
        SHA256.hash(data: Data(statements(dialect).joined(separator: "\n;\n").utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// The database's record of applied migrations disagrees with the code: start-up stops.
public struct MigrationDrift: Error, CustomStringConvertible {
    public enum Kind: Sendable {
        /// Applied with other SQL than the code has now.
        case changed
        /// Applied under a name the code no longer has (renamed or removed).
        case unknown
    }

    public let name: String
    public let kind: Kind

    public var description: String {
        switch kind {
        case .changed:
            "migration \(name) was changed after it was applied (its checksum differs); a shipped migration never changes: restore it and add a new one"
        case .unknown:
            "migration \(name) is applied in the database but unknown to this build (renamed or removed after it shipped); restore it under its old name"
        }
    }
}

/// A module's migrations, in the order they must run. The composition root lists the groups.
public struct MigrationGroup: Sendable {
    public let module: String
    public let migrations: [Migration]

    public init(module: String, migrations: [Migration]) {
        self.module = module
        self.migrations = migrations
    }
}

/// Where one migration stands.
public struct MigrationStatus: Sendable, Equatable {
    /// `module/id`, the key recorded in `schema_migrations`.
    public let name: String
    public let appliedAt: Date?

    public var isApplied: Bool { appliedAt != nil }
}

/// Applies migrations and records them in `schema_migrations`.
///
/// Safe to run from several processes at once: on PostgreSQL an advisory lock lets one migrator
/// work while the others wait and then find nothing left to do; on SQLite each migration's
/// check-and-apply happens inside one write transaction, which the file lock serializes.
public struct Migrator: Sendable {
    private let database: Database
    private let groups: [MigrationGroup]
    private let clock: any WallClock

    /// Arbitrary but fixed: the key of the PostgreSQL advisory lock migrators share.
    static let advisoryLockKey: Int64 = 0x626F_786F_6666_6963  // "boxoffic"

    public init(database: Database, groups: [MigrationGroup], clock: any WallClock = SystemClock()) {
        self.database = database
        self.groups = groups
        self.clock = clock
        let names = groups.flatMap { group in group.migrations.map { "\(group.module)/\($0.id)" } }
        precondition(Set(names).count == names.count, "duplicate migration names: \(names)")
    }

    private var ordered: [(name: String, migration: Migration)] {
        groups.flatMap { group in group.migrations.map { ("\(group.module)/\($0.id)", $0) } }
    }

    /// Every known migration, applied or not, in the order they run.
    public func status() async throws -> [MigrationStatus] {
        let applied = try await withLock { session in try await Self.appliedMigrations(session.sql) }
        return ordered.map { MigrationStatus(name: $0.name, appliedAt: applied[$0.name]) }
    }

    /// Applies every pending migration; returns the names it applied (empty when up to date).
    /// First checks that every applied migration is still the one the code has
    /// (`MigrationDrift` otherwise, and nothing is applied).
    @discardableResult
    public func migrate() async throws -> [String] {
        try await withLock { session in
            try await verifyApplied(in: session)
            return try await apply(in: session)
        }
    }

    /// Compares each applied migration's recorded checksum with the code's. One applied before
    /// checksums were kept has its checksum recorded now, on first sight.
    private func verifyApplied(in session: DatabaseSession) async throws {
        let known = Dictionary(uniqueKeysWithValues: ordered.map { ($0.name, $0.migration) })
        let rows = try await session.sql.raw("SELECT name, checksum FROM schema_migrations ORDER BY name").all()
        for row in rows {
            let name = try row.decode(column: "name", as: String.self)
            guard let migration = known[name] else { throw MigrationDrift(name: name, kind: .unknown) }
            let expected = migration.checksum(for: session.dialect)
            guard let recorded = try row.decode(column: "checksum", as: String?.self) else {
                try await session.sql.raw("UPDATE schema_migrations SET checksum = \(bind: expected) WHERE name = \(bind: name)").run()
                continue
            }
            guard recorded == expected else { throw MigrationDrift(name: name, kind: .changed) }
        }
    }

    /// Holds the migrators' lock for `body`, with the ledger table in place. The ledger is
    /// created under the lock because two concurrent `CREATE TABLE IF NOT EXISTS` can collide
    /// on PostgreSQL.
    private func withLock<Result: Sendable>(_ body: (DatabaseSession) async throws -> Result) async throws -> Result {
        try await database.withSession { session in
            guard session.dialect == .postgres else {
                try await Self.ensureLedger(session)
                return try await body(session)
            }
            try await session.sql.raw("SELECT pg_advisory_lock(\(bind: Self.advisoryLockKey))").run()
            do {
                try await Self.ensureLedger(session)
                let result = try await body(session)
                try await session.sql.raw("SELECT pg_advisory_unlock(\(bind: Self.advisoryLockKey))").run()
                return result
            } catch {
                try? await session.sql.raw("SELECT pg_advisory_unlock(\(bind: Self.advisoryLockKey))").run()
                throw error
            }
        }
    }

    private func apply(in session: DatabaseSession) async throws -> [String] {
        var appliedNow: [String] = []
        for (name, migration) in ordered {
            let didApply = try await session.withTransaction { transaction in
                // Checked inside the write transaction, so a concurrent SQLite migrator that
                // got there first is seen and this one does nothing.
                let done = try await transaction.sql
                    .raw("SELECT name FROM schema_migrations WHERE name = \(bind: name)")
                    .first()
                guard done == nil else { return false }
                for statement in migration.statements(session.dialect) {
                    try await transaction.sql.raw(SQLQueryString(statement)).run()
                }
                try await transaction.sql.raw("""
                    INSERT INTO schema_migrations (name, applied_at, checksum)
                    VALUES (\(bind: name), \(bind: clock.now()), \(bind: migration.checksum(for: session.dialect)))
                    """).run()
                return true
            }
            if didApply {
                database.logger.info("applied migration", metadata: ["migration": .string(name)])
                appliedNow.append(name)
            }
        }
        return appliedNow
    }

    private static func ensureLedger(_ session: DatabaseSession) async throws {
        try await session.sql.raw("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                name TEXT PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL,
                checksum TEXT
            )
            """).run()
        // A ledger from before checksums were kept gains the column (the ledger itself is not migrated).
        switch session.dialect {
        case .postgres:
            try await session.sql.raw("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum TEXT").run()
        case .sqlite:
            let columns = try await session.sql.raw("SELECT name FROM pragma_table_info('schema_migrations')").all()
                .map { try $0.decode(column: "name", as: String.self) }
            if !columns.contains("checksum") { try await session.sql.raw("ALTER TABLE schema_migrations ADD COLUMN checksum TEXT").run() }
        }
    }

    private static func appliedMigrations(_ sql: any SQLDatabase) async throws -> [String: Date] {
        let rows = try await sql.raw("SELECT name, applied_at FROM schema_migrations").all()
        var applied: [String: Date] = [:]
        for row in rows {
            applied[try row.decode(column: "name", as: String.self)] = try row.decode(column: "applied_at", as: Date.self)
        }
        return applied
    }
}
