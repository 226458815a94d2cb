import BoxofficeKit
import Foundation
import Persistence
import SQLKit

/// Server-side session data with an expiry, by key.
///
/// Callers pass a digest of the session token as the key, never the token itself, so whoever
/// can read the store cannot use what is in it. The SQL implementation serves the embedded
/// mode; the Redis one (SET with EX) comes with distributed mode, under the same contract.
public protocol SessionStore: Sendable {
    func save(_ key: String, data: Data, expiresAt: Date) async throws
    /// The data, or nil when the key is unknown or has expired.
    func load(_ key: String) async throws -> Data?
    func delete(_ key: String) async throws
}

/// Sessions in the database: survives restarts, shared by nodes on one PostgreSQL.
public final class SQLSessionStore: SessionStore {
    private let database: Database
    private let clock: any WallClock

    public init(database: Database, clock: any WallClock) {
        self.database = database
        self.clock = clock
    }

    public func save(_ key: String, data: Data, expiresAt: Date) async throws {
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                INSERT INTO sessions (key, data, expires_at) VALUES (\(bind: key), \(bind: String(decoding: data, as: UTF8.self)), \(bind: expiresAt))
                ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at
                """).run()
        }
    }

    /// Expired sessions go, a batch at a time (the retention job), so the table does not grow forever.
    public func retentionRule() -> RetentionRule {
        RetentionRule(name: "sessions") { [database] now, limit in
            try await database.pruneBatch(table: "sessions", key: ["key"], timeColumn: "expires_at", olderThan: now, limit: limit)
        }
    }

    public func load(_ key: String) async throws -> Data? {
        let now = clock.now()
        let text = try await database.read { sql in
            try await sql.raw("SELECT data FROM sessions WHERE key = \(bind: key) AND expires_at > \(bind: now)")
                .first()?.decode(column: "data", as: String.self)
        }
        return text.map { Data($0.utf8) }
    }

    public func delete(_ key: String) async throws {
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("DELETE FROM sessions WHERE key = \(bind: key)").run()
        }
    }

    public static let migrations = MigrationGroup(module: "coordination", migrations: [
        Migration("0001_create_sessions", sql: [
            "CREATE TABLE sessions (key TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)",
            "CREATE INDEX sessions_expiry ON sessions (expires_at)",
        ]),
    ])
}
