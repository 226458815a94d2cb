import BoxofficeKit
import Foundation

/// How a performance's waiting room behaves, as its organizer set it.
public struct QueueSettings: Codable, Sendable, Equatable {
    public var enabled: Bool
    /// When admission starts. Fans who join in the pre-queue window before it are shuffled then.
    public var opensAt: Date
    /// How long before `opensAt` fans may join the pre-queue.
    public var prequeueMinutes: Int
    /// Fans admitted per minute at most.
    public var admitPerMinute: Int
    /// Admitted fans whose shopping session is still running, at most.
    public var maxActiveShoppers: Int
    /// How long an admitted fan may shop before the slot goes to the next fan.
    public var sessionMinutes: Int
    /// A waiting fan who has not polled for this long loses the place.
    public var keepAliveSeconds: Int
    public var paused: Bool
    public var closed: Bool
    /// Draws the pre-queue's order: a new seed, a new order.
    public var seed: String
    public var organizerID: String

    public init(
        enabled: Bool, opensAt: Date, prequeueMinutes: Int, admitPerMinute: Int, maxActiveShoppers: Int, sessionMinutes: Int,
        keepAliveSeconds: Int, paused: Bool = false, closed: Bool = false, seed: String, organizerID: String
    ) {
        self.enabled = enabled
        self.opensAt = opensAt
        self.prequeueMinutes = prequeueMinutes
        self.admitPerMinute = admitPerMinute
        self.maxActiveShoppers = maxActiveShoppers
        self.sessionMinutes = sessionMinutes
        self.keepAliveSeconds = keepAliveSeconds
        self.paused = paused
        self.closed = closed
        self.seed = seed
        self.organizerID = organizerID
    }

    var prequeueOpensAt: Date { opensAt.addingTimeInterval(-Double(prequeueMinutes) * 60) }
}

/// The shared numbers a status answer is arithmetic on.
public struct QueueCounters: Sendable, Equatable {
    /// The highest sequence number given out.
    public var lastSequence: Int
    /// Every sequence number up to this one has been admitted or skipped (abandoned).
    public var admittedThrough: Int
    /// The pre-queue has been shuffled into sequence numbers.
    public var sealed: Bool

    public init(lastSequence: Int, admittedThrough: Int, sealed: Bool) {
        self.lastSequence = lastSequence
        self.admittedThrough = admittedThrough
        self.sealed = sealed
    }
}

/// A fan's place: a sequence number, or none yet while in the pre-queue.
public struct QueuePlace: Sendable, Equatable {
    public var sequence: Int?
    public var joinedAt: Date

    public init(sequence: Int?, joinedAt: Date) {
        self.sequence = sequence
        self.joinedAt = joinedAt
    }
}

/// What became of a fan the gate has passed.
public enum GateOutcome: Sendable, Equatable {
    /// Admitted; `ended` once the session ran out or the fan finished buying.
    case admitted(sessionEndsAt: Date, ended: Bool)
    /// Skipped: the fan had stopped polling when their turn came.
    case skipped
}

/// A waiting fan, as the gate walks the line.
public struct WaitingFan: Sendable, Equatable {
    public let sequence: Int
    public let fanID: String
    public let lastSeen: Date
}

/// Figures for the organizer's live view.
public struct QueueStats: Codable, Sendable, Equatable {
    public var state: String
    public var waiting: Int
    public var active: Int
    public var admittedLastMinute: Int
    public var abandoned: Int
    public var lastSequence: Int
    public var admittedThrough: Int
    /// Available seats or units (neither held nor sold).
    public var available: Int
    /// When the last fan in line can expect to be admitted, at the measured rate.
    public var etaSecondsForLast: Int?
}

// MARK: Events (`queue.events`)

public struct QueueJoined: DomainEvent {
    public static let eventType = "queue.joined"
    public static let aggregateType = "queue"
    public let performanceId: String
    public let fanId: String
    public let sequence: Int?
    public var aggregateID: String { performanceId }
}

public struct QueueAdmitted: DomainEvent {
    public static let eventType = "queue.admitted"
    public static let aggregateType = "queue"
    public let performanceId: String
    public let fanIds: [String]
    public let admittedThrough: Int
    /// When the admitted fans' shopping time runs out (absent in events older than the field).
    public let sessionEndsAt: Date?
    /// Those of `fanIds` whose page had not asked after their place for a while (they closed
    /// it, or the phone slept): mail tells them their turn came.
    public let awayFanIds: [String]?
    public var aggregateID: String { performanceId }

    /// A page that is open asks every second or two; one silent for this long is away.
    public static let awayAfterSeconds: TimeInterval = 10
}

public struct QueueExpired: DomainEvent {
    public static let eventType = "queue.expired"
    public static let aggregateType = "queue"
    public let performanceId: String
    /// Waiting fans who stopped polling before their turn.
    public let abandonedFanIds: [String]
    /// Admitted fans whose shopping session ran out.
    public let sessionEndedFanIds: [String]
    public var aggregateID: String { performanceId }
}

public struct QueueClosed: DomainEvent {
    public static let eventType = "queue.closed"
    public static let aggregateType = "queue"
    public let performanceId: String
    public var aggregateID: String { performanceId }
}

// MARK: Ports (the composition root answers them from other contexts)

/// How much of a performance could still be bought right now (reservations know).
public protocol StockLevels: Sendable {
    /// Seats or general-admission units neither held (unexpired) nor sold.
    func availableUnits(performanceID: String) async throws -> Int
}

/// The human check of sign-up, asked again at join (identity knows).
public protocol JoinVerifier: Sendable {
    func verify(_ proof: JoinProof?, clientAddress: String?) async throws
}

/// What a client sends as `humanCheck`.
public struct JoinProof: Codable, Sendable {
    public var challenge: String?
    public var nonce: String?
    public var token: String?
}
