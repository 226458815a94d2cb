import BoxofficeKit
import Foundation
import Logging
import Messaging
import Metrics
import Persistence
import ServiceLifecycle
import Synchronization

/// Lets fans in, in order. One node runs it at a time (a lease); each step, for every open
/// queue, it ends shopping sessions that ran out, then admits the next fans in line as long as
/// all of these hold:
/// - no more than `admitPerMinute` admissions in any sixty seconds, spread over the minute;
/// - active shoppers stay at or under `maxActiveShoppers`;
/// - fans shopping never outnumber the seats or units left to buy (when everything is sold or
///   held the gate waits, and goes on as holds expire or are released and sessions end).
/// Fans who stopped polling when their turn came are skipped, not admitted.
public final class QueueGate: Service {
    private let service: WaitingRoomService
    private let interval: Duration
    private let metrics: any MetricsFactory
    /// Admissions each queue may still make before the minute's pace allows more.
    private let allowance = Mutex<[String: (tokens: Double, at: Date)]>([:])

    /// `metrics` receives each queue's live figures (`boxoffice_queue_*`, by performance) from
    /// whichever node runs the gate.
    public init(service: WaitingRoomService, interval: Duration = .milliseconds(250), metrics: any MetricsFactory = MetricsSystem.factory) {
        self.service = service
        self.interval = interval
        self.metrics = metrics
    }

    private func record(
        _ performanceID: String, figures: (waiting: Int, abandoned: Int, active: Int, admitted: Int), available: Int,
        admitted: Int, skipped: Int
    ) {
        let dimensions = [("performance", performanceID)]
        Gauge(label: "boxoffice_queue_waiting", dimensions: dimensions, factory: metrics).record(figures.waiting)
        Gauge(label: "boxoffice_queue_abandoned", dimensions: dimensions, factory: metrics).record(figures.abandoned)
        Gauge(label: "boxoffice_queue_active_shoppers", dimensions: dimensions, factory: metrics).record(figures.active + admitted)
        Gauge(label: "boxoffice_queue_admitted_last_minute", dimensions: dimensions, factory: metrics).record(figures.admitted + admitted)
        Gauge(label: "boxoffice_queue_available_units", dimensions: dimensions, factory: metrics).record(available)
        // Incremented by nothing too, so each queue's counters exist from its first step and
        // rates over them start at 0 rather than at no data.
        Counter(label: "boxoffice_queue_admitted_total", dimensions: dimensions, factory: metrics).increment(by: admitted)
        Counter(label: "boxoffice_queue_abandoned_total", dimensions: dimensions, factory: metrics).increment(by: skipped)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                do {
                    try await step()
                } catch where Task.isCancelled {
                    break
                } catch {
                    service.logger.error("waiting-room gate step failed", metadata: ["error": .string(String(describing: error))])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One step over every open queue; returns how many fans it admitted.
    @discardableResult
    public func step() async throws -> Int {
        var admittedCount = 0
        for (performanceID, settings) in try await service.store.openQueues().sorted(by: { $0.key < $1.key }) {
            admittedCount += try await step(performanceID, settings)
        }
        return admittedCount
    }

    private func step(_ performanceID: String, _ settings: QueueSettings) async throws -> Int {
        let store = service.store
        let now = service.clock.now()
        guard now >= settings.opensAt else { return 0 }
        var counters = try await store.counters(performanceIDs: [performanceID])[performanceID]
            ?? QueueCounters(lastSequence: 0, admittedThrough: 0, sealed: false)
        if !counters.sealed {
            try await store.seal(performanceID: performanceID)
            counters = try await store.counters(performanceIDs: [performanceID])[performanceID] ?? counters
        }
        let ended = try await store.endExpiredSessions(performanceID: performanceID, at: now)
        guard !settings.paused else {
            if !ended.isEmpty {
                try await service.publish([QueueExpired(performanceId: performanceID, abandonedFanIds: [], sessionEndedFanIds: ended)])
            }
            return 0
        }
        let cutoff = now.addingTimeInterval(-Double(settings.keepAliveSeconds))
        let figures = try await store.figures(
            performanceID: performanceID, at: now, seenSince: cutoff, admittedSince: now.addingTimeInterval(-60))
        let available = try await service.stock.availableUnits(performanceID: performanceID)
        let paced = pacedAllowance(performanceID, perMinute: settings.admitPerMinute, now: now)
        // Everyone shopping may still buy, so shoppers never outnumber what is left to buy.
        let budget = min(
            settings.admitPerMinute - figures.admitted, settings.maxActiveShoppers - figures.active, available - figures.active,
            Int(paced.rounded(.down)))
        var admitted: [String] = []
        var away: [String] = []
        var skipped: [String] = []
        var through = counters.admittedThrough
        if budget > 0 {
            for fan in try await store.waiting(performanceID: performanceID, after: counters.admittedThrough, limit: budget + 500) {
                if admitted.count == budget { break }
                if fan.lastSeen < cutoff {
                    skipped.append(fan.fanID)
                } else {
                    admitted.append(fan.fanID)
                    if fan.lastSeen < now.addingTimeInterval(-QueueAdmitted.awayAfterSeconds) { away.append(fan.fanID) }
                }
                through = fan.sequence
            }
        }
        let sessionEndsAt = now.addingTimeInterval(Double(settings.sessionMinutes) * 60)
        if !admitted.isEmpty || !skipped.isEmpty {
            try await store.recordGateStep(
                performanceID: performanceID, admitted: admitted, skipped: skipped, through: through, at: now,
                sessionEndsAt: sessionEndsAt)
            allowance.withLock { $0[performanceID]?.tokens -= Double(admitted.count) }
        }
        record(performanceID, figures: figures, available: available, admitted: admitted.count, skipped: skipped.count)
        var events: [any DomainEvent] = []
        if !admitted.isEmpty {
            events.append(QueueAdmitted(
                performanceId: performanceID, fanIds: admitted, admittedThrough: through, sessionEndsAt: sessionEndsAt, awayFanIds: away))
        }
        if !skipped.isEmpty || !ended.isEmpty {
            events.append(QueueExpired(performanceId: performanceID, abandonedFanIds: skipped, sessionEndedFanIds: ended))
        }
        try await service.publish(events)
        if !admitted.isEmpty || !skipped.isEmpty {
            service.logger.debug("gate step", metadata: [
                "performance_id": .string(performanceID), "admitted": .stringConvertible(admitted.count),
                "skipped": .stringConvertible(skipped.count), "admitted_through": .stringConvertible(through),
            ])
        }
        return admitted.count
    }

    /// Spreads the minute's admissions: the allowance grows by `perMinute / 60` a second, and
    /// holds at most one second's worth (at least one fan), so opening does not let a whole
    /// minute in at once.
    private func pacedAllowance(_ performanceID: String, perMinute: Int, now: Date) -> Double {
        let perSecond = Double(perMinute) / 60
        let ceiling = max(1, perSecond)
        return allowance.withLock { allowance in
            let previous = allowance[performanceID] ?? (ceiling, now)
            let grown = min(ceiling, previous.tokens + perSecond * max(0, now.timeIntervalSince(previous.at)))
            allowance[performanceID] = (grown, now)
            return grown
        }
    }
}

/// Every node's part: writes gathered keep-alives and joins, and refreshes its copy of the
/// polled queues' counters, a few times a second.
public struct WaitingRoomNode: Service {
    let service: WaitingRoomService
    let interval: Duration

    public init(service: WaitingRoomService, interval: Duration = .milliseconds(250)) {
        self.service = service
        self.interval = interval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await service.flush()
                } catch where !Task.isCancelled {
                    service.logger.warning("waiting-room flush failed", metadata: ["error": .string(String(describing: error))])
                } catch {}
                try? await Task.sleep(for: interval)
            }
        }
        try? await service.flush()  // the last keep-alives and joins
    }
}

