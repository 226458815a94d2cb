import BoxofficeKit
import Coordination
import Crypto
import Foundation
import Logging
import Messaging
import Persistence
import Synchronization

/// The virtual waiting room: fans join a performance's queue, poll their place, and are let
/// in by the gate at the organizer's rate while the shoppers inside stay under the cap and
/// there is still something to buy.
///
/// A status poll is arithmetic on the fan's signed ticket and this node's copy of the queue's
/// counters (refreshed a few times a second), so it costs the store nothing; keep-alives are
/// gathered and written in batches.
public final class WaitingRoomService: ShopperAdmission {
    public struct Configuration: Sendable {
        /// How old this node's copy of a queue's counters may be before a poll refreshes it.
        public var viewFreshness: Duration = .seconds(1)
        /// Joins per fan per minute (joins are idempotent; this only slows scripts down).
        public var joinsPerMinute = 10

        public init() {}
    }

    let store: any QueueStore
    let credentials: QueueCredentials
    private let organizers: any PerformanceOrganizers
    let stock: any StockLevels
    private let verifier: (any JoinVerifier)?
    private let rateLimiter: any RateLimiter
    private let database: Database
    private let outbox: Outbox
    let clock: any WallClock
    private let configuration: Configuration
    let logger: Logger

    /// This node's copy of each polled queue, and who polled since the last flush.
    private let views = Mutex<[String: QueueView]>([:])
    private let seen = Mutex<[String: Set<String>]>([:])
    private let pendingJoins = Mutex<[QueueJoined]>([])
    /// Sequence numbers looked up for pre-queue tickets after the shuffle, so each is looked up once.
    private let drawnSequences = Mutex<[String: Int]>([:])

    struct QueueView: Sendable {
        var settings: QueueSettings?
        var counters: QueueCounters
        var admittedLastMinute: Int
        var refreshedAt: ContinuousClock.Instant
        var polledAt: ContinuousClock.Instant
    }

