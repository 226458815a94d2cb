import BoxofficeKit
import Coordination
import Foundation
import HTTPKit
import Hummingbird
import Logging
import Persistence
import SQLKit

/// Cookie sign-in for the web pages: a server-side session behind an HttpOnly cookie, a CSRF
/// token the page echoes in `X-CSRF-Token`, and an optional "remember me" token that starts a
/// new session when the old one has ended.
///
/// Remember-me tokens rotate on every use. Presenting a series with a stale token means the
/// cookie was copied: every remember-me series of that user is revoked and the event logged.
public final class BrowserSessions: CookieAuthenticator {
    public static let sessionCookie = "bo_session"
    public static let csrfCookie = "bo_csrf"
    public static let rememberCookie = "bo_remember"

    public struct Configuration: Sendable {
        public var sessionLifetime: TimeInterval = 12 * 3600
        public var rememberLifetime: TimeInterval = 30 * 24 * 3600
        public init() {}
    }

    /// What a session stores: who, the CSRF token pages must echo, and the generation of the
    /// user's sessions it began in. Roles are read afresh on every request, never from here.
    struct StoredSession: Codable {
        let userID: String
        let roles: [Role]
        let csrfToken: String
        /// Absent in sessions stored before generations were kept: generation 0.
        let generation: Int?
    }

    public struct SignedIn: Sendable {
        public let user: User
        public let csrfToken: String
        public let cookies: [Cookie]
    }

    private let identity: IdentityService
    private let store: any SessionStore
    private let clock: any WallClock
    private let configuration: Configuration
    private let logger: Logger

    public init(
        identity: IdentityService, store: any SessionStore, clock: any WallClock,
        configuration: Configuration = Configuration(), logger: Logger
    ) {
        self.identity = identity
        self.store = store
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
    }

    public func signIn(
        email: String, password: String, rememberMe: Bool, clientAddress: String?, secure: Bool
    ) async throws -> SignedIn {
        let user = try await identity.verifyCredentials(email: email, password: password, clientAddress: clientAddress)
        let (csrfToken, cookies) = try await startSession(for: user, secure: secure)
        var all = cookies
        if rememberMe {
            all.append(rememberCookie(try await issueRememberToken(userID: user.id), secure: secure))
        }
        return SignedIn(user: user, csrfToken: csrfToken, cookies: all)
    }

    /// Starts a session for someone already authenticated (e.g. by an external provider).
    public func start(for user: User, secure: Bool) async throws -> [Cookie] {
        try await startSession(for: user, secure: secure).cookies
    }

    /// Ends the browser's session and its remember-me series; returns cookies that clear both.
    public func signOut(_ request: Request, secure: Bool) async throws -> [Cookie] {
        if let token = request.cookies[Self.sessionCookie]?.value {
            try await store.delete(sha256Hex(token))
        }
        if let remembered = request.cookies[Self.rememberCookie].flatMap({ OpaqueToken($0.value) }) {
            try await identity.database.withTransaction { transaction in
                try await transaction.sql.raw("DELETE FROM remember_tokens WHERE series = \(bind: remembered.id)").run()
            }
        }
        return [Self.sessionCookie, Self.csrfCookie, Self.rememberCookie].map { name in
            Cookie(name: name, value: "", maxAge: 0, path: "/", secure: secure, httpOnly: true, sameSite: .lax)
        }
    }

    public func session(for request: Request, secure: Bool) async throws -> CookieSession? {
        if let token = request.cookies[Self.sessionCookie]?.value,
           let data = try await store.load(sha256Hex(token)),
           let stored = try? JSONDecoder().decode(StoredSession.self, from: data) {
            if let standing = try await identity.sessionStanding(userID: stored.userID), standing.generation == stored.generation ?? 0 {
                return CookieSession(principal: standing.user.principal, csrfToken: stored.csrfToken)
            }
            // Signed out everywhere since (or the account is gone): this session is over.
            try await store.delete(sha256Hex(token))
        }
        guard let remembered = request.cookies[Self.rememberCookie].flatMap({ OpaqueToken($0.value) }),
              let (userID, renewed) = try await redeem(remembered)
        else { return nil }
        guard let standing = try await identity.sessionStanding(userID: userID) else { return nil }
        let (csrfToken, cookies) = try await startSession(for: standing.user, generation: standing.generation, secure: secure)
        let user = standing.user
        return CookieSession(
            principal: user.principal, csrfToken: csrfToken, cookiesToSet: cookies + [rememberCookie(renewed, secure: secure)])
    }

