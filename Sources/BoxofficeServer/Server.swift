import Foundation
import Identity
import Logging
import NIOCore
import Persistence
import UnixSignals

/// What the `boxoffice` commands do, apart from parsing their arguments.
public enum Server {
    /// Opens the database, applies pending migrations and serves until SIGTERM/SIGINT.
    public static func serve(_ configuration: ServerConfiguration, logger: Logger) async throws {
        try await withDatabase(configuration, logger: logger) { database in
            let applied = try await Migrator(database: database, groups: BoxofficePlatform.migrationGroups).migrate()
            if !applied.isEmpty {
                logger.notice("migrated", metadata: ["applied": .array(applied.map { .string($0) })])
            }
            let platform = try await BoxofficePlatform(configuration: configuration, database: database, logger: logger)
            let application = try platform.buildApplication()
            do {
                try await platform.run(application, signals: [.sigterm, .sigint])
            } catch let error as IOError where error.errnoCode == EADDRINUSE {
                throw ConfigurationError(
                    origin: "--port/BOXOFFICE_PORT",
                    problem: "\(configuration.host):\(configuration.port) is already in use")
            } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
                throw ConfigurationError(
                    origin: "--host/BOXOFFICE_HOST", problem: "\(configuration.host) is not an address of this machine")
            }
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
        _ configuration: ServerConfiguration, email: String, password: String, name: String, logger: Logger
    ) async throws -> (user: User, created: Bool) {
        try await withDatabase(configuration, logger: logger) { database in
            try await Migrator(database: database, groups: BoxofficePlatform.migrationGroups).migrate()
            let platform = try await BoxofficePlatform(configuration: configuration, database: database, logger: logger)
            return try await platform.identity.createAdmin(email: email, password: password, name: name)
        }
    }

    /// Opens the configured database; an unreachable one is a configuration error naming it.
    private static func withDatabase<Result: Sendable>(
        _ configuration: ServerConfiguration, logger: Logger, _ body: (Database) async throws -> Result
    ) async throws -> Result {
        do {
            return try await Database.withDatabase(configuration.database, logger: logger.with(component: "database"), body)
        } catch let error as DatabaseUnavailableError {
            throw ConfigurationError(origin: "--database-url/BOXOFFICE_DATABASE_URL", problem: error.description)
        }
    }
}
