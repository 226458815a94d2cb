import BoxofficeKit
import Crypto
import Foundation
import JWTKit

/// The signed queue ticket a fan gets at join: which performance, which fan, which place.
/// Checking it needs no lookup, so a status poll is arithmetic on it.
struct QueueTicket: Sendable, Equatable {
    /// Performance.
    let p: String
    /// Fan.
    let f: String
    /// Sequence number; nil while in the pre-queue.
    let s: Int?
}

/// Signs and checks queue tickets (HMAC-SHA256) and admission tokens (JWT, audience = the
/// performance), with keys derived from the platform's signing secret.
final class QueueCredentials: Sendable {
    private let ticketKey: SymmetricKey
    private let keys: JWTKeyCollection
    static let issuer = "boxoffice-queue"

    init(secret: [UInt8]) async {
        func derive(_ label: String) -> [UInt8] {
            Array(HMAC<SHA256>.authenticationCode(for: Data(label.utf8), using: SymmetricKey(data: secret)))
        }
        ticketKey = SymmetricKey(data: derive("waiting-room/queue-ticket"))
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: derive("waiting-room/access-token")), digestAlgorithm: .sha256)
    }

    /// `QT1.<base64url of "performance fan sequence">.<HMAC>`: no JSON, so checking a ticket on
    /// every poll is a hash and a split. (IDs never contain the space, and "-" marks the pre-queue.)
    func ticket(_ ticket: QueueTicket) -> String {
        let payload = Self.base64URL(Data("\(ticket.p) \(ticket.f) \(ticket.s.map(String.init) ?? "-")".utf8))
        let signature = Self.base64URL(Data(HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: ticketKey)))
        return "QT1.\(payload).\(signature)"
    }

    /// The ticket, if it is one of ours and unaltered.
    func verifyTicket(_ text: String) -> QueueTicket? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "QT1", let signature = Self.data(base64URL: String(parts[2])),
              HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data(parts[1].utf8), using: ticketKey),
              let payload = Self.data(base64URL: String(parts[1]))
        else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 3, !fields[0].isEmpty, !fields[1].isEmpty else { return nil }
        let sequence = fields[2] == "-" ? nil : Int(fields[2])
        guard fields[2] == "-" || sequence != nil else { return nil }
        return QueueTicket(p: String(fields[0]), f: String(fields[1]), s: sequence)
    }

    struct AccessClaims: JWTPayload {
        var sub: SubjectClaim
        var aud: AudienceClaim
        var iss: IssuerClaim
        var iat: IssuedAtClaim
        var exp: ExpirationClaim

        // Time is checked against the injected clock by `verifyAccess`.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    func accessToken(performanceID: String, fanID: String, issuedAt: Date, expiresAt: Date) async throws -> String {
        try await keys.sign(AccessClaims(
            sub: SubjectClaim(value: fanID), aud: AudienceClaim(value: [performanceID]), iss: IssuerClaim(value: Self.issuer),
            iat: IssuedAtClaim(value: issuedAt), exp: ExpirationClaim(value: expiresAt)))
    }

    /// Throws a 403 problem unless `token` admits `fanID` to `performanceID` at `now`.
    func verifyAccess(_ token: String?, performanceID: String, fanID: String, now: Date) async throws {
        guard let token, !token.isEmpty else {
            throw Problem.queueAccessRequired(detail: "This performance sells through its waiting room: send the Queue-Access token it gave you.")
        }
        let claims: AccessClaims
        do {
            claims = try await keys.verify(token, as: AccessClaims.self)
        } catch {
            throw Problem.queueAccessRequired(detail: "The Queue-Access token is not valid.")
        }
        guard claims.iss.value == Self.issuer, claims.aud.value.contains(performanceID) else {
            throw Problem.queueAccessRequired(detail: "The Queue-Access token is for another performance.")
        }
        guard claims.sub.value == fanID else { throw Problem.queueAccessRequired(detail: "The Queue-Access token is someone else's.") }
        guard claims.exp.value > now else {
            throw Problem.queueAccessRequired(detail: "Your shopping session has ended; join the queue again.")
        }
    }

    private static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func data(base64URL text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}

extension Problem {
    static func queueAccessRequired(detail: String) -> Problem {
        Problem(type: typeURI("queue-access-required"), title: "Admission through the waiting room is required.", status: 403, detail: detail)
    }
}
