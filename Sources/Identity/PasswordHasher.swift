import HummingbirdBcrypt
import NIOPosix

/// bcrypt, run on the blocking thread pool: a hash takes tens to hundreds of milliseconds of
/// CPU by design, which would stall every request sharing an event loop.
struct PasswordHasher: Sendable {
    /// Each step doubles the work: 11 is about 0.1 s on our machines. Tests use the minimum.
    let cost: UInt8

    /// A real hash of a random string, verified against when the account does not exist, so
    /// that "no such user" takes as long as "wrong password" and timing reveals nothing.
    private static let decoyHash = Bcrypt.hash("decoy-\(UInt64.random(in: .min ... .max))", cost: 4)

    func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, against hash: String?) async throws -> Bool {
        let stored = hash ?? Self.decoyHash
        let matches = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: stored) }
        return matches && hash != nil
    }
}
