import BoxofficeKit
import Foundation
import Logging
@testable import Messaging
import Metrics
import Persistence
import SQLKit
import Synchronization
import TestSupport
import Testing

struct TicketScanned: DomainEvent, Equatable {
    static let eventType = "ticket.scanned"
    static let aggregateType = "ticket"
    let ticketID: String
    let gate: String
    var aggregateID: String { ticketID }
}

/// Records each event it handles as a row in its own transaction, the way a real subscriber
/// keeps its effects atomic with the inbox claim. Can be told to fail.
final class RecordingSubscriber: EventSubscriber {
    let name: String
    let eventTypes: Set<String> = [TicketScanned.eventType]
    let failuresLeft: Mutex<Int>

    init(name: String, failFirst failures: Int = 0) {
        self.name = name
        self.failuresLeft = Mutex(failures)
    }

    func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        let shouldFail = failuresLeft.withLock { left in
            defer { left = max(0, left - 1) }
            return left > 0
        }
        if shouldFail { throw SubscriberBroke() }
        let scanned = try event.decode(as: TicketScanned.self)
        try await transaction.sql.raw("""
            INSERT INTO effects (subscriber, event_id, ticket_id, gate)
            VALUES (\(bind: name), \(bind: event.id), \(bind: scanned.ticketID), \(bind: scanned.gate))
            """).run()
    }
}

/// Handles batches in one go, like the read models do, and breaks on any event at a gate
/// named "poison" — in a batch or alone.
final class BatchingSubscriber: EventSubscriber {
    let name = "batching"
    let eventTypes: Set<String> = [TicketScanned.eventType]
    var handlesBatches: Bool { true }
    let batchSizes = Mutex<[Int]>([])
    private let recorder = RecordingSubscriber(name: "batching")

    func handle(batch events: [EventEnvelope], in transaction: DatabaseTransaction) async throws {
        batchSizes.withLock { $0.append(events.count) }
        for event in events { try await handle(event, in: transaction) }
    }

    func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        if try event.decode(as: TicketScanned.self).gate == "poison" { throw SubscriberBroke() }
        try await recorder.handle(event, in: transaction)
    }
}

struct SubscriberBroke: Error {}
struct SimulatedCrash: Error {}

let effectsSchema = MigrationGroup(module: "test", migrations: [
    Migration("0001_effects") { dialect in
        [dialect == .postgres
            ? "CREATE TABLE effects (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, subscriber TEXT, event_id TEXT, ticket_id TEXT, gate TEXT)"
            : "CREATE TABLE effects (seq INTEGER PRIMARY KEY AUTOINCREMENT, subscriber TEXT, event_id TEXT, ticket_id TEXT, gate TEXT)"]
    },
])

struct Effect: Decodable, Equatable, Sendable {
    let subscriber: String
    let event_id: String
    let ticket_id: String
    let gate: String
}

func effects(_ database: Database) async throws -> [Effect] {
    try await database.read { sql in
        try await sql.raw("SELECT subscriber, event_id, ticket_id, gate FROM effects ORDER BY seq").all(decoding: Effect.self)
    }
}

func undeliveredCount(_ database: Database) async throws -> Int {
    try await database.read { sql in
        try await sql.raw("SELECT COUNT(*) AS n FROM outbox WHERE delivered_at IS NULL").first()?.decode(column: "n", as: Int.self) ?? -1
    }
}

func makeRelay(
    _ database: Database, _ outbox: Outbox, _ subscribers: [any EventSubscriber], clock: any WallClock = SystemClock(),
    configuration: OutboxRelay.Configuration = .init(),
    afterDelivery: (@Sendable (EventEnvelope) async throws -> Void)? = nil
) -> OutboxRelay {
    OutboxRelay(
        database: database, outbox: outbox, subscribers: subscribers, clock: clock, configuration: configuration,
        logger: TestDatabases.logger, metrics: MetricsSystem.factory, afterDelivery: afterDelivery)
}

@Suite struct OutboxRelayTests {
    static let schema = [Outbox.migrations, effectsSchema]

