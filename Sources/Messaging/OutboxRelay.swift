import BoxofficeKit
import Foundation
import Logging
import Metrics
import Persistence
import SQLKit
import ServiceLifecycle

/// Delivers committed outbox events, at least once, in order per aggregate, and marks them
/// delivered: to in-process subscribers (one node, the embedded mode), or to an event bus that
/// delivers them onwards (Redis Streams, several nodes).
///
/// Events still undelivered when a process stops are delivered by the next relay that runs.
/// Several relays over one database are safe: a subscriber's inbox row is claimed inside its
/// handling transaction, so the second relay to reach an event waits for, then skips, the first.
/// A failing delivery is retried with exponential back-off while later events of the same
/// aggregate wait behind it; after `maximumAttempts` it is set aside (`dead_at`) and logged.
public final class OutboxRelay: Service {
    public struct Configuration: Sendable {
        /// How often to look for work when no commit has signalled any.
        public var pollInterval: Duration = .milliseconds(500)
        /// How long a woken relay lets further commits gather before a pass, so that under load
        /// one pass (a few transactions) delivers many events instead of one.
        public var gatherDelay: Duration = .milliseconds(10)
        /// Events per pass. At 200 the relay fell seconds behind 3,000 holds a second
        /// (Benchmarks/README.md); a pass costs a few transactions whatever its size.
        public var batchSize: Int = 500
        public var maximumAttempts: Int = 10
        public var firstRetryDelay: TimeInterval = 1
        public var maximumRetryDelay: TimeInterval = 300

        public init() {}

        /// How long to wait before the attempt after `attempts` failed ones.
        func retryDelay(afterAttempts attempts: Int) -> TimeInterval {
            min(maximumRetryDelay, firstRetryDelay * pow(2, Double(max(0, attempts - 1))))
        }
    }

    private let database: Database
    private let subscribers: [any EventSubscriber]
    /// Set when events go to a bus instead of to `subscribers`.
    private let publisher: (any EventPublisher)?
    private let delivery: SubscriberDelivery
    private let clock: any WallClock
    private let configuration: Configuration
    private let logger: Logger
    private let wakeups = WakeSignal()
    private let deliveredCounter: Counter
    private let failureCounter: Counter
    private let deadCounter: Counter
    private let metrics: any MetricsFactory
    /// Runs between handing an event over and marking it delivered. Tests use it to stop a
    /// relay at the worst moment; nothing else sets it.
    let afterDelivery: (@Sendable (EventEnvelope) async throws -> Void)?

    /// A relay that delivers to `subscribers` in this process.
    public convenience init(
        database: Database,
        outbox: Outbox,
        subscribers: [any EventSubscriber],
        clock: any WallClock = SystemClock(),
        configuration: Configuration = Configuration(),
        logger: Logger,
        metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.init(
            database: database, outbox: outbox, subscribers: subscribers, publisher: nil, clock: clock,
            configuration: configuration, logger: logger, metrics: metrics, afterDelivery: nil)
    }

    /// A relay that hands every event to `publisher` (an event bus), in outbox order.
    public convenience init(
        database: Database,
        outbox: Outbox,
        publisher: any EventPublisher,
        clock: any WallClock = SystemClock(),
        configuration: Configuration = Configuration(),
        logger: Logger,
        metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.init(
            database: database, outbox: outbox, subscribers: [], publisher: publisher, clock: clock,
            configuration: configuration, logger: logger, metrics: metrics, afterDelivery: nil)
    }

