import BoxofficeKit
import Foundation
import Persistence
import SQLKit

/// Waiting rooms in the database: SQLite when embedded (places survive a restart), or the
/// PostgreSQL every node shares. Joins to one queue serialize on its settings row.
public final class SQLQueueStore: QueueStore {
    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    public static let migrations = MigrationGroup(module: "waiting_room", migrations: [
        Migration("0001_create_queues", sql: [
            """
            CREATE TABLE queues (
                performance_id TEXT PRIMARY KEY,
                organizer_id TEXT NOT NULL,
                settings TEXT NOT NULL,
                enabled INTEGER NOT NULL,
                closed INTEGER NOT NULL,
                last_sequence INTEGER NOT NULL DEFAULT 0,
                admitted_through INTEGER NOT NULL DEFAULT 0,
                sealed INTEGER NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE queue_places (
                performance_id TEXT NOT NULL,
                fan_id TEXT NOT NULL,
                -- null while the fan waits in the pre-queue
                sequence INTEGER,
                lottery BIGINT NOT NULL,
                joined_at TIMESTAMPTZ NOT NULL,
                last_seen TIMESTAMPTZ NOT NULL,
                -- waiting, admitted, skipped or ended
                state TEXT NOT NULL,
                admitted_at TIMESTAMPTZ,
                session_ends_at TIMESTAMPTZ,
                PRIMARY KEY (performance_id, fan_id)
            )
            """,
            "CREATE UNIQUE INDEX queue_places_sequence ON queue_places (performance_id, sequence)",
            "CREATE INDEX queue_places_state ON queue_places (performance_id, state, sequence)",
            "CREATE INDEX queue_places_admitted ON queue_places (performance_id, admitted_at)",
        ]),
    ])

    private static let coder = (encoder: JSONEncoder(), decoder: JSONDecoder())