    // MARK: Internals

    private func startSession(for user: User, generation: Int? = nil, secure: Bool) async throws -> (csrfToken: String, cookies: [Cookie]) {
        let token = Secrets.token()
        let csrfToken = Secrets.token(bytes: 24)
        var generation = generation
        if generation == nil { generation = try await identity.sessionStanding(userID: user.id)?.generation ?? 0 }
        let data = try JSONEncoder().encode(StoredSession(userID: user.id, roles: user.roles, csrfToken: csrfToken, generation: generation))
        try await store.save(sha256Hex(token), data: data, expiresAt: clock.now().addingTimeInterval(configuration.sessionLifetime))
        return (csrfToken, [
            Cookie(name: Self.sessionCookie, value: token, path: "/", secure: secure, httpOnly: true, sameSite: .lax),
            // Readable by the page's script, which echoes it in X-CSRF-Token.
            Cookie(name: Self.csrfCookie, value: csrfToken, path: "/", secure: secure, httpOnly: false, sameSite: .lax),
        ])
    }

    private func rememberCookie(_ token: OpaqueToken, secure: Bool) -> Cookie {
        Cookie(
            name: Self.rememberCookie, value: token.value, maxAge: Int(configuration.rememberLifetime), path: "/",
            secure: secure, httpOnly: true, sameSite: .lax)
    }

    private func issueRememberToken(userID: String) async throws -> OpaqueToken {
        let token = OpaqueToken(id: Secrets.token(bytes: 16))
        let now = clock.now()
        try await identity.database.withTransaction { transaction in
            try await transaction.sql.raw("""
                INSERT INTO remember_tokens (series, user_id, token_hash, expires_at, last_used_at)
                VALUES (\(bind: token.id), \(bind: userID), \(bind: token.secretHash),
                        \(bind: now.addingTimeInterval(self.configuration.rememberLifetime)), \(bind: now))
                """).run()
        }
        return token
    }

    private enum Redemption: Sendable {
        case unknown
        case stolen(userID: String)
        case renewed(userID: String, token: String)
    }

    /// Exchanges a remember-me token for its user and the series' next token.
    private func redeem(_ presented: OpaqueToken) async throws -> (userID: String, renewed: OpaqueToken)? {
        let now = clock.now()
        let next = OpaqueToken(id: presented.id)
        let outcome: Redemption = try await identity.database.withTransaction { transaction in
            let lock = transaction.dialect == .postgres ? " FOR UPDATE" : ""
            guard let row = try await transaction.sql.raw("""
                SELECT user_id, token_hash, expires_at FROM remember_tokens WHERE series = \(bind: presented.id)\(unsafeRaw: lock)
                """).first()
            else { return .unknown }
            let userID = try row.decode(column: "user_id", as: String.self)
            guard try row.decode(column: "expires_at", as: Date.self) > now else {
                try await transaction.sql.raw("DELETE FROM remember_tokens WHERE series = \(bind: presented.id)").run()
                return .unknown
            }
            guard Secrets.constantTimeEquals(try row.decode(column: "token_hash", as: String.self), presented.secretHash) else {
                // A copied cookie: whoever holds a session of this user now may be the thief.
                try await self.identity.endEverySession(userID: userID, at: now, in: transaction)
                return .stolen(userID: userID)
            }
            try await transaction.sql.raw("""
                UPDATE remember_tokens
                SET token_hash = \(bind: next.secretHash), last_used_at = \(bind: now),
                    expires_at = \(bind: now.addingTimeInterval(self.configuration.rememberLifetime))
                WHERE series = \(bind: presented.id)
                """).run()
            return .renewed(userID: userID, token: next.value)
        }
        switch outcome {
        case .unknown:
            return nil
        case .stolen(let userID):
            logger.warning(
                "stale remember-me token presented; every session of the user revoked",
                metadata: ["user_id": .string(userID), "security": "remember_token_theft"])
            return nil
        case .renewed(let userID, _):
            return (userID, next)
        }
    }
}
