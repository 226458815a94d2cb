import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// bcrypt, run on the blocking thread pool: a hash takes tens to hundreds of milliseconds of
/// CPU by design, which would stall every request sharing an event loop.
final class PasswordHasher: Sendable {
    /// Each step doubles the work: 11 is about 0.1 s on our machines. Tests use the minimum.
    let cost: UInt8
    private let decoy = Mutex<String?>(nil)

    init(cost: UInt8) {
        self.cost = cost
    }

    func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, against hash: String?) async throws -> Bool {
        let stored: String
        if let hash { stored = hash } else { stored = try await decoyHash() }
        let matches = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: stored) }
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