/// A fan who bought has finished shopping: their slot frees at once.
public struct FinishedShopping: EventSubscriber {
    public let name = "waiting-room.finished-shopping"
    public let eventTypes: Set<String> = ["reservation.confirmed"]
    private let service: WaitingRoomService

    public init(service: WaitingRoomService) {
        self.service = service
    }

    private struct Confirmed: Decodable {
        let performanceId: String
        let fanId: String
    }

    public var handlesBatches: Bool { true }

    /// Ends the sessions once the relay's transaction has committed, one call per performance
    /// of the batch: the queue's store is not part of the transaction (and an embedded database
    /// has one writer, which the relay holds). Ending a session is idempotent; if it fails, the
    /// session still runs out on its own.
    public func handle(batch events: [EventEnvelope], in transaction: DatabaseTransaction) async throws {
        var buyers: [String: [String]] = [:]
        for event in events {
            let confirmed = try event.decodePayload(as: Confirmed.self)
            buyers[confirmed.performanceId, default: []].append(confirmed.fanId)
        }
        let service = self.service
        let finished = buyers
        transaction.afterCommit {
            Task {
                for (performanceID, fanIDs) in finished {
                    do {
                        try await service.finishShopping(performanceID: performanceID, fanIDs: fanIDs)
                    } catch {
                        service.logger.warning("could not end finished shopping sessions", metadata: [
                            "performance_id": .string(performanceID), "error": .string(String(describing: error)),
                        ])
                    }
                }
            }
        }
    }

    public func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        try await handle(batch: [event], in: transaction)
    }
}
