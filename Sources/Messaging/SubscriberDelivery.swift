import BoxofficeKit
import Logging
import Persistence
import SQLKit

/// Hands events to one subscriber inside a transaction that also claims each event in the
/// subscriber's inbox, so a redelivered event is skipped: at-least-once delivery, exactly-once
/// effect. The outbox relay (embedded) and the stream consumers (Redis) both deliver this way.
struct SubscriberDelivery: Sendable {
    let database: Database
    let clock: any WallClock
    let logger: Logger

    /// Hands `events` (in order) to `subscriber` in one transaction; events already in its inbox
    /// are skipped. A batch-handling subscriber gets them all at once; if that fails, they are
    /// handed over again one at a time, so the failure can be pinned on one event.
    ///
    /// Throws `SubscriberFailure`, naming the event to blame when there is one.
    func deliver(_ events: [EventEnvelope], to subscriber: any EventSubscriber, asBatch: Bool? = nil) async throws {
        guard !events.isEmpty else { return }
        let asBatch = asBatch ?? (subscriber.handlesBatches && events.count > 1)
        do {
            try await database.withTransaction { transaction in
                // One statement claims the whole batch in the subscriber's inbox.
                let now = clock.now()
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

    /// Delivers `events` to `subscriber`, setting aside each event it fails on together with the
    /// later events of that event's aggregate (they must not overtake it), and delivering the
    /// rest. Returns the events it failed on, in order, with their errors. A failure no event can
    /// be blamed for (the database, the commit) is thrown.
    func deliverAroundFailures(
        _ events: [EventEnvelope], to subscriber: any EventSubscriber
    ) async throws -> [(event: EventEnvelope, failure: SubscriberFailure)] {
        try await traced(events, to: subscriber) { try await deliverAroundFailuresUntraced(events, to: subscriber) }
    }

    private func deliverAroundFailuresUntraced(
        _ events: [EventEnvelope], to subscriber: any EventSubscriber
    ) async throws -> [(event: EventEnvelope, failure: SubscriberFailure)] {
        var failures: [(event: EventEnvelope, failure: SubscriberFailure)] = []
        var remaining = events
        while !remaining.isEmpty {
            do {
                try await deliver(remaining, to: subscriber)
                break
            } catch let failure as SubscriberFailure {
                guard let culprit = failure.event else { throw failure }
                failures.append((culprit, failure))
                let key = culprit.aggregateKey
                remaining.removeAll { $0.aggregateKey == key && $0.position >= culprit.position }
            }
        }
        return failures
    }
}

extension EventEnvelope {
    /// Events with the same key are delivered in order, one after the other.
    var aggregateKey: String { "\(aggregateType)/\(aggregateID)" }
}

/// A subscriber threw while handling an event; recorded as the event's `last_error`.
public struct SubscriberFailure: Error, CustomStringConvertible {
    public let subscriber: String
    /// The event the subscriber failed on, when one is to blame.
    public let event: EventEnvelope?
    public let underlying: any Error
    public var description: String { "\(subscriber): \(underlying)" }
}
