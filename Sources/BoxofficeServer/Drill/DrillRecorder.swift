import Foundation
import Synchronization

/// What the drill's fans did and how long each request took, gathered from every fan at once.
final class DrillRecorder: Sendable {
    enum Step: String, Sendable, CaseIterable {
        case join = "queue join"
        case status = "queue status"
        case hold = "hold"
        case release = "let go"
        case checkout = "checkout"
    }

    enum Outcome: String, Sendable, CaseIterable {
        case paid = "paid"
        case abandoned = "let the hold go"
        case leftHolding = "walked away holding"
        case leftQueue = "stopped waiting"
        case soldOut = "found no seat"
        case error = "failed"
    }

    struct Paid: Sendable {
        let fan: String
        let order: String
        let seat: String
        let total: Int64
        let at: Duration
    }

    struct Admission: Sendable {
        let position: Int
        let at: Duration
    }

    struct Snapshot: Sendable {
        var latencies: [Step: [Duration]] = [:]
        /// When each request started, by step, since the sale opened.
        var starts: [Step: [Duration]] = [:]
        var outcomes: [Outcome: Int] = [:]
        var errors: [String: Int] = [:]
        var positions: [String: Int] = [:]
        var admissions: [Admission] = []
        /// When each fan's join was sent and answered, when it was last told "waiting" (the time
        /// that question was sent) and first seen admitted (when that answer came), by fan.
        var joins: [String: (sent: Duration, answered: Duration)] = [:]
        var lastWaiting: [String: Duration] = [:]
        var firstAdmitted: [String: Duration] = [:]
        var paid: [Paid] = []
        var joined = 0
        var held = 0
        var leftShop = 0
    }

    private let state = Mutex(Snapshot())
    private let fans: Int
    private let opened = ContinuousClock.now

    init(fans: Int) {
        self.fans = fans
    }

    func snapshot() -> Snapshot { state.withLock { $0 } }

    /// Times one request. An answer outside `expecting`, or no answer, is recorded as an error
    /// and returns nil.
    func timed(_ step: Step, expecting: Set<Int>, _ request: () async throws -> DrillAPI.Reply) async -> DrillAPI.Reply? {
        let started = ContinuousClock.now
        do {
            let reply = try await request()
            let elapsed = ContinuousClock.now - started
            state.withLock {
                $0.latencies[step, default: []].append(elapsed)
                $0.starts[step, default: []].append(started - opened)
                if !expecting.contains(reply.status) { $0.errors["\(step.rawValue): \(reply.status)", default: 0] += 1 }
            }
            return expecting.contains(reply.status) ? reply : nil
        } catch {
            state.withLock { $0.errors["\(step.rawValue): \(Self.short(error))", default: 0] += 1 }
            return nil
        }
    }

    func joined(fan: String, position: Int, sent: Duration, answered: Duration) {
        state.withLock {
            $0.positions[fan] = position
            $0.joins[fan] = (sent, answered)
            $0.joined += 1
        }
    }

    func admitted(fan: String, at: Duration) {
        state.withLock { state in
            if let position = state.positions[fan] { state.admissions.append(Admission(position: position, at: at)) }
            state.firstAdmitted[fan] = min(state.firstAdmitted[fan] ?? at, at)
        }
    }

    func waiting(fan: String, askedAt: Duration) {
        state.withLock { state in
            state.lastWaiting[fan] = max(state.lastWaiting[fan] ?? .zero, askedAt)
        }
    }

    func held() { state.withLock { $0.held += 1 } }

    func leftShop() { state.withLock { $0.leftShop += 1 } }

    /// Admitted fans still choosing a seat or paying.
    var shopping: Int { state.withLock { $0.admissions.count - $0.leftShop } }

    func paid(fan: String, order: String, seat: String, total: Int64, at: Duration) {
        state.withLock { $0.paid.append(Paid(fan: fan, order: order, seat: seat, total: total, at: at)) }
    }

    func end(_ outcome: Outcome) {
        state.withLock { $0.outcomes[outcome, default: 0] += 1 }
    }

    func progressLine(since started: ContinuousClock.Instant) -> String {
        let now = state.withLock { $0 }
        let done = now.outcomes.values.reduce(0, +)
        let seconds = Double((ContinuousClock.now - started).components.seconds)
            + Double((ContinuousClock.now - started).components.attoseconds) / 1e18
        let errors = now.errors.values.reduce(0, +)
        return String(
            format: "%5.1f s  joined %d/%d  admitted %d  held %d  paid %d  done %d  errors %d",
            seconds, now.joined, fans, now.admissions.count, now.held, now.paid.count, done, errors)
    }

    private static func short(_ error: any Error) -> String {
        String(String(describing: error).prefix(80))
    }
}
