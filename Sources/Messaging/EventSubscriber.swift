import Persistence

/// Reacts to committed domain events, inside a transaction of its own.
///
/// Delivery is at least once; the relay makes the effect exactly once by recording
/// `(name, event id)` in the `inbox` table in the same transaction as `handle` runs. So a
/// subscriber must keep its effects inside `transaction` (or make them idempotent by event ID).
public protocol EventSubscriber: Sendable {
    /// Stable, unique consumer name, e.g. `catalog.availability`. Renaming it replays history.
    var name: String { get }
    /// The event types it wants; every other event is skipped without a transaction.
    var eventTypes: Set<String> { get }
    /// Whether it wants this event of one of its types: a subscriber that cares about some
    /// events of a type (gateway payments, not wallet ones) says so here, and the others are
    /// skipped without a transaction too. By default, every event of its types.
    func accepts(_ event: EventEnvelope) -> Bool
    func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws
    /// Whether `handle(batch:in:)` folds many events into few statements. At an on-sale the
    /// relay hands over hundreds of events at a time; one statement per event would make the
    /// read models fall behind.
    var handlesBatches: Bool { get }
    /// Handles `events` in order, in one transaction. If it throws, the relay hands the same
    /// events over one at a time, to find the one that fails.
    func handle(batch events: [EventEnvelope], in transaction: DatabaseTransaction) async throws
}

extension EventSubscriber {
    public var handlesBatches: Bool { false }

    public func accepts(_ event: EventEnvelope) -> Bool { true }

    /// The events of `events` this subscriber is to handle, in order.
    public func wanted(_ events: [EventEnvelope]) -> [EventEnvelope] {
        events.filter { eventTypes.contains($0.type) && accepts($0) }
    }

    public func handle(batch events: [EventEnvelope], in transaction: DatabaseTransaction) async throws {
        for event in events { try await handle(event, in: transaction) }
    }
}

/// Takes committed events off the relay's hands and delivers them onwards; once `publish`
/// returns, the events are safe with it (the relay then marks them delivered).
public protocol EventPublisher: Sendable {
    func publish(_ events: [EventEnvelope]) async throws
}
