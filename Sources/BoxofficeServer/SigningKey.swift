import Foundation
import Logging
import Persistence

/// The key access tokens are signed with.
///
/// From `--jwt-secret`/`BOXOFFICE_JWT_SECRET` when given (every node of a cluster must share
/// it); otherwise generated once and kept in `<data-dir>/jwt-signing.key`, readable only by
/// its owner, so a laptop install needs no setup and tokens survive restarts.
enum SigningKey {
    static let fileName = "jwt-signing.key"

    static func load(_ configuration: ServerConfiguration, logger: Logger) throws -> [UInt8] {
        if let secret = configuration.jwtSecret {
            return Array(secret.utf8)
        }
        let url = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent(fileName)
        if configuration.database.dialect == .postgres {
            logger.warning(
                "no BOXOFFICE_JWT_SECRET: signing tokens with a key generated on this node; nodes sharing a database must share a secret",
                metadata: ["key_file": .string(url.path)])
        }
        if let text = try? String(contentsOf: url, encoding: .utf8),
           let key = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), key.count >= 32 {
            return Array(key)
        }
        var generator = SystemRandomNumberGenerator()
        let key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        do {
            try FileManager.default.createDirectory(
                atPath: configuration.dataDirectory, withIntermediateDirectories: true)
            guard FileManager.default.createFile(
                atPath: url.path, contents: Data(Data(key).base64EncodedString().utf8), attributes: [.posixPermissions: 0o600])
            else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            throw ConfigurationError(origin: "--data-dir/BOXOFFICE_DATA_DIR", problem: "cannot write \(url.path): \(error.localizedDescription)")
        }
        logger.notice("generated a token signing key", metadata: ["key_file": .string(url.path)])
        return key
    }
}