    public func saveSettings(_ settings: QueueSettings, performanceID: String) async throws {
        let json = String(decoding: try Self.coder.encoder.encode(settings), as: UTF8.self)
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                INSERT INTO queues (performance_id, organizer_id, settings, enabled, closed)
                VALUES (\(bind: performanceID), \(bind: settings.organizerID), \(bind: json), \(bind: settings.enabled ? 1 : 0), \(bind: settings.closed ? 1 : 0))
                ON CONFLICT (performance_id) DO UPDATE
                SET settings = excluded.settings, enabled = excluded.enabled, closed = excluded.closed
                """).run()
        }
    }

    public func settings(performanceID: String) async throws -> QueueSettings? {
        try await database.read { sql in
            try await sql.raw("SELECT settings FROM queues WHERE performance_id = \(bind: performanceID)").first()
                .map { try Self.decodeSettings(try $0.decode(column: "settings", as: String.self)) }
        }
    }

    public func openQueues() async throws -> [String: QueueSettings] {
        try await database.read { sql in
            let rows = try await sql.raw("SELECT performance_id, settings FROM queues WHERE enabled = 1 AND closed = 0").all()
            var queues: [String: QueueSettings] = [:]
            for row in rows {
                queues[try row.decode(column: "performance_id", as: String.self)] = try Self.decodeSettings(try row.decode(column: "settings", as: String.self))
            }
            return queues
        }
    }

    private static func decodeSettings(_ text: String) throws -> QueueSettings {
        try coder.decoder.decode(QueueSettings.self, from: Data(text.utf8))
    }

    public func join(
        performanceID: String, fanID: String, at: Date, opensAt: Date, lottery: Int64
    ) async throws -> (place: QueuePlace, isNew: Bool) {
        try await database.withTransaction { transaction in
            // One queue's joins take turns on its row, so sequence numbers have no gaps and a fan
            // joining from two tabs at once gets one place.
            let lock = transaction.dialect == .postgres ? " FOR UPDATE" : ""
            guard let queue = try await transaction.sql.raw("""
                SELECT last_sequence, sealed FROM queues WHERE performance_id = \(bind: performanceID)\(unsafeRaw: lock)
                """).first()
            else { throw Problem.notFound(detail: "This performance has no waiting room.") }
            if let existing = try await Self.place(transaction.sql, performanceID: performanceID, fanID: fanID) {
                return (existing, false)
            }
            var sequence: Int?
            if at >= opensAt {
                if try queue.decode(column: "sealed", as: Int.self) == 0 {
                    try await Self.seal(transaction.sql, performanceID: performanceID)
                }
                sequence = try await transaction.sql.raw("""
                    UPDATE queues SET last_sequence = last_sequence + 1 WHERE performance_id = \(bind: performanceID) RETURNING last_sequence
                    """).first()?.decode(column: "last_sequence", as: Int.self)
            }
            try await transaction.sql.raw("""
                INSERT INTO queue_places (performance_id, fan_id, sequence, lottery, joined_at, last_seen, state)
                VALUES (\(bind: performanceID), \(bind: fanID), \(bind: sequence), \(bind: lottery), \(bind: at), \(bind: at), 'waiting')
                """).run()
            return (QueuePlace(sequence: sequence, joinedAt: at), true)
        }
    }

    public func place(performanceID: String, fanID: String) async throws -> QueuePlace? {
        try await database.read { sql in try await Self.place(sql, performanceID: performanceID, fanID: fanID) }
    }

    private static func place(_ sql: any SQLDatabase, performanceID: String, fanID: String) async throws -> QueuePlace? {
        try await sql.raw("""
            SELECT sequence, joined_at FROM queue_places WHERE performance_id = \(bind: performanceID) AND fan_id = \(bind: fanID)
            """).first().map {
            QueuePlace(sequence: try $0.decode(column: "sequence", as: Int?.self), joinedAt: try $0.decode(column: "joined_at", as: Date.self))
        }
    }

    public func seal(performanceID: String) async throws {
        try await database.withTransaction { transaction in
            let lock = transaction.dialect == .postgres ? " FOR UPDATE" : ""
            let sealed = try await transaction.sql.raw("""
                SELECT sealed FROM queues WHERE performance_id = \(bind: performanceID)\(unsafeRaw: lock)
                """).first()?.decode(column: "sealed", as: Int.self)
            guard sealed == 0 else { return }
            try await Self.seal(transaction.sql, performanceID: performanceID)
        }
    }

    /// Numbers the pre-queue 1…n in lottery order (before anyone joined after opening, so the
    /// numbers are free), inside the caller's transaction, which holds the queue's row.
    private static func seal(_ sql: any SQLDatabase, performanceID: String) async throws {
        try await sql.raw("""
            UPDATE queue_places SET sequence = drawn.n
            FROM (SELECT fan_id, ROW_NUMBER() OVER (ORDER BY lottery, fan_id) AS n
                  FROM queue_places WHERE performance_id = \(bind: performanceID) AND sequence IS NULL) AS drawn
            WHERE queue_places.performance_id = \(bind: performanceID) AND queue_places.fan_id = drawn.fan_id
            """).run()
        try await sql.raw("""
            UPDATE queues SET sealed = 1,
                last_sequence = (SELECT COUNT(*) FROM queue_places WHERE performance_id = \(bind: performanceID))
            WHERE performance_id = \(bind: performanceID)
            """).run()
    }

    public func counters(performanceIDs: [String]) async throws -> [String: QueueCounters] {
        guard !performanceIDs.isEmpty else { return [:] }
        return try await database.read { sql in
            let rows = try await sql.raw("""
                SELECT performance_id, last_sequence, admitted_through, sealed FROM queues
                WHERE performance_id IN \(SQLQueryString.list(performanceIDs))
                """).all()
            var counters: [String: QueueCounters] = [:]
            for row in rows {
                counters[try row.decode(column: "performance_id", as: String.self)] = QueueCounters(
                    lastSequence: try row.decode(column: "last_sequence", as: Int.self),
                    admittedThrough: try row.decode(column: "admitted_through", as: Int.self),
                    sealed: try row.decode(column: "sealed", as: Int.self) == 1)
            }
            return counters
        }
    }

    public func touch(performanceID: String, fanIDs: [String], at: Date) async throws {
        guard !fanIDs.isEmpty else { return }
        try await database.withTransaction { transaction in
            for batch in fanIDs.chunked(500) {
                try await transaction.sql.raw("""
                    UPDATE queue_places SET last_seen = \(bind: at)
                    WHERE performance_id = \(bind: performanceID) AND state = 'waiting' AND fan_id IN \(SQLQueryString.list(Array(batch)))
                    """).run()
            }
        }
    }

    public func waiting(performanceID: String, after: Int, limit: Int) async throws -> [WaitingFan] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT sequence, fan_id, last_seen FROM queue_places
                WHERE performance_id = \(bind: performanceID) AND sequence > \(bind: after) AND state = 'waiting'
                ORDER BY sequence LIMIT \(bind: limit)
                """).all().map {
                WaitingFan(
                    sequence: try $0.decode(column: "sequence", as: Int.self), fanID: try $0.decode(column: "fan_id", as: String.self),
                    lastSeen: try $0.decode(column: "last_seen", as: Date.self))
            }
        }
    }

    public func recordGateStep(
        performanceID: String, admitted: [String], skipped: [String], through: Int, at: Date, sessionEndsAt: Date
    ) async throws {
        try await database.withTransaction { transaction in
            for batch in admitted.chunked(500) {
                try await transaction.sql.raw("""
                    UPDATE queue_places SET state = 'admitted', admitted_at = \(bind: at), session_ends_at = \(bind: sessionEndsAt)
                    WHERE performance_id = \(bind: performanceID) AND fan_id IN \(SQLQueryString.list(Array(batch)))
                    """).run()
            }
            for batch in skipped.chunked(500) {
                try await transaction.sql.raw("""
                    UPDATE queue_places SET state = 'skipped'
                    WHERE performance_id = \(bind: performanceID) AND fan_id IN \(SQLQueryString.list(Array(batch)))
                    """).run()
            }
            try await transaction.sql.raw("""
                UPDATE queues SET admitted_through = \(bind: through) WHERE performance_id = \(bind: performanceID) AND admitted_through < \(bind: through)
                """).run()
        }
    }

    public func outcome(performanceID: String, fanID: String) async throws -> GateOutcome? {
        try await database.read { sql in
            guard let row = try await sql.raw("""
                SELECT state, session_ends_at FROM queue_places WHERE performance_id = \(bind: performanceID) AND fan_id = \(bind: fanID)
                """).first()
            else { return nil }
            switch try row.decode(column: "state", as: String.self) {
            case "skipped": return .skipped
            case "admitted", "ended":
                guard let ends = try row.decode(column: "session_ends_at", as: Date?.self) else { return nil }
                return .admitted(sessionEndsAt: ends, ended: try row.decode(column: "state", as: String.self) == "ended")
            default: return nil
            }
        }
    }

    public func endExpiredSessions(performanceID: String, at: Date) async throws -> [String] {
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                UPDATE queue_places SET state = 'ended'
                WHERE performance_id = \(bind: performanceID) AND state = 'admitted' AND session_ends_at <= \(bind: at)
                RETURNING fan_id
                """).all().map { try $0.decode(column: "fan_id", as: String.self) }
        }
    }

    public func endSessions(performanceID: String, fanIDs: [String]) async throws -> [String] {
        guard !fanIDs.isEmpty else { return [] }
        return try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                UPDATE queue_places SET state = 'ended'
                WHERE performance_id = \(bind: performanceID) AND fan_id IN \(SQLQueryString.list(fanIDs)) AND state = 'admitted'
                RETURNING fan_id
                """).all().map { try $0.decode(column: "fan_id", as: String.self) }
        }
    }

    public func admissions(performanceID: String, since: Date) async throws -> Int {
        try await database.read { sql in
            try await sql.raw("""
                SELECT COUNT(*) AS n FROM queue_places WHERE performance_id = \(bind: performanceID) AND admitted_at >= \(bind: since)
                """).first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    public func figures(
        performanceID: String, at: Date, seenSince: Date, admittedSince: Date
    ) async throws -> (waiting: Int, abandoned: Int, active: Int, admitted: Int) {
        try await database.read { sql in
            let row = try await sql.raw("""
                SELECT
                    (SELECT COUNT(*) FROM queue_places WHERE performance_id = \(bind: performanceID) AND state = 'waiting') AS waiting,
                    (SELECT COUNT(*) FROM queue_places WHERE performance_id = \(bind: performanceID) AND state = 'waiting'
                        AND last_seen < \(bind: seenSince)) AS abandoned,
                    (SELECT COUNT(*) FROM queue_places WHERE performance_id = \(bind: performanceID) AND state = 'admitted'
                        AND session_ends_at > \(bind: at)) AS active,
                    (SELECT COUNT(*) FROM queue_places WHERE performance_id = \(bind: performanceID)
                        AND admitted_at >= \(bind: admittedSince)) AS admitted
                """).first()
            let waiting = try row?.decode(column: "waiting", as: Int.self) ?? 0
            let abandoned = try row?.decode(column: "abandoned", as: Int.self) ?? 0
            return (waiting - abandoned, abandoned, try row?.decode(column: "active", as: Int.self) ?? 0,
                    try row?.decode(column: "admitted", as: Int.self) ?? 0)
        }
    }
}
