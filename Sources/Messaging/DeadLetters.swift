import BoxofficeKit
import Foundation
import Persistence
import SQLKit

/// An event set aside after it failed too often, for an operator to replay or drop.
public struct DeadLetter: Sendable, Equatable {
    /// What `replay` and `drop` take.
    public let id: String
    public let eventID: String
    public let eventType: String
    public let aggregate: String
    /// The stream it came from (Redis), or nil (the outbox).
    public let topic: String?
    /// The consumer group that failed on it (Redis); the outbox's error names the subscriber.
    public let group: String?
    public let error: String
    public let attempts: Int
    public let failedAt: Date?
}

/// Where dead letters are kept: dead outbox rows (embedded) or `dlq.<topic>` streams (Redis).
public protocol DeadLetterStore: Sendable {
    /// The oldest first.
    func list(limit: Int) async throws -> [DeadLetter]
    /// Delivers the event again (to every subscriber; those that handled it skip it). False when
    /// there is no such dead letter.
    func replay(_ id: String) async throws -> Bool
    /// Gives up on the event for good. False when there is no such dead letter.
    func drop(_ id: String) async throws -> Bool
}

/// Dead letters of the embedded relay: outbox rows it set aside.
public struct OutboxDeadLetters: DeadLetterStore {
    private let database: Database
    private let clock: any WallClock

    public init(database: Database, clock: any WallClock = SystemClock()) {
        self.database = database
        self.clock = clock
    }

    public func list(limit: Int) async throws -> [DeadLetter] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT id, event_type, aggregate_type, aggregate_id, last_error, attempts, dead_at FROM outbox
                WHERE dead_at IS NOT NULL AND delivered_at IS NULL ORDER BY position LIMIT \(bind: limit)
                """).all().map { row in
                let id = try row.decode(column: "id", as: String.self)
                return DeadLetter(
                    id: id, eventID: id, eventType: try row.decode(column: "event_type", as: String.self),
                    aggregate: "\(try row.decode(column: "aggregate_type", as: String.self))/\(try row.decode(column: "aggregate_id", as: String.self))",
                    topic: nil, group: nil, error: try row.decode(column: "last_error", as: String?.self) ?? "",
                    attempts: try row.decode(column: "attempts", as: Int.self), failedAt: try row.decode(column: "dead_at", as: Date?.self))
            }
        }
    }

    public func replay(_ id: String) async throws -> Bool {
        try await update(id, set: "dead_at = NULL, attempts = 0, next_attempt_at = NULL")
    }

    public func drop(_ id: String) async throws -> Bool {
        try await update(id, set: "delivered_at = \(bind: clock.now())")
    }

    private func update(_ id: String, set assignments: SQLQueryString) async throws -> Bool {
        try await database.withTransaction { transaction in
            let rows = try await transaction.sql.raw("""
                UPDATE outbox SET \(assignments) WHERE id = \(bind: id) AND dead_at IS NOT NULL AND delivered_at IS NULL RETURNING id
                """).all()
            return !rows.isEmpty
        }
    }

    /// How far behind the relay is: events not yet delivered (or published), the oldest one's
    /// age, and how many are set aside.
    public func outboxStats() async throws -> (pending: Int, oldestPendingSeconds: Double?, dead: Int) {
        let now = clock.now()
        return try await database.read { sql in
            let row = try await sql.raw("""
                SELECT
                    (SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL) AS pending,
                    (SELECT occurred_at FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL ORDER BY position LIMIT 1) AS oldest,
                    (SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND dead_at IS NOT NULL) AS dead
                """).first()
            let oldest = try row?.decode(column: "oldest", as: Date?.self)
            return (
                try row?.decode(column: "pending", as: Int.self) ?? 0, oldest.map { now.timeIntervalSince($0) },
                try row?.decode(column: "dead", as: Int.self) ?? 0
            )
        }
    }
}