    public init(
        store: any QueueStore, keys: SigningKeys, organizers: any PerformanceOrganizers, stock: any StockLevels,
        verifier: (any JoinVerifier)?, rateLimiter: any RateLimiter, database: Database, outbox: Outbox, clock: any WallClock,
        configuration: Configuration = .init(), logger: Logger
    ) async {
        self.store = store
        self.credentials = QueueCredentials(keys: keys)
        self.organizers = organizers
        self.stock = stock
        self.verifier = verifier
        self.rateLimiter = rateLimiter
        self.database = database
        self.outbox = outbox
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: Organizer

    /// The body of `PUT /v1/performances/{id}/queue`.
    public struct QueueRequest: Codable, Sendable {
        public var enabled: Bool
        public var opensAt: Date
        public var prequeueMinutes: Int?
        public var admitPerMinute: Int
        public var maxActiveShoppers: Int
        public var sessionMinutes: Int?
        public var keepAliveSeconds: Int?
    }

    public func configure(performanceID: String, _ request: QueueRequest, by organizer: Principal) async throws -> QueueSettings {
        try await requireOrganizer(of: performanceID, organizer)
        var errors: [Problem.FieldError] = []
        func check(_ value: Int, _ range: ClosedRange<Int>, _ field: String) {
            if !range.contains(value) { errors.append(.init(field: field, message: "must be from \(range.lowerBound) to \(range.upperBound)")) }
        }
        let prequeue = request.prequeueMinutes ?? 0
        let session = request.sessionMinutes ?? 10
        let keepAlive = request.keepAliveSeconds ?? 60
        check(prequeue, 0...1440, "prequeueMinutes")
        check(request.admitPerMinute, 1...100_000, "admitPerMinute")
        check(request.maxActiveShoppers, 1...1_000_000, "maxActiveShoppers")
        check(session, 1...60, "sessionMinutes")
        check(keepAlive, 5...3600, "keepAliveSeconds")
        guard errors.isEmpty else { throw Problem.validation(errors) }
        let existing = try await store.settings(performanceID: performanceID)
        if existing?.closed == true { throw Problem.conflict(detail: "This queue is closed.", slug: "queue-closed") }
        let settings = QueueSettings(
            enabled: request.enabled, opensAt: request.opensAt, prequeueMinutes: prequeue, admitPerMinute: request.admitPerMinute,
            maxActiveShoppers: request.maxActiveShoppers, sessionMinutes: session, keepAliveSeconds: keepAlive,
            paused: existing?.paused ?? false, closed: false, seed: existing?.seed ?? Secrets.token(bytes: 16),
            organizerID: existing?.organizerID ?? organizer.userID)
        try await store.saveSettings(settings, performanceID: performanceID)
        forgetView(performanceID)
        logger.notice("waiting room configured", metadata: [
            "performance_id": .string(performanceID), "enabled": .stringConvertible(settings.enabled),
            "admit_per_minute": .stringConvertible(settings.admitPerMinute), "max_active": .stringConvertible(settings.maxActiveShoppers),
        ])
        return settings
    }

    public enum Control: String, Sendable { case pause, resume, close }

    public func control(performanceID: String, _ control: Control, by organizer: Principal) async throws -> QueueSettings {
        try await requireOrganizer(of: performanceID, organizer)
        guard var settings = try await store.settings(performanceID: performanceID) else {
            throw Problem.notFound(detail: "This performance has no waiting room.")
        }
        guard !settings.closed else { throw Problem.conflict(detail: "This queue is closed.", slug: "queue-closed") }
        switch control {
        case .pause: settings.paused = true
        case .resume: settings.paused = false
        case .close: settings.closed = true
        }
        try await store.saveSettings(settings, performanceID: performanceID)
        if control == .close { try await publish([QueueClosed(performanceId: performanceID)]) }
        forgetView(performanceID)
        logger.notice("waiting room \(control.rawValue)d", metadata: ["performance_id": .string(performanceID), "by": .string(organizer.userID)])
        return settings
    }

    /// The settings in force, for the organizer's console to start from.
    public func settings(performanceID: String, by organizer: Principal) async throws -> QueueSettings {
        try await requireOrganizer(of: performanceID, organizer)
        guard let settings = try await store.settings(performanceID: performanceID) else {
            throw Problem.notFound(detail: "This performance has no waiting room.")
        }
        return settings
    }

    public func stats(performanceID: String, by organizer: Principal) async throws -> QueueStats {
        try await requireOrganizer(of: performanceID, organizer)
        guard let settings = try await store.settings(performanceID: performanceID) else {
            throw Problem.notFound(detail: "This performance has no waiting room.")
        }
        let now = clock.now()
        let counters = try await store.counters(performanceIDs: [performanceID])[performanceID]
            ?? QueueCounters(lastSequence: 0, admittedThrough: 0, sealed: false)
        let figures = try await store.figures(
            performanceID: performanceID, at: now, seenSince: now.addingTimeInterval(-Double(settings.keepAliveSeconds)),
            admittedSince: now.addingTimeInterval(-60))
        let available = try await stock.availableUnits(performanceID: performanceID)
        let perSecond = Self.admissionRate(measured: figures.admitted, settings: settings)
        let inLine = max(0, counters.lastSequence - counters.admittedThrough)
        return QueueStats(
            state: Self.state(of: settings, now: now, available: available), waiting: figures.waiting, active: figures.active,
            admittedLastMinute: figures.admitted, abandoned: figures.abandoned, lastSequence: counters.lastSequence,
            admittedThrough: counters.admittedThrough, available: available,
            etaSecondsForLast: inLine == 0 ? 0 : Int((Double(inLine) / perSecond).rounded(.up)))
    }

    static func state(of settings: QueueSettings, now: Date, available: Int) -> String {
        if settings.closed { return "closed" }
        if !settings.enabled { return "off" }
        if now < settings.opensAt { return now < settings.prequeueOpensAt ? "scheduled" : "prequeue" }
        if settings.paused { return "paused" }
        return available > 0 ? "admitting" : "sold-out"
    }

    private func requireOrganizer(of performanceID: String, _ principal: Principal) async throws {
        try principal.require(anyOf: .organizer, .admin)
        guard let owner = try await organizers.organizer(ofPerformance: performanceID) else {
            throw Problem.notFound(detail: "No such performance.")
        }
        try principal.requireOwnership(of: owner, resource: "performance")
    }

    // MARK: Fans

    /// What join and status answer.
    public struct Status: Codable, Sendable, Equatable {
        /// waiting, admitted, expired or closed.
        public var state: String
        public var position: Int?
        public var ahead: Int?
        public var etaSeconds: Int?
        /// Present once admitted: send it as `Queue-Access` with holds and checkout.
        public var accessToken: String?
        /// The ticket to poll with; status sends a new one when the pre-queue has been drawn.
        public var queueTicket: String?

        public init(
            state: String, position: Int? = nil, ahead: Int? = nil, etaSeconds: Int? = nil, accessToken: String? = nil,
            queueTicket: String? = nil
        ) {
            self.state = state
            self.position = position
            self.ahead = ahead
            self.etaSeconds = etaSeconds
            self.accessToken = accessToken
            self.queueTicket = queueTicket
        }

        /// The same as JSON, written directly because it answers every poll: the state is one of
        /// four words and the rest are numbers or tokens of URL-safe characters, so nothing needs
        /// escaping.
        public var json: String {
            var fields = ["\"state\":\"\(state)\""]
            if let position { fields.append("\"position\":\(position)") }
            if let ahead { fields.append("\"ahead\":\(ahead)") }
            if let etaSeconds { fields.append("\"etaSeconds\":\(etaSeconds)") }
            if let accessToken { fields.append("\"accessToken\":\"\(accessToken)\"") }
            if let queueTicket { fields.append("\"queueTicket\":\"\(queueTicket)\"") }
            return "{" + fields.joined(separator: ",") + "}"
        }
    }

    public func join(performanceID: String, fan: Principal, proof: JoinProof?, clientAddress: String?) async throws -> Status {
        guard let settings = try await store.settings(performanceID: performanceID), settings.enabled else {
            throw Problem.notFound(detail: "This performance has no waiting room.")
        }
        if settings.closed { throw Problem.conflict(detail: "This queue is closed.", slug: "queue-closed") }
        let now = clock.now()
        guard now >= settings.prequeueOpensAt else {
            throw Problem.conflict(
                detail: "The queue opens for joining at \(settings.prequeueOpensAt.formatted(Date.ISO8601FormatStyle())).", slug: "queue-not-open")
        }
        let decision = try await rateLimiter.consume("queue-join:\(fan.userID)", limit: .perPeriod(configuration.joinsPerMinute, 60))
        guard decision.allowed else { throw Problem.tooManyRequests(retryAfterSeconds: decision.retryAfterSeconds) }
        try await verifier?.verify(proof, clientAddress: clientAddress)
        let (place, isNew) = try await store.join(
            performanceID: performanceID, fanID: fan.userID, at: now, opensAt: settings.opensAt,
            lottery: Self.lottery(seed: settings.seed, fanID: fan.userID))
        if isNew {
            pendingJoins.withLock { $0.append(QueueJoined(performanceId: performanceID, fanId: fan.userID, sequence: place.sequence)) }
        }
        let ticket = QueueTicket(p: performanceID, f: fan.userID, s: place.sequence)
        var status = try await status(performanceID: performanceID, ticket: ticket)
        status.queueTicket = credentials.ticket(ticket)
        return status
    }

    /// A fan's place, from the ticket join gave them. Costs no store round trip while the fan
    /// waits; one when their turn has come (to learn whether they were admitted).
    public func status(performanceID: String, ticket text: String?) async throws -> Status {
        guard let text, let ticket = credentials.verifyTicket(text) else {
            throw Problem.unauthorized(detail: "Send the Queue-Ticket that joining the queue gave you.")
        }
        guard ticket.p == performanceID else { throw Problem.badRequest(detail: "This queue ticket is for another performance.", field: "Queue-Ticket") }
        return try await status(performanceID: performanceID, ticket: ticket)
    }

    private func status(performanceID: String, ticket: QueueTicket) async throws -> Status {
        let view = try await view(performanceID)
        guard let settings = view.settings, settings.enabled else {
            throw Problem.notFound(detail: "This performance has no waiting room.")
        }
        if settings.closed { return Status(state: "closed") }
        _ = seen.withLock { $0[performanceID, default: []].insert(ticket.f) }
        let now = clock.now()
        var sequence = ticket.s
        var newTicket: String?
        if sequence == nil, view.counters.sealed {
            sequence = try await drawnSequence(performanceID: performanceID, fanID: ticket.f)
            if let sequence { newTicket = credentials.ticket(QueueTicket(p: performanceID, f: ticket.f, s: sequence)) }
        }
        let untilOpening = max(0, settings.opensAt.timeIntervalSince(now))
        guard let sequence else {
            // In the pre-queue: everyone's place is drawn at opening.
            return Status(state: "waiting", etaSeconds: Int(untilOpening.rounded(.up)))
        }
        if sequence <= view.counters.admittedThrough {
            switch try await store.outcome(performanceID: performanceID, fanID: ticket.f) {
            case .admitted(let ends, let ended)? where !ended && ends > now:
                let token = try await credentials.accessToken(performanceID: performanceID, fanID: ticket.f, issuedAt: now, expiresAt: ends)
                return Status(state: "admitted", position: 0, ahead: 0, etaSeconds: 0, accessToken: token, queueTicket: newTicket)
            case .admitted?, .skipped?:
                return Status(state: "expired", queueTicket: newTicket)
            case nil:
                break  // the gate is between steps: still waiting for a moment
            }
        }
        let position = max(1, sequence - view.counters.admittedThrough)
        let perSecond = Self.admissionRate(measured: view.admittedLastMinute, settings: settings)
        let eta = untilOpening + Double(position - 1) / perSecond
        return Status(state: "waiting", position: position, ahead: position - 1, etaSeconds: Int(eta.rounded(.up)), queueTicket: newTicket)
    }

    /// Admissions per second: as measured over the last minute, or as configured before any.
    static func admissionRate(measured: Int, settings: QueueSettings) -> Double {
        max(1, Double(measured > 0 ? measured : settings.admitPerMinute)) / 60
    }

    private func drawnSequence(performanceID: String, fanID: String) async throws -> Int? {
        let key = "\(performanceID)/\(fanID)"
        if let known = drawnSequences.withLock({ $0[key] }) { return known }
        let sequence = try await store.place(performanceID: performanceID, fanID: fanID)?.sequence
        if let sequence {
            drawnSequences.withLock { known -> Void in
                if known.count > 100_000 { known.removeAll() }
                known[key] = sequence
            }
        }
        return sequence
    }

    /// The pre-queue's draw: the same fan always gets the same number under one seed. 52 bits,
    /// so every store orders it exactly (a Redis score is a double).
    static func lottery(seed: String, fanID: String) -> Int64 {
        let code = HMAC<SHA256>.authenticationCode(for: Data(fanID.utf8), using: SymmetricKey(data: Data(seed.utf8)))
        return Int64(Array(code).prefix(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) } >> 12)
    }

