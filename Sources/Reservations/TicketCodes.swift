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
    private let key: SymmetricKey
    private static let prefix = "BX1"

    /// `secret` is the server's signing secret; the code key is derived from it, so it is never
    /// the same key that signs access tokens.
    public init(secret: [UInt8]) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret), info: Data("boxoffice ticket codes v1".utf8), outputByteCount: 32)
    }

    public func code(ticketID: String, version: Int) -> String {
        "\(Self.prefix).\(ticketID).\(version).\(mac(ticketID: ticketID, version: version))"
    }

    /// The ticket and version a genuine code names; nil for anything forged or malformed.
    public func verify(_ code: String) -> (ticketID: String, version: Int)? {
        let parts = code.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == Self.prefix, let version = Int(parts[2]), version > 0, parts[1].count <= 64 else { return nil }
        let ticketID = String(parts[1])
        // Constant time: a scanner must not learn a valid MAC byte by byte from timings.
        let genuine = Secrets.constantTimeEquals(mac(ticketID: ticketID, version: version), String(parts[3]))
        return genuine ? (ticketID, version) : nil
    }

    private func mac(ticketID: String, version: Int) -> String {
        let tag = HMAC<SHA256>.authenticationCode(for: Data("\(ticketID).\(version)".utf8), using: key)
        // 128 bits is plenty against guessing and keeps the QR code small.
        return Secrets.base64URL(Array(tag).prefix(16))
    }
}