    init(
        database: Database,
        outbox: Outbox,
        subscribers: [any EventSubscriber],
        publisher: (any EventPublisher)? = nil,
        clock: any WallClock,
        configuration: Configuration,
        logger: Logger,
        metrics: any MetricsFactory,
        afterDelivery: (@Sendable (EventEnvelope) async throws -> Void)?
    ) {
        let names = subscribers.map(\.name)
        precondition(Set(names).count == names.count, "subscriber names must be unique: \(names)")
        self.database = database
        self.subscribers = subscribers
        self.publisher = publisher
        self.delivery = SubscriberDelivery(database: database, clock: clock, logger: logger)
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
        self.afterDelivery = afterDelivery
        self.deliveredCounter = Counter(label: "boxoffice_outbox_events_delivered_total", factory: metrics)
        self.failureCounter = Counter(label: "boxoffice_outbox_delivery_failures_total", factory: metrics)
        self.deadCounter = Counter(label: "boxoffice_outbox_events_dead_total", factory: metrics)
        self.metrics = metrics
        outbox.onCommittedEvents { [wakeups] in wakeups.signal() }
    }

    /// Delivers until graceful shutdown or cancellation. Undelivered events stay in the outbox.
    public func run() async throws {
        logger.debug("outbox relay started", metadata: ["subscribers": .string(subscribers.map(\.name).joined(separator: ","))])
        await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                var fetched = 0
                do {
                    fetched = try await deliverPending()
                } catch where Task.isCancelled {
                    break
                } catch {
                    logger.error("outbox relay pass failed", metadata: ["error": .string(String(describing: error))])
                }
                // A full batch means more may be due, so go again at once; otherwise sleep until
                // a commit signals new events or the poll interval passes.
                if fetched < configuration.batchSize {
                    await wakeups.wait(upTo: configuration.pollInterval)
                    try? await Task.sleep(for: configuration.gatherDelay)
                }
            }
        }
        logger.debug("outbox relay stopped")
    }

    /// One pass over the events that are due; returns how many it fetched (a full batch means
    /// there may be more).
    ///
    /// With a publisher, the batch goes to the bus in one call and is then marked delivered
    /// (published twice if the relay dies in between; consumers' inboxes make that harmless).
    /// Otherwise each subscriber gets the whole batch in one transaction, so a busy outbox costs
    /// a few transactions per batch rather than per event. When a subscriber fails on an event,
    /// that event's failure is recorded (it backs off), it and the later events of its aggregate
    /// leave the batch, and the rest of the batch is delivered again.
    @discardableResult
    public func deliverPending() async throws -> Int {
        let pending = try await fetchDue()
        guard !pending.isEmpty else { return 0 }
        if let publisher {
            try await publisher.publish(pending.map(\.event))
            for item in pending { try await afterDelivery?(item.event) }
            try await markDelivered(pending.map(\.event))
            return pending.count
        }
        var failed = Set<Int64>()
        for subscriber in subscribers {
            let events = subscriber.wanted(pending.map(\.event))
            for (culprit, failure) in try await delivery.deliverAroundFailures(events, to: subscriber) {
                if failed.insert(culprit.position).inserted, let item = pending.first(where: { $0.event.position == culprit.position }) {
                    try await recordFailure(of: item, error: failure)
                }
            }
        }
        // Delivered: everything except failed events and whatever of their aggregates follows them.
        var delivered: [EventEnvelope] = []
        var stopped = Set<String>()
        for item in pending {
            if failed.contains(item.event.position) { stopped.insert(item.event.aggregateKey) }
            if stopped.contains(item.event.aggregateKey) { continue }
            delivered.append(item.event)
        }
        for event in delivered { try await afterDelivery?(event) }
        try await markDelivered(delivered)
        return pending.count
    }

    private func markDelivered(_ events: [EventEnvelope]) async throws {
        guard !events.isEmpty else { return }
        let positions = SQLQueryString.list(events.map(\.position))
        let now = clock.now()
        try await database.withTransaction { transaction in
            try await transaction.sql
                .raw("UPDATE outbox SET delivered_at = \(bind: now), last_error = NULL WHERE position IN \(positions)")
                .run()
        }
        deliveredCounter.increment(by: events.count)
        // What the on-sale is doing, as the events tell it (holds placed, orders paid, …), once
        // per event however many subscribers or nodes it reaches.
        for (type, ofType) in Dictionary(grouping: events, by: \.type) {
            Counter(label: "boxoffice_events_published_total", dimensions: [("type", type)], factory: metrics).increment(by: ofType.count)
        }
    }

    private func recordFailure(of item: PendingEvent, error: any Error) async throws {
        let attempts = item.attempts + 1
        let now = clock.now()
        let dead = attempts >= configuration.maximumAttempts
        let delay = configuration.retryDelay(afterAttempts: attempts)
        let message = String(String(describing: error).prefix(2000))
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                UPDATE outbox
                SET attempts = \(bind: attempts), last_error = \(bind: message),
                    next_attempt_at = \(bind: now.addingTimeInterval(delay)), dead_at = \(bind: dead ? now : nil)
                WHERE position = \(bind: item.event.position)
                """).run()
        }
        failureCounter.increment()
        var metadata: Logger.Metadata = [
            "event_id": .string(item.event.id), "event_type": .string(item.event.type),
            "attempts": .stringConvertible(attempts), "error": .string(message),
        ]
        if dead {
            deadCounter.increment()
            logger.error("outbox event set aside after repeated failures", metadata: metadata)
        } else {
            metadata["retry_in_seconds"] = .stringConvertible(delay)
            logger.warning("outbox delivery failed; will retry", metadata: metadata)
        }
    }

    private struct PendingEvent: Sendable {
        let event: EventEnvelope
        let attempts: Int
    }

    /// Undelivered events in outbox order, leaving out any event that is backing off after a
    /// failure and every later event of the same aggregate (they must not overtake it). Doing
    /// this in SQL keeps one stuck aggregate from filling every batch and starving the rest.
    ///
    /// The aggregates backing off are found once per fetch (`MATERIALIZED`), and the batch is
    /// checked against that short list. As a correlated `NOT EXISTS` over the outbox, PostgreSQL
    /// planned the check as a scan of every pending event for each event of the batch whenever
    /// its statistics predated the rush (they always do): 220 ms a fetch with a few thousand
    /// events pending, the relay then falling further behind with every pass; now about 1 ms.
    private func fetchDue() async throws -> [PendingEvent] {
        let now = clock.now()
        return try await database.read { sql in
            let rows = try await sql.raw("""
                WITH backing_off AS MATERIALIZED (
                    SELECT aggregate_type, aggregate_id, MIN(position) AS from_position FROM outbox
                    WHERE next_attempt_at IS NOT NULL AND delivered_at IS NULL AND dead_at IS NULL AND next_attempt_at > \(bind: now)
                    GROUP BY aggregate_type, aggregate_id)
                SELECT e.position, e.id, e.event_type, e.aggregate_type, e.aggregate_id, e.payload, e.occurred_at, e.attempts
                FROM outbox e
                WHERE e.delivered_at IS NULL AND e.dead_at IS NULL
                  AND NOT EXISTS (
                    SELECT 1 FROM backing_off b
                    WHERE b.aggregate_type = e.aggregate_type AND b.aggregate_id = e.aggregate_id AND b.from_position <= e.position)
                ORDER BY e.position
                LIMIT \(bind: configuration.batchSize)
                """).all()
            return try rows.map { row in
                PendingEvent(
                    event: EventEnvelope(
                        id: try row.decode(column: "id", as: String.self),
                        type: try row.decode(column: "event_type", as: String.self),
                        aggregateType: try row.decode(column: "aggregate_type", as: String.self),
                        aggregateID: try row.decode(column: "aggregate_id", as: String.self),
                        occurredAt: try row.decode(column: "occurred_at", as: Date.self),
                        payload: Data(try row.decode(column: "payload", as: String.self).utf8),
                        position: try row.decode(column: "position", as: Int64.self)),
                    attempts: try row.decode(column: "attempts", as: Int.self))
            }
        }
    }
}
