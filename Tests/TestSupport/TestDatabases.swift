import Foundation
import Logging
import Persistence
import PostgresNIO
import Testing

/// Real databases for tests: a new SQLite file or a new PostgreSQL database per test, dropped
/// afterwards, so tests run in parallel without seeing each other's rows.
public enum TestDatabases {
    /// Set by `scripts/test`; without it PostgreSQL tests are skipped with a message.
    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["BOXOFFICE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static let logger: Logger = {
        var logger = Logger(label: "boxoffice.test")
        let level = ProcessInfo.processInfo.environment["BOXOFFICE_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = level ?? .critical
        return logger
    }()

    /// Skips the running test, visibly, when PostgreSQL is not available.
    public static func requirePostgres() throws -> String {
        guard let url = postgresURL else {
            let reason = "PostgreSQL tests need BOXOFFICE_TEST_POSTGRES_URL; run scripts/test to have one started"
            // Swift Testing does not print cancelled parameterized cases; say it ourselves.
            let name = Test.current?.name ?? "a test"
            FileHandle.standardError.write(Data("SKIPPED \(name) on postgres: \(reason)\n".utf8))
            try Test.cancel(Comment(rawValue: reason))
        }
        return url
    }

    /// A configuration for a brand-new, empty database of `dialect`, removed after `body`.
    public static func withFreshConfiguration<Result: Sendable>(
        _ dialect: DatabaseDialect,
        _ body: (DatabaseConfiguration) async throws -> Result
    ) async throws -> Result {
        switch dialect {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("boxoffice-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            // Two readers, not four: the whole suite runs at once, and every database has a thread
            // per connection; hundreds of idle threads only crowd the machine.
            var settings = DatabaseConfiguration.SQLiteSettings(path: directory.appendingPathComponent("test.sqlite").path)
            settings.readerCount = 2
            return try await body(.sqlite(settings))
        case .postgres:
            let adminURL = try requirePostgres()
            guard case .postgres(var settings) = try DatabaseConfiguration(url: adminURL) else {
                throw TestDatabaseError("BOXOFFICE_TEST_POSTGRES_URL is not a postgres URL")
            }
            let name = "bo_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20))"
            try await admin(settings) { connection in
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
            }
            settings.database = name
            settings.maximumConnections = 8
            do {
                let result = try await body(.postgres(settings))
                try? await dropDatabase(name, adminURL: adminURL)
                return result
            } catch {
                try? await dropDatabase(name, adminURL: adminURL)
                throw error
            }
        }
    }

    /// An open `Database` of `dialect`, fresh and with `migrations` applied.
    public static func withDatabase<Result: Sendable>(
        _ dialect: DatabaseDialect,
        migrations: [MigrationGroup] = [],
        _ body: (Database) async throws -> Result
    ) async throws -> Result {
        try await withFreshConfiguration(dialect) { configuration in
            try await Database.withDatabase(configuration, logger: logger) { database in
                if !migrations.isEmpty {
                    try await Migrator(database: database, groups: migrations).migrate()
                }
                return try await body(database)
            }
        }
    }

    /// The URL form of a configuration, for passing to a `boxoffice` process.
    public static func url(of configuration: DatabaseConfiguration) -> String {
        switch configuration {
        case .sqlite(let settings):
            return "sqlite:\(settings.path)"
        case .postgres(let settings):
            let password = settings.password.map { ":\($0)" } ?? ""
            return "postgres://\(settings.username)\(password)@\(settings.host):\(settings.port)/\(settings.database)?sslmode=disable"
        }
    }

    private static func dropDatabase(_ name: String, adminURL: String) async throws {
        guard case .postgres(let settings) = try DatabaseConfiguration(url: adminURL) else { return }
        try await admin(settings) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }

    private static func admin(
        _ settings: DatabaseConfiguration.PostgresSettings,
        _ body: (PostgresConnection) async throws -> Void
    ) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: .init(
                host: settings.host, port: settings.port, username: settings.username,
                password: settings.password, database: settings.database, tls: .disable),
            id: 1, logger: logger)
        do {
            try await body(connection)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

public struct TestDatabaseError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension DatabaseDialect: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}
