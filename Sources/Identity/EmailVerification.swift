import BoxofficeKit
import Coordination
import Crypto
import Foundation
import Logging
import Messaging
import Persistence
import SQLKit

/// Proving that an account's owner reads its address: a signed link (no table of pending
/// verifications: the link carries the user, the address and an expiry, under an HMAC), mailed
/// when the account is made and again on request.
struct EmailVerificationToken {
    let userID: String
    let email: String
    let expiresAt: Date

    static let lifetime: TimeInterval = 3 * 24 * 3600

    /// `EV1.<user>.<expiry seconds>.<base64url of the email>.<base64url HMAC>`.
    func signed(with key: SymmetricKey) -> String {
        let body = "EV1.\(userID).\(Int(expiresAt.timeIntervalSince1970)).\(Secrets.base64URL(Data(email.lowercased().utf8)))"
        return body + "." + Secrets.base64URL(Data(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: key)))
    }

    /// The token's content when its signature holds and it has not expired.
    static func verify(_ token: String, key: SymmetricKey, now: Date) -> EmailVerificationToken? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.count <= 1024, parts.count == 5, parts[0] == "EV1", let expiry = Int(parts[2]),
              let mac = Secrets.data(base64URL: String(parts[4])), let emailBytes = Secrets.data(base64URL: String(parts[3]))
        else { return nil }
        let body = parts[0..<4].joined(separator: ".")
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data(body.utf8), using: key) else { return nil }
        let expiresAt = Date(timeIntervalSince1970: Double(expiry))
        guard expiresAt > now else { return nil }
        return EmailVerificationToken(userID: String(parts[1]), email: String(decoding: emailBytes, as: UTF8.self), expiresAt: expiresAt)
    }

}

extension IdentityService {
    /// The verification key of one signing key: links are signed with the current one, and
    /// those sent before a rotation keep working for its overlap.
    private func verificationKey(_ key: SigningKeys.Key) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: Self.rotationSecret(from: key), info: Data("boxoffice email verification v1".utf8),
            outputByteCount: 32)
    }

    /// The link that verifies the user's current address, and where to send it; nil when
    /// there is nothing to verify (no such user, or already verified).
    func verificationMail(userID: String, publicURL: String) async throws -> MailMessage? {
        guard let user = try await database.read({ sql in try await Self.fetchUser(sql, id: userID) }), !user.emailVerified else { return nil }
        let token = EmailVerificationToken(userID: user.id, email: user.email, expiresAt: clock.now().addingTimeInterval(EmailVerificationToken.lifetime))
        var link = URLComponents(string: publicURL + "/v1/auth/verify-email")
        link?.queryItems = [URLQueryItem(name: "token", value: token.signed(with: verificationKey(configuration.signingKeys.signing)))]
        let url = link?.string ?? publicURL
        return MailMessage(
            to: user.email, subject: "Confirm your email address for Boxoffice",
            text: """
                Hello \(user.name),

                Please confirm that this is your email address by opening this link within three days:

                \(url)

                If you did not create a Boxoffice account, ignore this mail; nothing happens without the link.
                """)
    }

    /// Marks the address in a valid link as verified (again is fine). The link stops working
    /// when the account's address has changed since it was sent.
    public func verifyEmail(token: String) async throws -> User {
        let now = clock.now()
        guard let claim = configuration.signingKeys.snapshot.verifying.lazy
            .compactMap({ EmailVerificationToken.verify(token, key: self.verificationKey($0), now: now) }).first
        else {
            throw Problem(
                type: Problem.typeURI("verification-link-invalid"), title: "This verification link does not work.", status: 403,
                detail: "It is expired, damaged or not ours. Sign in and ask for a new one.")
        }
        let updated = try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                UPDATE users SET email_verified_at = COALESCE(email_verified_at, \(bind: self.clock.now()))
                WHERE id = \(bind: claim.userID) AND email_normalized = \(bind: AccountRules.normalizedEmail(claim.email))
                RETURNING id
                """).first() != nil
        }
        guard updated else {
            throw Problem(
                type: Problem.typeURI("verification-link-invalid"), title: "This verification link does not work.", status: 403,
                detail: "The account's email address has changed since it was sent. Ask for a new one.")
        }
        logger.info("email verified", metadata: ["user_id": .string(claim.userID)])
        return try await user(id: claim.userID)
    }

    /// Sends the verification mail again (a few times an hour at most).
    public func requestVerificationEmail(userID: String) async throws {
        try await throttle("verification-mail:\(userID)", limit: .perPeriod(3, 3600))
        let current = try await user(id: userID)
        guard !current.emailVerified else {
            throw Problem.conflict(detail: "Your email address is already verified.", slug: "email-already-verified")
        }
        try await database.withTransaction { transaction in
            try await self.outbox.publish(EmailVerificationRequested(userID: userID), in: transaction)
        }
    }
}

/// Mails the verification link when an account is made (unless a provider already verified
/// the address) and whenever its owner asks again: queued from the event, after the account's
/// transaction committed, so a mail server that is down delays the mail, never the sign-up.
public struct VerificationMail: EventSubscriber {
    public let name = "identity.verification-mail"
    public let eventTypes: Set<String> = [UserRegistered.eventType, EmailVerificationRequested.eventType]
    private let identity: IdentityService
    private let mail: any MailOutbox
    private let publicURL: String

    public init(identity: IdentityService, mail: any MailOutbox, publicURL: String) {
        self.identity = identity
        self.mail = mail
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
    }

    private struct About: Decodable {
        let userID: String
    }

    public func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        let about = try event.decodePayload(as: About.self)
        guard let message = try await identity.verificationMail(userID: about.userID, publicURL: publicURL) else { return }
        // Each request is its own mail: a fan who asks again gets a fresh link.
        _ = try await mail.enqueue(message, key: "verification:\(event.id)", in: transaction)
    }
}
