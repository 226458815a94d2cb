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
    func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws
}
