import BoxofficeKit
import HummingbirdBcrypt
import NIOCore
import NIOPosix
import Synchronization

/// bcrypt, run on the blocking thread pool: a hash takes tens to hundreds of milliseconds of
/// CPU by design, which would stall every request sharing an event loop. At most a few run at
/// once and a bounded number wait; past that a flood of sign-ins gets 503 at once instead of
/// queueing minutes of CPU behind it.
final class PasswordHasher: Sendable {
    /// Each step doubles the work: 11 is about 0.1 s on our machines. Tests use the minimum.
    let cost: UInt8
    private let decoy = Mutex<String?>(nil)
    private let limit: ConcurrencyLimit

    init(cost: UInt8, maxRunning: Int = max(2, System.coreCount), maxWaiting: Int = 256) {
        self.cost = cost
        self.limit = ConcurrencyLimit(maxRunning: maxRunning, maxWaiting: maxWaiting)
    }

    func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await limit.run { try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) } }
    }

    func verify(_ password: String, against hash: String?) async throws -> Bool {
        let stored: String
        if let hash { stored = hash } else { stored = try await decoyHash() }
        let matches = try await limit.run { try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: stored) } }
        return matches && hash != nil
    }

    /// A hash of a random string at the same cost as real ones, checked when the account does
    /// not exist, so that "no such user" takes as long as "wrong password" and timing reveals
    /// nothing. Made on first use, not at start-up.
    func decoyHash() async throws -> String {
        if let existing = decoy.withLock({ $0 }) { return existing }
        let made = try await hash("decoy-\(UInt64.random(in: .min ... .max))")
        return decoy.withLock { stored in
            if stored == nil { stored = made }
            return stored ?? made
        }
    }
}

private enum ConcurrencyAdmission { case now, wait, refuse }

/// At most `maxRunning` bodies at once; up to `maxWaiting` more wait their turn in order, and
/// any beyond that are refused with a 503 problem.
final class ConcurrencyLimit: Sendable {
    private struct State {
        var running = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let maxRunning: Int
    private let maxWaiting: Int
    private let state = Mutex(State())

    init(maxRunning: Int, maxWaiting: Int) {
        self.maxRunning = maxRunning
        self.maxWaiting = maxWaiting
    }

    static var busy: Problem {
        Problem(
            type: Problem.typeURI("busy"), title: "Too busy to check passwords right now.", status: 503,
            detail: "Try again in a moment.", extensions: ["retryAfter": .int(1)])
    }

    func run<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        let admission: ConcurrencyAdmission = state.withLock { state in
            if state.running < maxRunning {
                state.running += 1
                return .now
            }
            return state.waiting.count < maxWaiting ? .wait : .refuse
        }
        switch admission {
        case .refuse:
            throw Self.busy
        case .wait:
            await withCheckedContinuation { continuation in
                let admitted = state.withLock { state in
                    // A slot may have come free between the two locks.
                    if state.running < maxRunning {
                        state.running += 1
                        return true
                    }
                    state.waiting.append(continuation)
                    return false
                }
                if admitted { continuation.resume() }
            }
        case .now:
            break
        }
        defer {
            // The slot passes straight to the next waiter, or is given back.
            let next: CheckedContinuation<Void, Never>? = state.withLock { state in
                guard !state.waiting.isEmpty else {
                    state.running -= 1
                    return nil
                }
                return state.waiting.removeFirst()
            }
            next?.resume()
        }
        return try await body()
    }
}
