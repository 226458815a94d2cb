import BoxofficeKit
import Foundation
import Identity
import Logging
import Messaging
import NIOCore
import Persistence
import RedisClient
import UnixSignals

/// What the `boxoffice` commands do, apart from parsing their arguments.
public enum Server {
    /// Opens the database, applies pending migrations and serves until SIGTERM/SIGINT.
    /// `demo`: fill an empty embedded database with the demo data first (`DemoData`) and say
    /// how to sign in.
    public static func serve(_ configuration: ServerConfiguration, logger: Logger, demo: Bool = false) async throws {
        if demo, case .postgres = configuration.database {
            throw ConfigurationError(origin: "--demo", problem: "the demo fills the embedded database; leave --database-url unset")
        }
        try await withDatabase(configuration, logger: logger) { database in
            let applied = try await Migrator(database: database, groups: BoxofficePlatform.migrationGroups).migrate()
            if !applied.isEmpty {
                logger.notice("migrated", metadata: ["applied": .array(applied.map { .string($0) })])
            }
            let tracing = try Telemetry.bootstrapTracing(configuration, logger: logger)
            let platform = try await BoxofficePlatform(configuration: configuration, database: database, logger: logger)
            if demo {
                let filled = try await DemoData.fillIfEmpty(platform)
                let address = "http://\(configuration.host == "0.0.0.0" ? "127.0.0.1" : configuration.host):\(configuration.port)/"
                var lines = [filled ? "Demo data added." : "The database already has events; the demo data was not added again."]
                lines.append("Open \(address) — demo accounts:")
                for account in DemoData.accounts {
                    lines.append("  \(account.role.padding(toLength: 10, withPad: " ", startingAt: 0)) \(account.email)  password: \(account.password)")
                }
                // Written at once (print would wait in a buffer when the output is a file).
                FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            }
            let application = try platform.buildApplication()
            if let redis = platform.redis {
                // Fail at start-up, not at the first fan's request, when Redis is unreachable.
                do {
                    try await redis.send("PING")
                } catch {
                    throw ConfigurationError(origin: "--redis-url/--redis-sentinels", problem: "cannot reach Redis: \(error)")
                }
            }
            do {
                try await platform.run(application, signals: [.sigterm, .sigint], observability: tracing)
            } catch let error as IOError where error.errnoCode == EADDRINUSE {
                throw ConfigurationError(
                    origin: "--port/BOXOFFICE_PORT",
                    problem: "\(configuration.host):\(configuration.port) is already in use")
            } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
                throw ConfigurationError(
                    origin: "--host/BOXOFFICE_HOST", problem: "\(configuration.host) is not an address of this machine")
            }
            await platform.redis?.shutdown()
            logger.notice("stopped")
        }
    }

    /// Applies pending migrations; returns what it applied.
    public static func migrate(_ configuration: ServerConfiguration, logger: Logger) async throws -> [String] {
        try await withDatabase(configuration, logger: logger) { database in
            try await Migrator(database: database, groups: BoxofficePlatform.migrationGroups).migrate()
        }
    }

    /// Every migration and whether it has been applied.
    public static func migrationStatus(_ configuration: ServerConfiguration, logger: Logger) async throws -> [MigrationStatus] {
        try await withDatabase(configuration, logger: logger) { database in
            try await Migrator(database: database, groups: BoxofficePlatform.migrationGroups).status()
        }
    }

    /// Creates an administrator, or grants the role to an existing account, after migrating.
    public static func createAdmin(
        _ configuration: ServerConfiguration, email: String, password: String, name: String, promoteExisting: Bool = false,
        logger: Logger
    ) async throws -> (user: User, created: Bool) {
        try await withDatabase(configuration, logger: logger) { database in
            try await Migrator(database: database, groups: BoxofficePlatform.migrationGroups).migrate()
            let platform = try await BoxofficePlatform(configuration: configuration, database: database, logger: logger)
            return try await platform.identity.createAdmin(email: email, password: password, name: name, promoteExisting: promoteExisting)
        }
    }

    /// Adds the next generation of signing keys (after migrating); every node signs with it
    /// once it activates, and the ones it replaces verify for `overlap` after that.
    public static func rotateKeys(_ configuration: ServerConfiguration, overlap: TimeInterval, logger: Logger) async throws -> SigningKeyStore.Generation {
        try await withDatabase(configuration, logger: logger) { database in
            try await Migrator(database: database, groups: BoxofficePlatform.migrationGroups).migrate()
            let store = SigningKeyStore(database: database, clock: SystemClock())
            // The first generation is made first (from an embedded install's old key file, if any).
            var unconfigured = configuration
            unconfigured.jwtSecret = nil
            _ = try await SigningKey.load(unconfigured, store: store)
            return try await store.rotate(overlap: overlap)
        }
    }

    /// Every generation of signing keys, newest first (never the secrets).
    public static func keyGenerations(_ configuration: ServerConfiguration, logger: Logger) async throws -> [SigningKeyStore.Generation] {
        try await withDatabase(configuration, logger: logger) { database in
            try await SigningKeyStore(database: database, clock: SystemClock()).generations()
        }
    }

    /// How events are flowing: the outbox's backlog, and with Redis every stream, its
    /// consumer groups' lag and pending entries, and its dead letters.
    public struct EventStats: Sendable {
        public let outboxPending: Int
        public let oldestPendingSeconds: Double?
        public let outboxDead: Int
        /// Nil without Redis.
        public let streams: [RedisDeadLetters.StreamStats]?
    }

    public static func eventStats(_ configuration: ServerConfiguration, logger: Logger) async throws -> EventStats {
        try await withEventStores(configuration, logger: logger) { database, redis in
            let outbox = try await OutboxDeadLetters(database: database).outboxStats()
            var streams: [RedisDeadLetters.StreamStats]?
            if let redis { streams = try await RedisDeadLetters(redis: redis, settings: streamSettings(configuration)).stats() }
            return EventStats(outboxPending: outbox.pending, oldestPendingSeconds: outbox.oldestPendingSeconds, outboxDead: outbox.dead, streams: streams)
        }
    }

    /// Runs `body` with the dead letters of this deployment: the `dlq.*` streams with Redis,
    /// the outbox's set-aside events without.
    public static func withDeadLetters<Result: Sendable>(
        _ configuration: ServerConfiguration, logger: Logger, _ body: (any DeadLetterStore) async throws -> Result
    ) async throws -> Result {
        try await withEventStores(configuration, logger: logger) { database, redis in
            if let redis { return try await body(RedisDeadLetters(redis: redis, settings: streamSettings(configuration))) }
            return try await body(OutboxDeadLetters(database: database))
        }
    }

    static func streamSettings(_ configuration: ServerConfiguration) -> RedisStreamSettings {
        RedisStreamSettings(maximumLength: configuration.eventStreamMaxLength, maximumAge: configuration.eventStreamMaxAgeHours * 3600)
    }

    private static func withEventStores<Result: Sendable>(
        _ configuration: ServerConfiguration, logger: Logger, _ body: (Database, RedisClient?) async throws -> Result
    ) async throws -> Result {
        try await withDatabase(configuration, logger: logger) { database in
            let redis = configuration.redis.map { RedisClient(configuration: $0, logger: logger.with(component: "redis")) }
            do {
                let result = try await body(database, redis)
                await redis?.shutdown()
                return result
            } catch {
                await redis?.shutdown()
                throw error
            }
        }
    }

    /// Opens the configured database; an unreachable one is a configuration error naming it.
    static func withDatabase<Result: Sendable>(
        _ configuration: ServerConfiguration, logger: Logger, _ body: (Database) async throws -> Result
    ) async throws -> Result {
        do {
            return try await Database.withDatabase(configuration.database, logger: logger.with(component: "database"), body)
        } catch let error as DatabaseUnavailableError {
            throw ConfigurationError(origin: "--database-url/BOXOFFICE_DATABASE_URL", problem: error.description)
        }
    }
}