    // MARK: Admission checks (holds, checkout)

    public func requireAdmission(performanceID: String, fanID: String, accessToken: String?, sessionMustBeRunning: Bool) async throws {
        guard let settings = try await view(performanceID).settings, settings.enabled else { return }
        let now = clock.now()
        try await credentials.verifyAccess(accessToken, performanceID: performanceID, fanID: fanID, now: now)
        guard sessionMustBeRunning else { return }
        guard case .admitted(let ends, let ended)? = try await store.outcome(performanceID: performanceID, fanID: fanID), !ended, ends > now else {
            throw Problem.queueAccessRequired(detail: "Your shopping session has ended; join the queue again.")
        }
    }

    /// These fans finished buying: their slots go to the next fans at the gate's next step.
    /// Nothing to do (not a write) where the performance sells without a waiting room.
    func finishShopping(performanceID: String, fanIDs: [String]) async throws {
        guard let settings = try await view(performanceID).settings, settings.enabled else { return }
        let ended = try await store.endSessions(performanceID: performanceID, fanIDs: fanIDs)
        if !ended.isEmpty {
            logger.debug("shopping sessions finished", metadata: ["performance_id": .string(performanceID), "fans": .stringConvertible(ended.count)])
        }
    }

    // MARK: This node's view

    private func view(_ performanceID: String) async throws -> QueueView {
        let now = ContinuousClock.now
        if let cached = views.withLock({ views -> QueueView? in
            guard var view = views[performanceID], view.refreshedAt.duration(to: now) < configuration.viewFreshness else { return nil }
            view.polledAt = now
            views[performanceID] = view
            return view
        }) {
            return cached
        }
        do {
            return try await refreshView(performanceID, polledAt: now)
        } catch {
            // The store (Redis) is failing over: a hold or checkout on this performance goes on
            // with the last settings this node read rather than failing with it. Only a node
            // that never read them has nothing to go on.
            guard let stale = views.withLock({ $0[performanceID] }) else { throw error }
            logger.warning("waiting room: using the last known settings; the queue store did not answer", metadata: [
                "performance_id": .string(performanceID), "error": .string(String(describing: error)),
            ])
            return stale
        }
    }

