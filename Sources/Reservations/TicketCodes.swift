import BoxofficeKit
import Crypto
import Foundation

/// Ticket codes a scanner can check without asking the server: `BX1.<ticket id>.<version>.<mac>`,
/// where the MAC is HMAC-SHA256 over the id and version under a key only Boxoffice holds.
///
/// A forged or altered code fails the MAC. The version moves on when a ticket is transferred,
/// so the old holder's code stops working even though its MAC is genuine; the door check asks
/// the database for that (and for first use), the MAC only keeps guessing out.
public struct TicketCodes: Sendable {
    private let keys: DerivedSigningKeys<SymmetricKey>
    private static let prefix = "BX1"

    /// The code key is derived from the platform's signing keys, so it is never the key that
    /// signs access tokens. Codes are worked out when shown, so after a rotation fans get codes
    /// of the new key, and the door still accepts the ones a phone kept offline for the overlap.
    public init(keys: SigningKeys) {
        self.keys = DerivedSigningKeys(keys) { key in
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: key.secret), info: Data("boxoffice ticket codes v1".utf8), outputByteCount: 32)
        }
    }

    public func code(ticketID: String, version: Int) -> String {
        "\(Self.prefix).\(ticketID).\(version).\(Self.mac(ticketID: ticketID, version: version, key: keys.signing))"
    }

    /// The ticket and version a genuine code names; nil for anything forged or malformed.
    public func verify(_ code: String) -> (ticketID: String, version: Int)? {
        let parts = code.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == Self.prefix, let version = Int(parts[2]), version > 0, parts[1].count <= 64 else { return nil }
        let ticketID = String(parts[1])
        // Constant time: a scanner must not learn a valid MAC byte by byte from timings.
        let genuine = keys.verifying.contains { key in
            Secrets.constantTimeEquals(Self.mac(ticketID: ticketID, version: version, key: key), String(parts[3]))
        }
        return genuine ? (ticketID, version) : nil
    }

    private static func mac(ticketID: String, version: Int, key: SymmetricKey) -> String {
        let tag = HMAC<SHA256>.authenticationCode(for: Data("\(ticketID).\(version)".utf8), using: key)
        // 128 bits is plenty against guessing and keeps the QR code small.
        return Secrets.base64URL(Array(tag).prefix(16))
    }
}
