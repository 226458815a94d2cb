import BoxofficeKit
import Coordination
import Crypto
import Foundation
import HTTPKit
import Logging
import Messaging
import Persistence
import SQLKit

/// Accounts, credentials and roles: everything about who someone is.
public final class IdentityService: Sendable {
    public struct Configuration: Sendable {
        public var accessTokenLifetime: TimeInterval = 15 * 60
        public var refreshTokenLifetime: TimeInterval = 30 * 24 * 3600
        public var bcryptCost: UInt8 = 11
        /// Sign-in attempts allowed for one account from one client address: a guesser
        /// elsewhere cannot lock the owner out. Reset by a success.
        public var signInsPerAccountAndAddress = RateLimit.perPeriod(5, 15 * 60)
        /// Attempts allowed for one account from anywhere (a guesser with many addresses).
        /// Reset by a success.
        public var signInsPerAccount = RateLimit.perPeriod(50, 15 * 60)
        /// Failed sign-ins allowed from one client address, for any accounts (spraying). Only
        /// failures count: many fans behind one address sign in successfully all the time.
        public var failedSignInsPerAddress = RateLimit.perPeriod(30, 15 * 60)
        /// How long after a refresh token is used a second use (another tab refreshing at the
        /// same moment) gets the same new pair instead of revoking the session.
        public var refreshReuseGrace: TimeInterval = 10
        /// The platform's signing keys: a rotated refresh token is derived from the one it
        /// replaces under a key of their own, so a second use within the grace can be answered
        /// with the same token without storing it; email verification links are signed the
        /// same way. The composition root passes the shared ring.
        public var signingKeys = SigningKeys(fixed: Array(Secrets.token().utf8))

        public init() {}
    }

