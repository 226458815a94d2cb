import BoxofficeKit
import Crypto
import Foundation
import SQLKit

/// Makes a retried request return the first one's response instead of running again.
///
/// The key is claimed inside the transaction that does the work, and the response is stored
/// in the same transaction: the work and its recorded answer commit together or not at all.
/// A concurrent retry's claim waits on the key's unique index until the first transaction ends,
/// then finds the stored answer (or, if the first rolled back, runs the work itself). Failed
/// attempts store nothing, so a retry after a 409 runs again and sees the state of that moment.
public enum IdempotencyKeys {
    /// A response recorded for a key.
    public struct StoredResponse: Sendable {
        public let status: Int
        public let body: String
    }

    /// Claims `key` within `scope` (say, one user's checkouts) for a request whose content is
    /// `request`. Returns nil when this transaction now owns the key (do the work, then
    /// `record`), or the response recorded by the request that used it first. A key reused
    /// with a different request is a 422.
    public static func claim(
        scope: String, key: String, request: some Encodable, now: Date, in transaction: DatabaseTransaction
    ) async throws -> StoredResponse? {
        let fingerprint = try Self.fingerprint(of: request)
        let claimed = try await transaction.sql.raw("""
            INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, created_at)
            VALUES (\(bind: scope), \(bind: key), \(bind: fingerprint), \(bind: now))
            ON CONFLICT DO NOTHING RETURNING idempotency_key
            """).first()
        guard claimed == nil else { return nil }
        guard let row = try await transaction.sql.raw("""
            SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = \(bind: scope) AND idempotency_key = \(bind: key)
            """).first()
        else { throw Problem.conflict(detail: "This Idempotency-Key is being used by another request; retry shortly.", slug: "idempotency-key-in-use") }
        guard try row.decode(column: "fingerprint", as: String.self) == fingerprint else { throw reused }
        guard let status = try row.decode(column: "status", as: Int?.self), let body = try row.decode(column: "body", as: String?.self) else {
            throw Problem.conflict(detail: "This Idempotency-Key is being used by another request; retry shortly.", slug: "idempotency-key-in-use")
        }
        return StoredResponse(status: status, body: body)
    }

    /// The response already recorded for `key`, without claiming it: lets a caller answer a
    /// retry before doing slow work (a call to a payment gateway) it would otherwise repeat.
    public static func recorded(
        scope: String, key: String, request: some Encodable, in sql: any SQLDatabase
    ) async throws -> StoredResponse? {
        guard let row = try await sql.raw("""
            SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = \(bind: scope) AND idempotency_key = \(bind: key)
            """).first()
        else { return nil }
        guard try row.decode(column: "fingerprint", as: String.self) == (try fingerprint(of: request)) else { throw reused }
        guard let status = try row.decode(column: "status", as: Int?.self), let body = try row.decode(column: "body", as: String?.self) else {
            return nil
        }
        return StoredResponse(status: status, body: body)
    }

    private static var reused: Problem {
        Problem(
            type: Problem.typeURI("idempotency-key-reused"), title: "Idempotency-Key reused.", status: 422,
            detail: "This Idempotency-Key was used for a different request; use a new key for a new request.")
    }

    /// Stores the response for a key this transaction claimed.
    public static func record(
        scope: String, key: String, status: Int, body: String, in transaction: DatabaseTransaction
    ) async throws {
        try await transaction.sql.raw("""
            UPDATE idempotency_keys SET status = \(bind: status), body = \(bind: body)
            WHERE scope = \(bind: scope) AND idempotency_key = \(bind: key)
            """).run()
    }

    private static func fingerprint(of request: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return SHA256.hash(data: try encoder.encode(request)).map { String(format: "%02x", $0) }.joined()
    }

    public static let migrations = MigrationGroup(module: "idempotency", migrations: [
        Migration("0001_create_idempotency_keys", sql: [
            """
            CREATE TABLE idempotency_keys (
                scope TEXT NOT NULL,
                idempotency_key TEXT NOT NULL,
                -- SHA-256 of the request's content: the same key with other content is refused.
                fingerprint TEXT NOT NULL,
                status INTEGER,
                body TEXT,
                created_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (scope, idempotency_key)
            )
            """,
        ]),
        Migration("0002_index_idempotency_keys_by_time", sql: [
            "CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)",
        ]),
    ])

    /// A key answers retries for `retention` seconds; a client retrying later than that is
    /// making a new request.
    public static func retentionRule(database: Database, retention: TimeInterval) -> RetentionRule {
        RetentionRule(name: "idempotency_keys") { now, limit in
            try await database.pruneBatch(
                table: "idempotency_keys", key: ["scope", "idempotency_key"], timeColumn: "created_at",
                olderThan: now.addingTimeInterval(-retention), limit: limit)
        }
    }
}