    @discardableResult
    private func refreshView(_ performanceID: String, polledAt: ContinuousClock.Instant) async throws -> QueueView {
        let settings = try await store.settings(performanceID: performanceID)
        var counters = QueueCounters(lastSequence: 0, admittedThrough: 0, sealed: false)
        var admitted = 0
        if settings != nil {
            counters = try await store.counters(performanceIDs: [performanceID])[performanceID] ?? counters
            admitted = try await store.admissions(performanceID: performanceID, since: clock.now().addingTimeInterval(-60))
        }
        let view = QueueView(settings: settings, counters: counters, admittedLastMinute: admitted, refreshedAt: .now, polledAt: polledAt)
        views.withLock { views in
            if views.count > 10_000 { views.removeAll() }
            views[performanceID] = view
        }
        return view
    }

    private func forgetView(_ performanceID: String) {
        _ = views.withLock { $0.removeValue(forKey: performanceID) }
    }

    /// Writes the keep-alives and joins gathered since the last call, and refreshes the
    /// counters of queues polled in the last ten seconds. Every node runs it a few times a
    /// second (`WaitingRoomNode`); tests call it directly.
    public func flush() async throws {
        let now = clock.now()
        let polledFans: [String: Set<String>] = seen.withLock { seen in
            let taken = seen
            seen = [:]
            return taken
        }
        for (performanceID, fans) in polledFans {
            try await store.touch(performanceID: performanceID, fanIDs: Array(fans), at: now)
        }
        let joins: [QueueJoined] = pendingJoins.withLock { joins in
            let taken = joins
            joins = []
            return taken
        }
        if !joins.isEmpty { try await publish(joins.map { $0 as any DomainEvent }) }
        let recent = ContinuousClock.now
        let polled = views.withLock { views in views.filter { $0.value.polledAt.duration(to: recent) < .seconds(10) }.map(\.key) }
        for performanceID in polled {
            let polledAt = views.withLock { $0[performanceID]?.polledAt } ?? recent
            try await refreshView(performanceID, polledAt: polledAt)
        }
    }

    func publish(_ events: [any DomainEvent]) async throws {
        guard !events.isEmpty else { return }
        let outbox = self.outbox
        try await database.withTransaction { transaction in
            for event in events { try await Self.write(event, to: outbox, in: transaction) }
        }
    }

    private static func write<Event: DomainEvent>(_ event: Event, to outbox: Outbox, in transaction: DatabaseTransaction) async throws {
        try await outbox.publish(event, in: transaction)
    }
}
