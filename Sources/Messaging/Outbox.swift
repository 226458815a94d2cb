import BoxofficeKit
import Foundation
import Persistence
import SQLKit
import Synchronization

/// Writes domain events into the outbox table inside the caller's transaction.
///
/// The event exists exactly when the state change it describes exists: both commit or neither
/// does. The relay delivers it afterwards; a commit wakes the relay at once, so delivery does not
/// wait for the next poll.
public final class Outbox: Sendable {
    private let ids: IDGenerator
    private let clock: any WallClock
    private let listeners = Mutex<[@Sendable () -> Void]>([])

    public init(clock: any WallClock = SystemClock()) {
        self.clock = clock
        self.ids = IDGenerator(clock: clock)
    }

    /// Records `event` in the outbox as part of `transaction`; returns the event's ID.
    @discardableResult
    public func publish<Event: DomainEvent>(_ event: Event, in transaction: DatabaseTransaction) async throws -> String {
        let row = try self.row(for: event, in: transaction)
        try await transaction.sql.raw("INSERT INTO outbox \(unsafeRaw: Self.columns) VALUES (\(row.values))").run()
        return row.id
    }

    /// The columns of an outbox row, for writers that insert it with a prepared statement of
    /// their own (`INSERT INTO outbox (id, event_type, aggregate_type, aggregate_id, payload,
    /// occurred_at, attempts) … 0`). The relay is woken once `transaction` commits.
    public struct Row: Sendable {
        public let id: String
        public let eventType: String
        public let aggregateType: String
        public let aggregateID: String
        public let payload: String
        public let occurredAt: Date

        var values: SQLQueryString {
            "\(bind: id), \(bind: eventType), \(bind: aggregateType), \(bind: aggregateID), \(bind: payload), \(bind: occurredAt), 0"
        }
    }

    private static let columns = "(id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)"

    /// The outbox row for `event`, and a wake-up for the relay once `transaction` commits.
    public func row<Event: DomainEvent>(for event: Event, in transaction: DatabaseTransaction) throws -> Row {
        let row = try self.row(for: event)
        transaction.afterCommit { [self] in wakeRelay() }
        return row
    }

    /// The outbox row for `event`, for a writer that commits it in one statement of its own,
    /// outside `Database.withTransaction`; it calls `wakeRelay()` once that statement committed.
    public func row<Event: DomainEvent>(for event: Event) throws -> Row {
        let payload = try EventCoding.encoder.encode(event)
        return Row(
            id: ids.next(), eventType: Event.eventType, aggregateType: Event.aggregateType, aggregateID: event.aggregateID,
            payload: EventTrace.stamp(String(decoding: payload, as: UTF8.self)), occurredAt: clock.now())
    }

    /// Tells the relay that committed events are waiting, so delivery does not wait for its poll.
    public func wakeRelay() {
        for listener in listeners.withLock({ $0 }) { listener() }
    }

    /// Called after every transaction that published at least one event commits.
    func onCommittedEvents(_ listener: @escaping @Sendable () -> Void) {
        listeners.withLock { $0.append(listener) }
    }

    /// The tables the outbox and its subscribers need.
    public static let migrations = MigrationGroup(module: "messaging", migrations: [
        Migration("0001_create_outbox") { dialect in
            // `position` is the delivery order. Both dialects assign it at insert time, inside
            // the writing transaction, so events of one aggregate (whose writers serialize on
            // the aggregate's row) get increasing positions in commit order.
            let position = dialect == .postgres
                ? "position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
                : "position INTEGER PRIMARY KEY AUTOINCREMENT"
            return [
                """
                CREATE TABLE outbox (
                    \(position),
                    id TEXT NOT NULL UNIQUE,
                    event_type TEXT NOT NULL,
                    aggregate_type TEXT NOT NULL,
                    aggregate_id TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    occurred_at TIMESTAMPTZ NOT NULL,
                    delivered_at TIMESTAMPTZ,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at TIMESTAMPTZ,
                    last_error TEXT,
                    dead_at TIMESTAMPTZ
                )
                """,
                // The relay only ever scans what is still to deliver, in order, and looks up
                // earlier undelivered events of the same aggregate.
                "CREATE INDEX outbox_pending ON outbox (position) WHERE delivered_at IS NULL AND dead_at IS NULL",
                """
                CREATE INDEX outbox_pending_by_aggregate ON outbox (aggregate_type, aggregate_id, position)
                WHERE delivered_at IS NULL AND dead_at IS NULL
                """,
            ]
        },
        Migration("0002_create_inbox", sql: [
            """
            CREATE TABLE inbox (
                consumer TEXT NOT NULL,
                event_id TEXT NOT NULL,
                processed_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (consumer, event_id)
            )
            """,
        ]),
        // The relay's "is an earlier event of this aggregate backing off?" check. Only failed
        // events are in it, so the check stays cheap however far behind the relay is; through
        // the index of every pending event it was quadratic (9 s for 4,700 pending events).
        Migration("0003_index_backing_off_events", sql: [
            """
            CREATE INDEX outbox_backing_off ON outbox (aggregate_type, aggregate_id, position)
            WHERE next_attempt_at IS NOT NULL AND delivered_at IS NULL AND dead_at IS NULL
            """,
        ]),
        // The retention job deletes the inbox's oldest rows first.
        Migration("0004_index_inbox_by_time", sql: [
            "CREATE INDEX inbox_processed ON inbox (processed_at)",
        ]),
        // Prometheus asks every node for the number of dead events at each scrape.
        Migration("0005_index_dead_events", sql: [
            "CREATE INDEX outbox_dead ON outbox (position) WHERE dead_at IS NOT NULL AND delivered_at IS NULL",
        ]),
    ])

    /// Delivered events and the inbox's record of handled ones, kept `retention` seconds.
    /// Events still to deliver, and dead ones (`boxoffice events dlq`), are never pruned; by the
    /// time an event leaves the inbox, nothing can deliver it again (the relay marked it
    /// delivered long before, and Redis Streams trim sooner).
    public static func retentionRules(database: Database, retention: TimeInterval) -> [RetentionRule] {
        [
            RetentionRule(name: "outbox") { now, limit in
                // In delivery order: the oldest delivered rows come first, without an index of their own.
                try await database.pruneBatch(
                    table: "outbox", key: ["position"], timeColumn: "delivered_at", olderThan: now.addingTimeInterval(-retention),
                    orderBy: "position", limit: limit)
            },
            RetentionRule(name: "inbox") { now, limit in
                try await database.pruneBatch(
                    table: "inbox", key: ["consumer", "event_id"], timeColumn: "processed_at", olderThan: now.addingTimeInterval(-retention),
                    limit: limit)
            },
        ]
    }
}
