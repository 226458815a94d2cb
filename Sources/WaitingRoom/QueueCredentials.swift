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
    private let ticketKeys: DerivedSigningKeys<SymmetricKey>
    /// Every accepted key under its generation as `kid`, and the one to sign with.
    private let accessKeys: AsyncDerivedSigningKeys<(collection: JWTKeyCollection, signingKid: JWKIdentifier)>
    static let issuer = "boxoffice-queue"

    init(keys: SigningKeys) {
        @Sendable func derive(_ label: String, from key: SigningKeys.Key) -> [UInt8] {
            Array(HMAC<SHA256>.authenticationCode(for: Data(label.utf8), using: SymmetricKey(data: key.secret)))
        }
        @Sendable func kid(_ key: SigningKeys.Key) -> JWKIdentifier { JWKIdentifier(string: key.id) }
        ticketKeys = DerivedSigningKeys(keys) { SymmetricKey(data: derive("waiting-room/queue-ticket", from: $0)) }
        accessKeys = AsyncDerivedSigningKeys(keys) { snapshot in
            let collection = JWTKeyCollection()
            for key in snapshot.verifying {
                await collection.add(hmac: HMACKey(from: derive("waiting-room/access-token", from: key)), digestAlgorithm: .sha256, kid: kid(key))
            }
            return (collection, kid(snapshot.signing))
        }
    }

    /// `QT1.<base64url of "performance fan sequence">.<HMAC>`: no JSON, so checking a ticket on
    /// every poll is a hash and a split. (IDs never contain the space, and "-" marks the pre-queue.)
    func ticket(_ ticket: QueueTicket) -> String {
        let payload = Secrets.base64URL(Data("\(ticket.p) \(ticket.f) \(ticket.s.map(String.init) ?? "-")".utf8))
        let signature = Secrets.base64URL(Data(HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: ticketKeys.signing)))
        return "QT1.\(payload).\(signature)"
    }

    /// The ticket, if it is one of ours and unaltered. Runs on every status poll, so it works on
    /// the bytes: no Foundation string rewriting.
    func verifyTicket(_ text: String) -> QueueTicket? {
        let bytes = Array(text.utf8)
        guard bytes.count < 1024, bytes.starts(with: Array("QT1.".utf8)), let dot = bytes[4...].lastIndex(of: UInt8(ascii: ".")),
              dot > 4, let signature = Self.decodeBase64URL(bytes[(dot + 1)...]),
              ticketKeys.verifying.contains(where: { HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: bytes[4..<dot], using: $0) }),
              let payload = Self.decodeBase64URL(bytes[4..<dot])
        else { return nil }
        let fields = payload.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard fields.count == 3, !fields[0].isEmpty, !fields[1].isEmpty else { return nil }
        let sequenceText = String(decoding: fields[2], as: UTF8.self)
        let sequence = sequenceText == "-" ? nil : Int(sequenceText)
        guard sequenceText == "-" || sequence != nil else { return nil }
        return QueueTicket(p: String(decoding: fields[0], as: UTF8.self), f: String(decoding: fields[1], as: UTF8.self), s: sequence)
    }

    private static let base64URLValues: [UInt8] = {
        var table = [UInt8](repeating: 255, count: 256)
        for (index, character) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8.enumerated() {
            table[Int(character)] = UInt8(index)
        }
        return table
    }()

    /// Unpadded base64url; nil when a character is not of that alphabet.
    static func decodeBase64URL(_ input: ArraySlice<UInt8>) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(input.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in input {
            let value = base64URLValues[Int(character)]
            guard value != 255 else { return nil }
            accumulator = (accumulator << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return output
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
        let keys = await accessKeys.value()
        return try await keys.collection.sign(AccessClaims(
            sub: SubjectClaim(value: fanID), aud: AudienceClaim(value: [performanceID]), iss: IssuerClaim(value: Self.issuer),
            iat: IssuedAtClaim(value: issuedAt), exp: ExpirationClaim(value: expiresAt)), kid: keys.signingKid)
    }

    /// Throws a 403 problem unless `token` admits `fanID` to `performanceID` at `now`.
    func verifyAccess(_ token: String?, performanceID: String, fanID: String, now: Date) async throws {
        guard let token, !token.isEmpty else {
            throw Problem.queueAccessRequired(detail: "This performance sells through its waiting room: send the Queue-Access token it gave you.")
        }
        let claims: AccessClaims
        do {
            claims = try await accessKeys.value().collection.verify(token, as: AccessClaims.self)
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


}

extension Problem {
    static func queueAccessRequired(detail: String) -> Problem {
        Problem(type: typeURI("queue-access-required"), title: "Admission through the waiting room is required.", status: 403, detail: detail)
    }
}
