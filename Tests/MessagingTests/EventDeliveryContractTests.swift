import BoxofficeKit
import Foundation
@testable import Messaging
import Metrics
import Persistence
import RedisClient
import SQLKit
import Synchronization
import TestSupport
import Testing

/// What every way of delivering events must do — the embedded relay delivering in process, and
/// the relay publishing to Redis Streams with consumer groups reading them: each event reaches
/// each subscriber once in effect, in order per aggregate, survives a node dying at any point,
/// and an event that keeps failing is set aside where an operator can replay or drop it.
@Suite struct EventDeliveryContractTests {
    static let transports = ["outbox", "redis-streams"]

    /// A database, an outbox and — for Redis — a stream namespace of the test's own.
    struct Bench: Sendable {
        let transport: String
        let database: Database
        let outbox: Outbox
        let redis: RedisClient?
        let settings: RedisStreamSettings
        let configuration: OutboxRelay.Configuration

        /// One node: its relay and, with Redis, one consumer per subscriber. Cancel the task to
        /// kill the node.
        func startNode(
            _ name: String, subscribers: [any EventSubscriber],
            afterDelivery: (@Sendable (EventEnvelope) async throws -> Void)? = nil
        ) -> Task<Void, Never> {
            let relay = OutboxRelay(
                database: database, outbox: outbox, subscribers: redis == nil ? subscribers : [],
                publisher: redis.map { RedisStreamPublisher(redis: $0, settings: settings) }, clock: SystemClock(),
                configuration: configuration, logger: TestDatabases.logger, metrics: MetricsSystem.factory, afterDelivery: afterDelivery)
            let consumers = redis.map { redis in
                subscribers.map { subscriber in
                    RedisStreamConsumer(
                        redis: redis, subscriber: subscriber, database: database, consumerName: name, settings: settings,
                        configuration: configuration, logger: TestDatabases.logger, blockFor: .milliseconds(100))
                }
            } ?? []
            return Task {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { try? await relay.run() }
                    for consumer in consumers { group.addTask { try? await consumer.run() } }
                }
            }
        }

        /// Runs `body` with a node running, and kills the node (waiting for it to stop) however
        /// `body` ends, so no node outlives the test's database.
        func withNode(
            _ name: String, subscribers: [any EventSubscriber], _ body: () async throws -> Void
        ) async throws {
            try await stop(startNode(name, subscribers: subscribers), after: body)
        }

        /// Waits for `condition` while `node` runs; kills the node (and waits for it) whether
        /// the condition came or not.
        func kill(_ node: Task<Void, Never>, once condition: () async throws -> Bool) async throws {
            try await stop(node, after: { try await waitUntil(condition) })
        }

        private func stop(_ node: Task<Void, Never>, after body: () async throws -> Void) async throws {
            do {
                try await body()
            } catch {
                node.cancel()
                await node.value
                throw error
            }
            node.cancel()
            await node.value
        }

        var deadLetters: any DeadLetterStore {
            if let redis { return RedisDeadLetters(redis: redis, settings: settings) }
            return OutboxDeadLetters(database: database)
        }

