import BoxofficeKit
import Crypto
import Foundation

/// A bearer secret in two halves, `<id>.<secret>`: the ID finds the row, the secret proves
/// possession. Only a SHA-256 of the secret is stored, so a database leak yields no usable
/// tokens. Refresh tokens and remember-me tokens are of this kind.
struct OpaqueToken {
    let id: String
    let secret: String

    init(id: String, secret: String = Secrets.token()) {
        self.id = id
        self.secret = secret
    }

    init?(_ value: String) {
        let parts = value.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64, !parts[1].isEmpty, parts[1].count <= 128 else {
            return nil
        }
        self.id = String(parts[0])
        self.secret = String(parts[1])
    }

    var value: String { "\(id).\(secret)" }

    var secretHash: String { sha256Hex(secret) }
}

/// Lower-case hex SHA-256 of a string's UTF-8 bytes.
func sha256Hex(_ text: String) -> String {
    SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
}