    /// The refresh-rotation secret of one signing key (never the key itself); email
    /// verification derives its own key from this one.
    static func rotationSecret(from key: SigningKeys.Key) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: key.secret), info: Data("boxoffice refresh rotation v1".utf8), outputByteCount: 32)
    }

    /// A signed-in session as the API returns it.
    public struct Session: Codable, Sendable {
        public let accessToken: String
        public let refreshToken: String
        public let tokenType: String
        /// Seconds until the access token expires.
        public let expiresIn: Int
        public let user: User
    }

    let database: Database
    let outbox: Outbox
    let accessTokens: AccessTokens
    let humanCheck: any HumanCheck
    /// Set when the human check is the built-in proof of work, which hands out challenges.
    let proofOfWork: ProofOfWorkCheck?
    private let rateLimiter: any RateLimiter
    let clock: any WallClock
    private let ids: IDGenerator
    private let passwords: PasswordHasher
    let configuration: Configuration
    let logger: Logger

    public init(
        database: Database, outbox: Outbox, accessTokens: AccessTokens, humanCheck: any HumanCheck,
        rateLimiter: any RateLimiter, clock: any WallClock, configuration: Configuration = Configuration(), logger: Logger
    ) {
        self.humanCheck = humanCheck
        self.proofOfWork = humanCheck as? ProofOfWorkCheck
        self.database = database
        self.outbox = outbox
        self.accessTokens = accessTokens
        self.rateLimiter = rateLimiter
        self.clock = clock
        self.ids = IDGenerator(clock: clock)
        self.passwords = PasswordHasher(cost: configuration.bcryptCost)
        self.configuration = configuration
        self.logger = logger
    }

    /// An access token for a user the caller has already authenticated (trusted server code only).
    public func issueAccessToken(for user: User) async throws -> String {
        try await accessTokens.issue(for: user)
    }

    /// What the HTTP edge uses to authenticate requests.
    public var accessTokenVerifier: any AccessTokenVerifier { accessTokens }

    // MARK: Accounts

    /// Whether sign-up must pass the human check: always from the API, never from the CLI.
    public enum HumanVerification: Sendable {
        case required(HumanCheckProof?, clientAddress: String?)
        case trustedCaller
    }

    /// Creates an account with the given roles (fans sign up with none beyond `fan`).
    public func signUp(
        email: String, password: String, name: String, roles: Set<Role> = [], language: String? = nil, verification: HumanVerification
    ) async throws -> User {
        var errors: [Problem.FieldError] = []
        var chosenLanguage = "ko"
        do { chosenLanguage = try AccountRules.language(language) ?? chosenLanguage } catch { errors += error.errors ?? [] }
        if let problem = AccountRules.emailProblem(email) { errors.append(.init(field: "email", message: problem)) }
        if let problem = AccountRules.passwordProblem(password, email: email) { errors.append(.init(field: "password", message: problem)) }
        if let problem = AccountRules.nameProblem(name) { errors.append(.init(field: "name", message: problem)) }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        // After validation, so a typo does not burn a solved challenge.
        if case .required(let proof, let clientAddress) = verification {
            try await humanCheck.verify(proof, clientAddress: clientAddress)
        }

        let hash = try await passwords.hash(password)
        let id = ids.next()
        let now = clock.now()
        let storedRoles = AccountRules.encode(roles)
        let trimmedEmail = email.trimmingCharacters(in: .whitespacesAndNewlines)
        let trimmedName = name.trimmingCharacters(in: .whitespacesAndNewlines)
        let created = try await database.withTransaction { transaction in
            // ON CONFLICT instead of catching the unique violation: no error parsing per dialect,
            // and a duplicate costs no aborted transaction.
            let inserted = try await transaction.sql.raw("""
                INSERT INTO users (id, email, email_normalized, name, password_hash, roles, language, created_at, updated_at)
                VALUES (\(bind: id), \(bind: trimmedEmail), \(bind: AccountRules.normalizedEmail(email)),
                        \(bind: trimmedName), \(bind: hash), \(bind: storedRoles), \(bind: chosenLanguage), \(bind: now), \(bind: now))
                ON CONFLICT (email_normalized) DO NOTHING
                RETURNING id
                """).first()
            guard inserted != nil else { return false }
            try await self.outbox.publish(UserRegistered(userID: id, roles: AccountRules.decode(storedRoles)), in: transaction)
            return true
        }
        guard created else {
            // Each "already registered" tells who has an account: a few an hour per address.
            if case .required(_, let clientAddress) = verification {
                try await throttle("signup-taken:\(clientAddress ?? "unknown")", limit: .perPeriod(10, 3600))
            }
            throw Problem(
                type: Problem.typeURI("email-taken"), title: "The email address is already registered.", status: 409,
                detail: "An account with this email address exists; sign in instead.",
                errors: [.init(field: "email", message: "is already registered")])
        }
        return User(id: id, email: trimmedEmail, name: trimmedName, roles: AccountRules.decode(storedRoles), language: chosenLanguage)
    }

    /// For `boxoffice drill`: accounts made in bulk, with no password (nobody signs in as them;
    /// the drill issues their tokens) and a verified address (no mail goes out), a few hundred
    /// per transaction. Returns the users, in the order asked.
    public func provisionAccounts(_ accounts: [(email: String, name: String)], roles: Set<Role> = []) async throws -> [User] {
        let storedRoles = AccountRules.encode(roles)
        var users: [User] = []
        for batch in stride(from: 0, to: accounts.count, by: 250).map({ Array(accounts[$0..<min($0 + 250, accounts.count)]) }) {
            let now = clock.now()
            let made = batch.map { account in
                User(id: ids.next(), email: account.email, name: account.name, roles: AccountRules.decode(storedRoles), emailVerified: true)
            }
            try await database.withTransaction { transaction in
                var insert: SQLQueryString = """
                    INSERT INTO users (id, email, email_normalized, name, password_hash, roles, language, created_at, updated_at, email_verified_at)
                    VALUES
                    """
                for (index, user) in made.enumerated() {
                    insert += index == 0 ? " " : ", "
                    insert += """
                        (\(bind: user.id), \(bind: user.email), \(bind: AccountRules.normalizedEmail(user.email)), \(bind: user.name), NULL,
                         \(bind: storedRoles), 'ko', \(bind: now), \(bind: now), \(bind: now))
                        """
                }
                try await transaction.sql.raw(insert).run()
                for user in made {
                    try await self.outbox.publish(UserRegistered(userID: user.id, roles: user.roles), in: transaction)
                }
            }
            users += made
        }
        return users
    }

    public func user(id: String) async throws -> User {
        guard let user = try await database.read({ sql in try await Self.fetchUser(sql, id: id) }) else {
            throw Problem.notFound(detail: "No such user.")
        }
        return user
    }

    /// The account with this email (compared as sign-in compares it), if there is one.
    public func userID(forEmail email: String) async throws -> String? {
        try await database.read { sql in
            try await sql.raw("SELECT id FROM users WHERE email_normalized = \(bind: AccountRules.normalizedEmail(email))").first()?
                .decode(column: "id", as: String.self)
        }
    }

    /// Email, name and mail language of these accounts, for sales views and mail.
    public func contacts(of userIDs: [String]) async throws -> [String: FanContact] {
        var contacts: [String: FanContact] = [:]
        for chunk in Array(Set(userIDs)).chunked(500) {
            var query: SQLQueryString = "SELECT id, email, name, language FROM users WHERE id IN ("
            for (index, id) in chunk.enumerated() { query += index == 0 ? "\(bind: id)" : ", \(bind: id)" }
            query += ")"
            let finished = query
            for row in try await database.read({ sql in try await sql.raw(finished).all() }) {
                let id = try row.decode(column: "id", as: String.self)
                contacts[id] = FanContact(
                    userId: id, email: try row.decode(column: "email", as: String.self), name: try row.decode(column: "name", as: String.self),
                    language: try row.decode(column: "language", as: String.self))
            }
        }
        return contacts
    }

    /// The account with this email, for someone passing a ticket on. Each miss is counted for
    /// `askedBy` (five an hour): enough for typos, too few to test which addresses have accounts.
    public func recipient(forEmail email: String, askedBy: String) async throws -> String? {
        if let found = try await userID(forEmail: email) { return found }
        try await throttle("recipient-miss:\(askedBy)", limit: .perPeriod(5, 3600))
        return nil
    }

    public func updateProfile(userID: String, name: String?, language: String? = nil) async throws -> User {
        // Both checked before either is written: a bad field changes nothing.
        if let name, let problem = AccountRules.nameProblem(name) { throw Problem.validation([.init(field: "name", message: problem)]) }
        let language = try AccountRules.language(language)
        let trimmedName = name?.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmedName != nil || language != nil {
            try await database.withTransaction { transaction in
                try await transaction.sql.raw("""
                    UPDATE users SET name = COALESCE(\(bind: trimmedName), name), language = COALESCE(\(bind: language), language),
                                     updated_at = \(bind: self.clock.now())
                    WHERE id = \(bind: userID)
                    """).run()
            }
        }
        return try await user(id: userID)
    }

    /// Changes the password after checking the current one, and signs out every session.
    public func changePassword(userID: String, current: String, new: String) async throws {
        let stored = try await database.read { sql in
            try await sql.raw("SELECT email, password_hash FROM users WHERE id = \(bind: userID)").first()
        }
        guard let stored else { throw Problem.notFound(detail: "No such user.") }
        let email = try stored.decode(column: "email", as: String.self)
        guard try await passwords.verify(current, against: try stored.decode(column: "password_hash", as: String?.self)) else {
            throw Problem.validation([.init(field: "currentPassword", message: "is not your current password")])
        }
        if let problem = AccountRules.passwordProblem(new, email: email) {
            throw Problem.validation([.init(field: "newPassword", message: problem)])
        }
        let hash = try await passwords.hash(new)
        let now = clock.now()
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                UPDATE users SET password_hash = \(bind: hash), updated_at = \(bind: now) WHERE id = \(bind: userID)
                """).run()
            try await self.endEverySession(userID: userID, at: now, in: transaction)
        }
        logger.notice("password changed; sessions revoked", metadata: ["user_id": .string(userID), "security": "password_change"])
    }

    /// Signs a user out everywhere: refresh tokens, remember-me series and cookie sessions
    /// (whose stored generation no longer matches the user's).
    func endEverySession(userID: String, at now: Date, in transaction: DatabaseTransaction) async throws {
        try await transaction.sql.raw("""
            UPDATE refresh_tokens SET revoked_at = \(bind: now) WHERE user_id = \(bind: userID) AND revoked_at IS NULL
            """).run()
        try await transaction.sql.raw("DELETE FROM remember_tokens WHERE user_id = \(bind: userID)").run()
        try await transaction.sql.raw("UPDATE users SET session_generation = session_generation + 1 WHERE id = \(bind: userID)").run()
    }

    /// Spent proof-of-work challenges once they would have expired anyway, and refresh tokens
    /// `retention` seconds after they expired (replaying one that old is refused either way).
    public func retentionRules(retention: TimeInterval) -> [RetentionRule] {
        [
            RetentionRule(name: "spent_challenges") { [database] now, limit in
                try await database.pruneBatch(table: "spent_challenges", key: ["id"], timeColumn: "expires_at", olderThan: now, limit: limit)
            },
            RetentionRule(name: "refresh_tokens") { [database] now, limit in
                try await database.pruneBatch(
                    table: "refresh_tokens", key: ["id"], timeColumn: "expires_at", olderThan: now.addingTimeInterval(-retention), limit: limit)
            },
        ]
    }

    /// What a cookie session is checked against on every request: the user's roles as they
    /// are now (a demoted admin is demoted at once) and the generation of their sessions.
    func sessionStanding(userID: String) async throws -> (user: User, generation: Int)? {
        // One read per cookie request: the user and the generation together.
        try await database.read { sql in
            guard let row = try await sql.raw("""
                SELECT \(unsafeRaw: Self.userColumns), session_generation FROM users WHERE id = \(bind: userID)
                """).first()
            else { return nil }
            return (try Self.user(row), try row.decode(column: "session_generation", as: Int.self))
        }
    }

    /// Replaces a user's roles (every user keeps `fan`).
    public func setRoles(userID: String, roles: Set<Role>, by admin: Principal) async throws -> User {
        let stored = AccountRules.encode(roles)
        let changed = try await database.withTransaction { transaction in
            let row = try await transaction.sql.raw("""
                UPDATE users SET roles = \(bind: stored), updated_at = \(bind: self.clock.now())
                WHERE id = \(bind: userID) RETURNING id
                """).first()
            guard row != nil else { return false }
            try await self.outbox.publish(
                UserRolesChanged(userID: userID, roles: AccountRules.decode(stored), changedBy: admin.userID), in: transaction)
            return true
        }
        guard changed else { throw Problem.notFound(detail: "No such user.") }
        logger.notice(
            "roles changed",
            metadata: ["user_id": .string(userID), "roles": .string(stored), "by": .string(admin.userID), "security": "roles_change"])
        return try await user(id: userID)
    }

    /// For the CLI: creates an admin, or with `promoteExisting` makes an existing account one
    /// (whose password stays its own). Without it an existing account is refused: someone may
    /// have signed up with the intended admin's address first. Returns the user and whether it
    /// was created.
    public func createAdmin(
        email: String, password: String, name: String, promoteExisting: Bool = false
    ) async throws -> (user: User, created: Bool) {
        let existing = try await database.read { sql in
            try await sql.raw("SELECT id FROM users WHERE email_normalized = \(bind: AccountRules.normalizedEmail(email))")
                .first()?.decode(column: "id", as: String.self)
        }
        if let existing {
            guard promoteExisting else {
                throw Problem.conflict(
                    detail: "An account with this email already exists; its password was not changed and it was not made an administrator. Check who owns it, then run again with --promote-existing.",
                    slug: "email-taken")
            }
            let current = try await user(id: existing)
            let system = Principal(userID: "cli", roles: [.admin])
            return (try await setRoles(userID: existing, roles: Set(current.roles).union([.admin]), by: system), false)
        }
        return (try await signUp(email: email, password: password, name: name, roles: [.admin], verification: .trustedCaller), true)
    }

    /// Signs in someone a provider vouched for: the account linked to `(provider, subject)`;
    /// else the account with the same email, linked now only when both sides verified it (the
    /// provider in its signed claim, the account by the link we mailed), so nobody owns another's
    /// later sign-in by registering the address first, here or at a careless provider; else a
    /// new account. `emailVerified` is the provider's claim; `emailTrusted` adds providers
    /// whose profile API only hands out checked addresses (enough to create, never to link).
    func signInExternal(
        provider: String, subject: String, email: String?, emailVerified: Bool, emailTrusted: Bool, name: String?
    ) async throws -> User {
        let now = clock.now()
        let linked: String? = try await database.withTransaction { transaction in
            if let userID = try await transaction.sql.raw("""
                SELECT user_id FROM external_identities WHERE provider = \(bind: provider) AND subject = \(bind: subject)
                """).first()?.decode(column: "user_id", as: String.self) {
                return userID
            }
            guard let email, emailVerified || emailTrusted, AccountRules.emailProblem(email) == nil else { return nil }
            let normalized = AccountRules.normalizedEmail(email)
            let existing = try await transaction.sql.raw("""
                SELECT id, email_verified_at FROM users WHERE email_normalized = \(bind: normalized)
                """).first()
            var userID = try existing?.decode(column: "id", as: String.self)
            if existing != nil {
                guard emailVerified, try existing?.decode(column: "email_verified_at", as: Date?.self) != nil else {
                    throw Problem(
                        type: Problem.typeURI("oauth-account-unverified"), title: "An account with this email already exists.", status: 409,
                        detail: "Sign in with your password. Once the account's email address is verified (the link we mailed), signing in with \(provider) joins it.")
                }
            }
            if userID == nil {
                let id = self.ids.next()
                let displayName = name.flatMap { AccountRules.nameProblem($0) == nil ? $0.trimmingCharacters(in: .whitespacesAndNewlines) : nil }
                    ?? String(normalized.prefix { $0 != "@" })
                try await transaction.sql.raw("""
                    INSERT INTO users (id, email, email_normalized, name, password_hash, roles, created_at, updated_at, email_verified_at)
                    VALUES (\(bind: id), \(bind: email.trimmingCharacters(in: .whitespacesAndNewlines)), \(bind: normalized),
                            \(bind: displayName), NULL, \(bind: AccountRules.encode([])), \(bind: now), \(bind: now),
                            \(bind: emailVerified ? now : nil))
                    """).run()
                try await self.outbox.publish(UserRegistered(userID: id, roles: [.fan]), in: transaction)
                userID = id
            }
            try await transaction.sql.raw("""
                INSERT INTO external_identities (provider, subject, user_id, email, linked_at)
                VALUES (\(bind: provider), \(bind: subject), \(bind: userID), \(bind: email), \(bind: now))
                """).run()
            return userID
        }
        guard let linked else {
            throw Problem(
                type: Problem.typeURI("oauth-email-unverified"), title: "The email address is not verified.", status: 403,
                detail: "\(provider) did not confirm a verified email address, so no account can be created or linked.")
        }
        logger.info("external sign-in", metadata: ["user_id": .string(linked), "provider": .string(provider)])
        return try await user(id: linked)
    }

    // MARK: Sessions

    public func signIn(email: String, password: String, clientAddress: String?) async throws -> Session {
        let user = try await verifyCredentials(email: email, password: password, clientAddress: clientAddress)
        let refreshToken = try await database.withTransaction { transaction in
            try await self.insertRefreshToken(userID: user.id, familyID: self.ids.next(), in: transaction)
        }
        return try await session(for: user, refreshToken: refreshToken)
    }

    /// Counts one event against `limit` for `key`; a 429 problem (with `Retry-After`) when the
    /// limit is spent. For per-address limits on anonymous endpoints.
    public func throttle(_ key: String, limit: RateLimit) async throws {
        let decision = try await rateLimiter.consume(key, limit: limit)
        guard decision.allowed else {
            logger.notice("throttled", metadata: ["key": .string(key)])
            throw Problem.tooManyRequests(retryAfterSeconds: decision.retryAfterSeconds)
        }
    }

    /// Checks an email and password, throttling attempts per account and address and per
    /// account, and failures per address. Attempts on an account are counted before the
    /// password is compared, in one atomic step per key, so parallel guesses cannot all slip
    /// past the limit into bcrypt (whose concurrency is bounded besides).
    func verifyCredentials(email: String, password: String, clientAddress: String?) async throws -> User {
        let normalized = AccountRules.normalizedEmail(email)
        // Keys of bounded size whatever was typed: the email is hashed.
        let account = SHA256.hash(data: Data(normalized.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
        let address = clientAddress ?? "unknown"
        let pairKey = "signin:pair:\(account):\(address)"
        let accountKey = "signin:account:\(account)"
        let addressKey = "signin:address:\(address)"
        func refuse(_ key: String, _ decision: RateLimitDecision) -> Problem {
            logger.warning("sign-in throttled", metadata: ["key": .string(key), "security": "signin_throttled"])
            return Problem.tooManyRequests(retryAfterSeconds: decision.retryAfterSeconds)
        }
        let spraying = try await rateLimiter.check(addressKey, limit: configuration.failedSignInsPerAddress)
        guard spraying.allowed else { throw refuse(addressKey, spraying) }
        for (key, limit) in [(pairKey, configuration.signInsPerAccountAndAddress), (accountKey, configuration.signInsPerAccount)] {
            let decision = try await rateLimiter.consume(key, limit: limit)
            guard decision.allowed else { throw refuse(key, decision) }
        }
        let row = try await database.read { sql in
            try await sql.raw("SELECT id, password_hash FROM users WHERE email_normalized = \(bind: normalized)").first()
        }
        let passwordHash = try row?.decode(column: "password_hash", as: String?.self)
        guard let row, try await passwords.verify(password, against: passwordHash) else {
            _ = try await rateLimiter.consume(addressKey, limit: configuration.failedSignInsPerAddress)
            throw Problem(
                type: Problem.typeURI("invalid-credentials"), title: "The email or password is wrong.", status: 401,
                detail: "Check the email address and password and try again.")
        }
        try await rateLimiter.reset(pairKey)
        try await rateLimiter.reset(accountKey)
        return try await user(id: try row.decode(column: "id", as: String.self))
    }

    /// Exchanges a refresh token for a new pair. Each refresh token works once: presenting a
    /// used one means it was stolen (or replayed), so its whole family is revoked, including the
    /// token that legitimately replaced it.
    public func refresh(_ presented: String) async throws -> Session {
        let invalid = Problem(
            type: Problem.typeURI("invalid-refresh-token"), title: "Authentication is required.", status: 401,
            detail: "The refresh token is not valid; sign in again.")
        guard let token = OpaqueToken(presented) else { throw invalid }
        let now = clock.now()
        let outcome: RotationOutcome = try await database.withTransaction { transaction in
            let lock = transaction.dialect == .postgres ? " FOR UPDATE" : ""
            guard let row = try await transaction.sql.raw("""
                SELECT family_id, user_id, secret_hash, expires_at, used_at, revoked_at, replaced_by
                FROM refresh_tokens WHERE id = \(bind: token.id)\(unsafeRaw: lock)
                """).first(),
                  Secrets.constantTimeEquals(try row.decode(column: "secret_hash", as: String.self), token.secretHash)
            else { return .invalid }
            let familyID = try row.decode(column: "family_id", as: String.self)
            let userID = try row.decode(column: "user_id", as: String.self)
            if try row.decode(column: "revoked_at", as: Date?.self) != nil { return .invalid }
            if let usedAt = try row.decode(column: "used_at", as: Date?.self) {
                // Two tabs refreshing at once: the later one gets the pair the first one got.
                if now.timeIntervalSince(usedAt) <= self.configuration.refreshReuseGrace,
                   let replacedBy = try row.decode(column: "replaced_by", as: String?.self),
                   let replacement = try await self.replacement(of: token, id: replacedBy, in: transaction) {
                    return .rotated(userID: userID, refreshToken: replacement.value)
                }
                try await transaction.sql.raw("""
                    UPDATE refresh_tokens SET revoked_at = \(bind: now) WHERE family_id = \(bind: familyID) AND revoked_at IS NULL
                    """).run()
                return .reused(userID: userID, familyID: familyID)
            }
            guard try row.decode(column: "expires_at", as: Date.self) > now else { return .invalid }
            let replacement = self.rotatedToken(from: token, id: self.ids.next())
            try await transaction.sql.raw("""
                UPDATE refresh_tokens SET used_at = \(bind: now), replaced_by = \(bind: replacement.id) WHERE id = \(bind: token.id)
                """).run()
            let issued = try await self.insertRefreshToken(userID: userID, familyID: familyID, token: replacement, in: transaction)
            return .rotated(userID: userID, refreshToken: issued)
        }
        switch outcome {
        case .invalid:
            throw invalid
        case .reused(let userID, let familyID):
            logger.warning(
                "refresh token reused; session family revoked",
                metadata: ["user_id": .string(userID), "family_id": .string(familyID), "security": "refresh_token_reuse"])
            throw invalid
        case .rotated(let userID, let refreshToken):
            return try await session(for: try await user(id: userID), refreshToken: refreshToken)
        }
    }

    /// Revokes the session the refresh token belongs to. Unknown tokens are ignored: signing
    /// out twice is not an error.
    public func signOut(_ presented: String) async throws {
        guard let token = OpaqueToken(presented) else { return }
        let now = clock.now()
        try await database.withTransaction { transaction in
            guard let row = try await transaction.sql.raw("""
                SELECT family_id, secret_hash FROM refresh_tokens WHERE id = \(bind: token.id)
                """).first(),
                  Secrets.constantTimeEquals(try row.decode(column: "secret_hash", as: String.self), token.secretHash)
            else { return }
            try await transaction.sql.raw("""
                UPDATE refresh_tokens SET revoked_at = \(bind: now)
                WHERE family_id = \(bind: try row.decode(column: "family_id", as: String.self)) AND revoked_at IS NULL
                """).run()
        }
    }

    // MARK: Internals

    private enum RotationOutcome: Sendable {
        case invalid
        case reused(userID: String, familyID: String)
        case rotated(userID: String, refreshToken: String)
    }

    private func session(for user: User, refreshToken: String) async throws -> Session {
        Session(
            accessToken: try await accessTokens.issue(for: user), refreshToken: refreshToken, tokenType: "Bearer",
            expiresIn: Int(accessTokens.lifetime), user: user)
    }

    /// The token that replaces `used`: its secret is a keyed hash of the used token, so the
    /// same one can be handed out again within the grace, and nobody without the key can
    /// compute it from a stolen old token.
    private func rotatedToken(from used: OpaqueToken, id: String, key: SigningKeys.Key? = nil) -> OpaqueToken {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("refresh-rotation:\(used.value):\(id)".utf8),
            using: Self.rotationSecret(from: key ?? configuration.signingKeys.signing))
        return OpaqueToken(id: id, secret: Secrets.base64URL(Data(mac)))
    }

    /// The token that already replaced `used`, worked out again: under whichever accepted key
    /// it was made with, as the signing key may have rotated since (or differ on another node).
    private func replacement(of used: OpaqueToken, id: String, in transaction: DatabaseTransaction) async throws -> OpaqueToken? {
        guard let stored = try await transaction.sql.raw("SELECT secret_hash FROM refresh_tokens WHERE id = \(bind: id)").first()?
            .decode(column: "secret_hash", as: String.self)
        else { return nil }
        return configuration.signingKeys.snapshot.verifying.lazy.map { self.rotatedToken(from: used, id: id, key: $0) }
            .first { Secrets.constantTimeEquals($0.secretHash, stored) }
    }

    private func insertRefreshToken(
        userID: String, familyID: String, token: OpaqueToken? = nil, in transaction: DatabaseTransaction
    ) async throws -> String {
        let token = token ?? OpaqueToken(id: ids.next())
        let now = clock.now()
        try await transaction.sql.raw("""
            INSERT INTO refresh_tokens (id, family_id, user_id, secret_hash, issued_at, expires_at)
            VALUES (\(bind: token.id), \(bind: familyID), \(bind: userID), \(bind: token.secretHash), \(bind: now),
                    \(bind: now.addingTimeInterval(configuration.refreshTokenLifetime)))
            """).run()
        return token.value
    }

    static func fetchUser(_ sql: any SQLDatabase, id: String) async throws -> User? {
        try await sql.raw("SELECT \(unsafeRaw: userColumns) FROM users WHERE id = \(bind: id)").first().map(user)
    }

    static let userColumns = "id, email, name, roles, email_verified_at, language"

    static func user(_ row: any SQLRow) throws -> User {
        User(
            id: try row.decode(column: "id", as: String.self),
            email: try row.decode(column: "email", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            roles: AccountRules.decode(try row.decode(column: "roles", as: String.self)),
            emailVerified: try row.decode(column: "email_verified_at", as: Date?.self) != nil,
            language: try row.decode(column: "language", as: String.self))
    }
}

extension IdentityService {
    /// The sign-up human check, for other places that want a person behind a request (the
    /// waiting room's join).
    public func verifyHuman(_ proof: HumanCheckProof?, clientAddress: String?) async throws {
        try await humanCheck.verify(proof, clientAddress: clientAddress)
    }
}
