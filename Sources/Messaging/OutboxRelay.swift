import BoxofficeKit
import Foundation
import Logging
import Metrics
import Persistence
import SQLKit
import ServiceLifecycle

/// Delivers committed outbox events to in-process subscribers, at least once, in order per
/// aggregate, and marks them delivered.
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
        public var batchSize: Int = 200
        public var maximumAttempts: Int = 10
        public var firstRetryDelay: TimeInterval = 1
        public var maximumRetryDelay: TimeInterval = 300

        public init() {}
    }

    private let database: Database
    private let subscribers: [any EventSubscriber]
    private let clock: any WallClock
    private let configuration: Configuration
    private let logger: Logger
    private let wakeups = WakeSignal()
    private let deliveredCounter: Counter
    private let failureCounter: Counter
    private let deadCounter: Counter
    /// Runs between handing an event to subscribers and marking it delivered. Tests use it to
    /// stop a relay at the worst moment; nothing else sets it.
    let afterDelivery: (@Sendable (EventEnvelope) async throws -> Void)?

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
            database: database, outbox: outbox, subscribers: subscribers, clock: clock,
            configuration: configuration, logger: logger, metrics: metrics, afterDelivery: nil)
    }

    init(
        database: Database,
        outbox: Outbox,
        subscribers: [any EventSubscriber],
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
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
        self.afterDelivery = afterDelivery
        self.deliveredCounter = Counter(label: "boxoffice_outbox_events_delivered_total", factory: metrics)
        self.failureCounter = Counter(label: "boxoffice_outbox_delivery_failures_total", factory: metrics)
        self.deadCounter = Counter(label: "boxoffice_outbox_events_dead_total", factory: metrics)
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
    /// Each subscriber gets the whole batch in one transaction, so a busy outbox costs a few
    /// transactions per batch rather than per event. When a subscriber fails on an event, that
    /// event's failure is recorded (it backs off), it and the later events of its aggregate leave
    /// the batch, and the rest of the batch is delivered again.
    @discardableResult
    public func deliverPending() async throws -> Int {
        let pending = try await fetchDue()
        guard !pending.isEmpty else { return 0 }
        var failed = Set<Int64>()
        func aggregateKey(_ event: EventEnvelope) -> String { "\(event.aggregateType)/\(event.aggregateID)" }
        for subscriber in subscribers {
            let events = pending.map(\.event).filter { subscriber.eventTypes.contains($0.type) }
            guard !events.isEmpty else { continue }
            var remaining = events
            while !remaining.isEmpty {
                do {
                    try await deliver(remaining, to: subscriber)
                    break
                } catch let failure as SubscriberFailure {
                    // A failure no event can be blamed for (the commit, the connection) ends the
                    // pass; the next pass tries again.
                    guard let culprit = failure.event else { throw failure }
                    if failed.insert(culprit.position).inserted, let item = pending.first(where: { $0.event.position == culprit.position }) {
                        try await recordFailure(of: item, error: failure)
                    }
                    let key = aggregateKey(culprit)
                    remaining.removeAll { aggregateKey($0) == key && $0.position >= culprit.position }
                }
            }
        }
        // Delivered: everything except failed events and whatever of their aggregates follows them.
        var delivered: [EventEnvelope] = []
        var stopped = Set<String>()
        for item in pending {
            let key = aggregateKey(item.event)
            if failed.contains(item.event.position) { stopped.insert(key) }
            if stopped.contains(key) { continue }
            delivered.append(item.event)
        }
        for event in delivered { try await afterDelivery?(event) }
        if !delivered.isEmpty {
            let positions = SQLQueryString.list(delivered.map(\.position))
            let now = clock.now()
            try await database.withTransaction { transaction in
                try await transaction.sql
                    .raw("UPDATE outbox SET delivered_at = \(bind: now), last_error = NULL WHERE position IN \(positions)")
                    .run()
            }
            deliveredCounter.increment(by: delivered.count)
        }
        return pending.count
    }

    /// Hands `events` (in order) to `subscriber` in one transaction that also claims each in the
    /// subscriber's inbox; events already claimed are skipped. A batch-handling subscriber gets
    /// them all at once; if that fails, they are handed over again one at a time, so the failure
    /// can be pinned on one event.
    private func deliver(_ events: [EventEnvelope], to subscriber: any EventSubscriber, asBatch: Bool? = nil) async throws {
        let asBatch = asBatch ?? (subscriber.handlesBatches && events.count > 1)
        do {
            try await database.withTransaction { transaction in
                // One statement claims the whole batch in the subscriber's inbox.
                let now = self.clock.now()
                var claim: SQLQueryString = "INSERT INTO inbox (consumer, event_id, processed_at) VALUES "
                for (index, event) in events.enumerated() {
                    if index > 0 { claim += ", " }
                    claim += "(\(bind: subscriber.name), \(bind: event.id), \(bind: now))"
                }
                claim += " ON CONFLICT DO NOTHING RETURNING event_id"
                let claimed = Set(try await transaction.sql.raw(claim).all().map { try $0.decode(column: "event_id", as: String.self) })
                let unhandled = events.filter { claimed.contains($0.id) }
                if asBatch {
                    do {
                        try await subscriber.handle(batch: unhandled, in: transaction)
                    } catch {
                        throw BatchFailure(underlying: error)
                    }
                    return
                }
                for event in unhandled {
                    do {
                        try await subscriber.handle(event, in: transaction)
                    } catch {
                        throw SubscriberFailure(subscriber: subscriber.name, event: event, underlying: error)
                    }
                }
            }
        } catch let failure as SubscriberFailure {
            throw failure
        } catch let failure as BatchFailure {
            logger.debug("batch delivery failed; delivering one at a time", metadata: [
                "subscriber": .string(subscriber.name), "error": .string(String(describing: failure.underlying)),
            ])
            try await deliver(events, to: subscriber, asBatch: false)
        } catch {
            throw SubscriberFailure(subscriber: subscriber.name, event: nil, underlying: error)
        }
    }

    private struct BatchFailure: Error {
        let underlying: any Error
    }

    private func recordFailure(of item: PendingEvent, error: any Error) async throws {
        let attempts = item.attempts + 1
        let now = clock.now()
        let dead = attempts >= configuration.maximumAttempts
        let delay = min(configuration.maximumRetryDelay, configuration.firstRetryDelay * pow(2, Double(attempts - 1)))
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
    private func fetchDue() async throws -> [PendingEvent] {
        let now = clock.now()
        return try await database.read { sql in
            let rows = try await sql.raw("""
                SELECT e.position, e.id, e.event_type, e.aggregate_type, e.aggregate_id, e.payload, e.occurred_at, e.attempts
                FROM outbox e
                WHERE e.delivered_at IS NULL AND e.dead_at IS NULL
                  AND NOT EXISTS (
                    SELECT 1 FROM outbox waiting
                    WHERE waiting.next_attempt_at IS NOT NULL AND waiting.delivered_at IS NULL AND waiting.dead_at IS NULL
                      AND waiting.aggregate_type = e.aggregate_type AND waiting.aggregate_id = e.aggregate_id
                      AND waiting.position <= e.position AND waiting.next_attempt_at > \(bind: now))
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

/// A subscriber threw while handling an event; recorded as the event's `last_error`.
public struct SubscriberFailure: Error, CustomStringConvertible {
    public let subscriber: String
    /// The event the subscriber failed on, when one is to blame.
    public let event: EventEnvelope?
    public let underlying: any Error
    public var description: String { "\(subscriber): \(underlying)" }
}
