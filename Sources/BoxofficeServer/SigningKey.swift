import BoxofficeKit
import Foundation
import Logging
import Persistence
import ServiceLifecycle

/// The keys tokens, ticket codes, queue tickets and challenges are signed with.
///
/// From `--jwt-secret`/`BOXOFFICE_JWT_SECRET` when given (a ring of that one key, which
/// rotates only when the setting changes); otherwise kept in the database (`SigningKeyStore`),
/// so every node sharing it signs alike with no setup, and `boxoffice keys rotate` rotates them.
enum SigningKey {
    /// Where an embedded install kept its key before keys moved into the database: it becomes
    /// the first generation, so tokens and ticket codes issued before the upgrade stay valid.
    static let legacyFileName = "jwt-signing.key"

    static func load(_ configuration: ServerConfiguration, store: SigningKeyStore) async throws -> SigningKeys {
        if let secret = configuration.jwtSecret {
            return SigningKeys(fixed: Array(secret.utf8))
        }
        let legacy = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent(legacyFileName)
        let seed = (try? String(contentsOf: legacy, encoding: .utf8))
            .flatMap { Data(base64Encoded: $0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            .flatMap { $0.count >= 32 ? Array($0) : nil }
        return try await store.load(seed: seed)
    }
}

/// Reloads the ring now and then, so a rotation (and keys activating and retiring) reaches
/// this node without a restart.
struct SigningKeyRefresh: Service {
    let keys: SigningKeys
    let store: SigningKeyStore
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: SigningKeyStore.refreshInterval)
                guard !Task.isCancelled else { return }
                let before = keys.signing.generation
                do {
                    try await store.refresh(keys)
                } catch {
                    logger.warning("could not reload the signing keys; keeping the ones loaded", metadata: ["error": .string("\(error)")])
                }
                if keys.signing.generation != before {
                    logger.notice("signing with a new key generation", metadata: ["generation": .stringConvertible(keys.signing.generation)])
                }
            }
        }
    }
}