    @Test func theRelayDeliversThroughItsOwnPoolWhileEveryRequestConnectionIsTaken() async throws {
        try await TestDatabases.withDatabase(.postgres, migrations: Self.schema) { database in
            let outbox = Outbox()
            let relay = makeRelay(database.background, outbox, [RecordingSubscriber(name: "audit")])
            try await database.withTransaction { transaction in
                try await outbox.publish(TicketScanned(ticketID: "t1", gate: "A"), in: transaction)
            }
            // Every connection of the request pool busy for eight seconds, as at an on-sale. The
            // delivery must be over well before they free up (a loaded CI machine needs the margin).
            let size = database.poolStatistics.maximumConnections
            let busy = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<size {
                        group.addTask { try await database.read { sql in try await sql.raw("SELECT pg_sleep(8)").run() } }
                    }
                    try await group.waitForAll()
                }
            }
            while database.poolStatistics.inUse < size { try await Task.sleep(for: .milliseconds(10)) }
            let started = ContinuousClock.now
            #expect(try await relay.deliverPending() == 1)
            #expect(ContinuousClock.now - started < .seconds(6), "delivery waited for the request pool")
            #expect(database.poolStatistics.inUse == size)
            #expect(try await effects(database.background).map(\.ticket_id) == ["t1"])
            try await busy.value
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func anEventPublishedInARolledBackTransactionIsNeverDelivered(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: Self.schema) { database in
            let outbox = Outbox()
            let relay = makeRelay(database, outbox, [RecordingSubscriber(name: "audit")])
            _ = try? await database.withTransaction { transaction in
                try await outbox.publish(TicketScanned(ticketID: "t1", gate: "A"), in: transaction)
                throw SubscriberBroke()
            }
            try await relay.deliverPending()
            #expect(try await effects(database).isEmpty)
            #expect(try await undeliveredCount(database) == 0)
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aCommittedEventReachesEachSubscriberExactlyOnceEvenWhenTheRelayStopsBeforeMarkingIt(
        dialect: DatabaseDialect
    ) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: Self.schema) { database in
            let outbox = Outbox()
            let subscribers = [RecordingSubscriber(name: "audit"), RecordingSubscriber(name: "stats")]
            let eventID = try await database.withTransaction { transaction in
                try await outbox.publish(TicketScanned(ticketID: "t1", gate: "A"), in: transaction)
            }

            // The first relay delivers, then dies before it can mark the event delivered.
            let crashing = makeRelay(database, outbox, subscribers) { _ in throw SimulatedCrash() }
            await #expect(throws: SimulatedCrash.self) { try await crashing.deliverPending() }
            #expect(try await undeliveredCount(database) == 1)

            // A new relay (a restart) delivers again; the inbox turns that into a no-op.
            let restarted = makeRelay(database, outbox, subscribers)
            try await restarted.deliverPending()
            try await restarted.deliverPending()

            let seen = try await effects(database)
            #expect(seen.map(\.subscriber).sorted() == ["audit", "stats"])
            #expect(seen.allSatisfy { $0.event_id == eventID && $0.ticket_id == "t1" && $0.gate == "A" })
            #expect(try await undeliveredCount(database) == 0)
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func eventsOfOneAggregateArriveInTheOrderTheyWereWritten(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: Self.schema) { database in
            let outbox = Outbox()
            for gate in ["g1", "g2", "g3", "g4", "g5"] {
                try await database.withTransaction { transaction in
                    try await outbox.publish(TicketScanned(ticketID: "t1", gate: gate), in: transaction)
                }
            }
            try await makeRelay(database, outbox, [RecordingSubscriber(name: "audit")]).deliverPending()
            #expect(try await effects(database).map(\.gate) == ["g1", "g2", "g3", "g4", "g5"])
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aBatchThatFailsIsRetriedOneEventAtATimeSoOnlyTheCulpritBacksOff(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: Self.schema) { database in
            let outbox = Outbox()
            let subscriber = BatchingSubscriber()
            let relay = makeRelay(database, outbox, [subscriber], clock: ManualClock())
            try await database.withTransaction { transaction in
                for (ticket, gate) in [("t1", "a"), ("t2", "poison"), ("t3", "b"), ("t2", "after-poison"), ("t4", "c")] {
                    try await outbox.publish(TicketScanned(ticketID: ticket, gate: gate), in: transaction)
                }
            }
            try await relay.deliverPending()
            #expect(subscriber.batchSizes.withLock { $0 }.first == 5, "handed over as one batch first")
            #expect(try await effects(database).map(\.gate) == ["a", "b", "c"], "the rest of the batch, once each")
            let backingOff = try await database.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM outbox WHERE next_attempt_at IS NOT NULL AND attempts = 1").first()?
                    .decode(column: "n", as: Int.self)
            }
            #expect(backingOff == 1, "only the poison event is blamed")
            try await relay.deliverPending()
            #expect(try await effects(database).map(\.gate) == ["a", "b", "c"], "nothing delivered twice")
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aFailingDeliveryIsRetriedAfterBackOffWhileLaterEventsOfItsAggregateWait(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: Self.schema) { database in
            let outbox = Outbox()
            let clock = ManualClock()
            let subscriber = RecordingSubscriber(name: "audit", failFirst: 1)
            let relay = makeRelay(database, outbox, [subscriber], clock: clock)
            try await database.withTransaction { transaction in
                try await outbox.publish(TicketScanned(ticketID: "t1", gate: "first"), in: transaction)
                try await outbox.publish(TicketScanned(ticketID: "t1", gate: "second"), in: transaction)
                try await outbox.publish(TicketScanned(ticketID: "t2", gate: "other"), in: transaction)
            }

            try await relay.deliverPending()
            // t1's first event failed, so t1's second waits; t2 is unaffected.
            #expect(try await effects(database).map(\.gate) == ["other"])
            try await relay.deliverPending()
            #expect(try await effects(database).map(\.gate) == ["other"], "still backing off")

            clock.advance(by: 1.5)
            try await relay.deliverPending()
            #expect(try await effects(database).map(\.gate) == ["other", "first", "second"])
            #expect(try await undeliveredCount(database) == 0)
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func anAggregateThatIsBackingOffDoesNotStarveOthersEvenWhenItFillsABatch(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: Self.schema) { database in
            let outbox = Outbox()
            var configuration = OutboxRelay.Configuration()
            configuration.batchSize = 3
            let relay = makeRelay(
                database, outbox, [RecordingSubscriber(name: "audit", failFirst: 1)], clock: ManualClock(),
                configuration: configuration)
            try await database.withTransaction { transaction in
                for gate in ["a", "b", "c"] {
                    try await outbox.publish(TicketScanned(ticketID: "stuck", gate: gate), in: transaction)
                }
                try await outbox.publish(TicketScanned(ticketID: "fine", gate: "d"), in: transaction)
            }
            #expect(try await relay.deliverPending() == 3)  // the stuck aggregate's first fails
            #expect(try await effects(database).isEmpty)
            #expect(try await relay.deliverPending() == 1)  // its events are skipped, not refetched
            #expect(try await effects(database).map(\.ticket_id) == ["fine"])
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func anEventThatKeepsFailingIsSetAsideWithItsError(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: Self.schema) { database in
            let outbox = Outbox()
            let clock = ManualClock()
            var configuration = OutboxRelay.Configuration()
            configuration.maximumAttempts = 3
            let relay = makeRelay(database, outbox, [RecordingSubscriber(name: "audit", failFirst: 100)], clock: clock, configuration: configuration)
            try await database.withTransaction { transaction in
                try await outbox.publish(TicketScanned(ticketID: "t1", gate: "poison"), in: transaction)
            }
            for _ in 0..<5 {
                try await relay.deliverPending()
                clock.advance(by: 600)
            }
            let row = try await database.read { sql in
                try await sql.raw("SELECT attempts, last_error, dead_at FROM outbox").first()
            }
            #expect(try row?.decode(column: "attempts", as: Int.self) == 3)
            #expect(try row?.decode(column: "last_error", as: String.self).hasPrefix("audit:") == true)
            #expect(try row?.decode(column: "dead_at", as: Date?.self) != nil)
            #expect(try await effects(database).isEmpty)
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aRunningRelayDeliversAsSoonAsTheTransactionCommitsWithoutWaitingToPoll(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: Self.schema) { database in
            let outbox = Outbox()
            var configuration = OutboxRelay.Configuration()
            configuration.pollInterval = .seconds(3600)  // only the commit signal can wake it
            let relay = makeRelay(database, outbox, [RecordingSubscriber(name: "audit")], configuration: configuration)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await relay.run() }
                try await Task.sleep(for: .milliseconds(100))  // let it reach its wait
                try await database.withTransaction { transaction in
                    try await outbox.publish(TicketScanned(ticketID: "t9", gate: "B"), in: transaction)
                }
                let deadline = ContinuousClock.now + .seconds(10)
                while try await effects(database).isEmpty, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                group.cancelAll()
            }
            #expect(try await effects(database).map(\.ticket_id) == ["t9"])
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func eventsLeftUndeliveredByAStoppedProcessAreDeliveredByTheNextRelay(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withFreshConfiguration(dialect) { configuration in
            // First "process": writes events, never runs a relay.
            try await Database.withDatabase(configuration, logger: TestDatabases.logger) { database in
                try await Migrator(database: database, groups: Self.schema).migrate()
                let outbox = Outbox()
                try await database.withTransaction { transaction in
                    try await outbox.publish(TicketScanned(ticketID: "t1", gate: "A"), in: transaction)
                    try await outbox.publish(TicketScanned(ticketID: "t2", gate: "B"), in: transaction)
                }
            }
            // Second "process": a new pool, a new relay.
            try await Database.withDatabase(configuration, logger: TestDatabases.logger) { database in
                try await makeRelay(database, Outbox(), [RecordingSubscriber(name: "audit")]).deliverPending()
                #expect(try await effects(database).map(\.ticket_id) == ["t1", "t2"])
            }
        }
    }
}
