import BoxofficeKit
import Foundation
import SQLKit

/// Where the platform's signing secrets live when none is configured: in the database every
/// node shares, so a token signed on one node verifies on all of them with no setting at all.
///
/// A rotation adds the next generation. It is accepted at once but signs only after
/// `activationDelay`, by which time every node has reloaded the ring (so no node is handed a
/// token signed with a key it has not seen yet); the key it replaces keeps verifying for the
/// overlap after that, then retires.
public struct SigningKeyStore: Sendable {
    public static let migrations = MigrationGroup(module: "keys", migrations: [
        Migration("0001_create_signing_keys", sql: [
            """
            CREATE TABLE signing_keys (
                generation INTEGER PRIMARY KEY CHECK (generation > 0),
                secret TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                active_from TIMESTAMPTZ NOT NULL,
                retires_at TIMESTAMPTZ
            )
            """,
        ]),
    ])

    /// How often nodes reload the ring: well within `activationDelay`.
    public static let refreshInterval: Duration = .seconds(15)
    public static let activationDelay: TimeInterval = 60
    /// Long enough for tokens and queue tickets, and for a ticket's code that a phone keeps offline.
    public static let defaultOverlap: TimeInterval = 7 * 24 * 3600

    /// One generation as operators see it: never the secret.
    public struct Generation: Sendable, Equatable {
        public let generation: Int
        public let createdAt: Date
        public let activeFrom: Date
        public let retiresAt: Date?
    }

    private let database: Database
    private let clock: any WallClock

    public init(database: Database, clock: any WallClock) {
        self.database = database
        self.clock = clock
    }

    /// The ring as it stands, making the first generation if there is none: from `seed` (the
    /// key an embedded install kept in a file before keys moved here, so its tokens and ticket
    /// codes stay valid) or random. Nodes starting at once all end up with the same one.
    public func load(seed: [UInt8]? = nil) async throws -> SigningKeys {
        let (signing, accepted) = try await current(seed: seed)
        return SigningKeys(signing: signing, alsoAccepted: accepted)
    }

    /// Reloads `keys` from the database (after a rotation, and as keys activate and retire).
    public func refresh(_ keys: SigningKeys) async throws {
        let (signing, accepted) = try await current(seed: nil)
        keys.replace(signing: signing, alsoAccepted: accepted)
    }

    /// Adds the next generation; returns it.
    @discardableResult
    public func rotate(overlap: TimeInterval = Self.defaultOverlap, activationDelay: TimeInterval = Self.activationDelay) async throws -> Generation {
        let now = clock.now()
        let activeFrom = now.addingTimeInterval(activationDelay)
        let secret = Self.newSecret()
        return try await database.withTransaction { transaction in
            let newest = try await transaction.sql.raw("SELECT MAX(generation) AS newest FROM signing_keys").first()?
                .decode(column: "newest", as: Int?.self) ?? 0
            // A concurrent rotation takes the same number: the primary key refuses the second.
            try await transaction.sql.raw("""
                INSERT INTO signing_keys (generation, secret, created_at, active_from)
                VALUES (\(bind: newest + 1), \(bind: Data(secret).base64EncodedString()), \(bind: now), \(bind: activeFrom))
                """).run()
            try await transaction.sql.raw("""
                UPDATE signing_keys SET retires_at = \(bind: activeFrom.addingTimeInterval(overlap))
                WHERE retires_at IS NULL AND generation <= \(bind: newest)
                """).run()
            return Generation(generation: newest + 1, createdAt: now, activeFrom: activeFrom, retiresAt: nil)
        }
    }

    /// Every generation, newest first, retired ones included.
    public func generations() async throws -> [Generation] {
        try await database.read { sql in
            try await sql.raw("SELECT generation, created_at, active_from, retires_at FROM signing_keys ORDER BY generation DESC").all().map { row in
                Generation(
                    generation: try row.decode(column: "generation", as: Int.self), createdAt: try row.decode(column: "created_at", as: Date.self),
                    activeFrom: try row.decode(column: "active_from", as: Date.self), retiresAt: try row.decode(column: "retires_at", as: Date?.self))
            }
        }
    }

    private func current(seed: [UInt8]?) async throws -> (signing: SigningKeys.Key, accepted: [SigningKeys.Key]) {
        if let ring = try await unretired() { return ring }
        let now = clock.now()
        let secret = seed ?? Self.newSecret()
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                INSERT INTO signing_keys (generation, secret, created_at, active_from)
                VALUES (1, \(bind: Data(secret).base64EncodedString()), \(bind: now), \(bind: now))
                ON CONFLICT (generation) DO NOTHING
                """).run()
        }
        guard let ring = try await unretired() else { throw SigningKeysMissing() }
        return ring
    }

    /// The newest key already active signs; every key not yet retired verifies. Nil for an empty table.
    private func unretired() async throws -> (signing: SigningKeys.Key, accepted: [SigningKeys.Key])? {
        let now = clock.now()
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT generation, secret, active_from FROM signing_keys
                WHERE retires_at IS NULL OR retires_at > \(bind: now) ORDER BY generation DESC
                """).all().map { row in
                (key: SigningKeys.Key(
                    generation: try row.decode(column: "generation", as: Int.self),
                    secret: Array(Data(base64Encoded: try row.decode(column: "secret", as: String.self)) ?? Data())),
                 activeFrom: try row.decode(column: "active_from", as: Date.self))
            }
        }
        guard !rows.isEmpty else { return nil }
        // Before the first rotation activates, the one it replaces (still unretired) signs.
        let signing = rows.first { $0.activeFrom <= now }?.key ?? rows[rows.count - 1].key
        return (signing, rows.map(\.key))
    }

    static func newSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}

struct SigningKeysMissing: Error, CustomStringConvertible {
    var description: String { "the signing_keys table has no key that is not retired" }
}