        func publish(_ events: [TicketScanned]) async throws {
            try await database.withTransaction { transaction in
                for event in events { try await outbox.publish(event, in: transaction) }
            }
        }
    }

    private func withBench(_ transport: String, _ body: (Bench) async throws -> Void) async throws {
        var configuration = OutboxRelay.Configuration()
        configuration.pollInterval = .milliseconds(50)
        configuration.maximumAttempts = 3
        configuration.firstRetryDelay = 0.05
        configuration.maximumRetryDelay = 0.2
        try await TestDatabases.withDatabase(.sqlite, migrations: [Outbox.migrations, effectsSchema]) { database in
            if transport == "redis-streams" {
                try await TestRedis.withClient { redis async throws in
                    try await body(Bench(
                        transport: transport, database: database, outbox: Outbox(), redis: redis,
                        settings: RedisStreamSettings(keyPrefix: TestRedis.uniquePrefix()), configuration: configuration))
                }
            } else {
                try await body(Bench(
                    transport: transport, database: database, outbox: Outbox(), redis: nil, settings: .init(), configuration: configuration))
            }
        }
    }

    @Test(arguments: transports)
    func everyEventReachesEachSubscriberOnceInOrderPerAggregate(transport: String) async throws {
        try await withBench(transport) { bench in
            try await bench.withNode("node-a", subscribers: [RecordingSubscriber(name: "audit"), RecordingSubscriber(name: "billing")]) {
            for round in 0..<10 {
                try await bench.publish((0..<6).map { TicketScanned(ticketID: "t\($0)", gate: "g\(round)") })
            }
            try await waitUntil { try await effects(bench.database).count >= 120 }
            let all = try await effects(bench.database)
            #expect(all.count == 120)
            for subscriber in ["audit", "billing"] {
                for ticket in 0..<6 {
                    let gates = all.filter { $0.subscriber == subscriber && $0.ticket_id == "t\(ticket)" }.map(\.gate)
                    #expect(gates == (0..<10).map { "g\($0)" })
                }
            }
            }
        }
    }

    @Test(arguments: transports)
    func aNodeThatDiesMidEventIsReplacedAndTheEventIsHandledOnce(transport: String) async throws {
        try await withBench(transport) { bench in
            let hanging = HangingSubscriber()
            try await bench.publish([
                TicketScanned(ticketID: "t1", gate: "a"), TicketScanned(ticketID: "t2", gate: "hang"), TicketScanned(ticketID: "t2", gate: "b"),
            ])
            let first = bench.startNode("node-a", subscribers: [hanging])
            // The node dies while its transaction is open: nothing commits, nothing is acknowledged.
            try await bench.kill(first, once: { hanging.entered.withLock { $0 } })
            try await bench.withNode("node-b", subscribers: [hanging]) {
                try await waitUntil { try await effects(bench.database).count >= 3 }
                try await Task.sleep(for: .milliseconds(300))  // room for a wrong second delivery to show
            }
            let all = try await effects(bench.database)
            #expect(all.map(\.gate).sorted() == ["a", "b", "hang"])
            #expect(all.filter { $0.ticket_id == "t2" }.map(\.gate) == ["hang", "b"])
        }
    }

    @Test(arguments: transports)
    func anEventHandedOnByANodeThatDiedBeforeMarkingItIsHandledOnce(transport: String) async throws {
        try await withBench(transport) { bench in
            try await bench.publish([TicketScanned(ticketID: "t1", gate: "north")])
            // The first node hands the event on (delivers or publishes it), then dies before
            // it can mark it delivered.
            let crashed = Mutex(false)
            let first = bench.startNode("node-a", subscribers: [RecordingSubscriber(name: "audit")]) { _ in
                crashed.withLock { $0 = true }
                throw SimulatedCrash()
            }
            try await bench.kill(first, once: { crashed.withLock { $0 } })
            try await bench.withNode("node-b", subscribers: [RecordingSubscriber(name: "audit")]) {
                try await waitUntil {
                    let undelivered = try await undeliveredCount(bench.database)
                    let handled = try await effects(bench.database).count
                    return undelivered == 0 && handled > 0
                }
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(try await effects(bench.database).map(\.gate) == ["north"])
        }
    }

    @Test(arguments: transports)
    func anEventThatKeepsFailingIsSetAsideThenReplayedOrDropped(transport: String) async throws {
        try await withBench(transport) { bench in
            let subscriber = PoisonSensitiveSubscriber()
            try await bench.withNode("node-a", subscribers: [subscriber]) {
                try await bench.publish([
                    TicketScanned(ticketID: "t1", gate: "poison"), TicketScanned(ticketID: "t1", gate: "after"),
                    TicketScanned(ticketID: "t2", gate: "fine"),
                ])
                // The other aggregate goes on; the one behind the poison waits until it is set aside.
                try await waitUntil { try await effects(bench.database).map(\.gate).sorted() == ["after", "fine"] }
                let letters = try await bench.deadLetters.list(limit: 10)
                #expect(letters.count == 1)
                let letter = try #require(letters.first)
                #expect(letter.eventType == "ticket.scanned")
                #expect(letter.aggregate == "ticket/t1")
                #expect(letter.attempts == 3)
                #expect(letter.error.contains("SubscriberBroke"))

                subscriber.healed.withLock { $0 = true }
                #expect(try await bench.deadLetters.replay(letter.id))
                try await waitUntil { try await effects(bench.database).count == 3 }
                #expect(try await bench.deadLetters.list(limit: 10).isEmpty)
                #expect(try await !bench.deadLetters.replay(letter.id))

                subscriber.healed.withLock { $0 = false }
                try await bench.publish([TicketScanned(ticketID: "t3", gate: "poison")])
                try await waitUntil { try await bench.deadLetters.list(limit: 10).count == 1 }
                let second = try #require(try await bench.deadLetters.list(limit: 10).first)
                #expect(try await bench.deadLetters.drop(second.id))
                #expect(try await bench.deadLetters.list(limit: 10).isEmpty)
                try await Task.sleep(for: .milliseconds(300))
                #expect(try await effects(bench.database).count == 3)
            }
        }
    }
}

/// Hangs (until its node is killed) the first time it meets an event at gate "hang".
final class HangingSubscriber: EventSubscriber {
    let name = "hanging"
    let eventTypes: Set<String> = [TicketScanned.eventType]
    let entered = Mutex(false)
    private let recorder = RecordingSubscriber(name: "hanging")

    func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        if try event.decode(as: TicketScanned.self).gate == "hang", !entered.withLock({ $0 }) {
            try await recorder.handle(event, in: transaction)  // an effect that must roll back
            entered.withLock { $0 = true }
            try await Task.sleep(for: .seconds(60))
        }
        try await recorder.handle(event, in: transaction)
    }
}

/// Fails on gate "poison" until healed.
final class PoisonSensitiveSubscriber: EventSubscriber {
    let name = "poison-sensitive"
    let eventTypes: Set<String> = [TicketScanned.eventType]
    let healed = Mutex(false)
    private let recorder = RecordingSubscriber(name: "poison-sensitive")

    func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        if try event.decode(as: TicketScanned.self).gate == "poison", !healed.withLock({ $0 }) { throw SubscriberBroke() }
        try await recorder.handle(event, in: transaction)
    }
}

func waitUntil(seconds: Double = 15, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(25))
    }
    Issue.record("condition not met within \(seconds) s")
    throw CancellationError()
}
