import Foundation

/// Which database a `Database` talks to, parsed from a URL.
///
/// - `sqlite:PATH` (or `sqlite://PATH`, or a bare path ending in `.sqlite`/`.db`): the embedded
///   default, one file, created on first use.
/// - `postgres://user:password@host:port/database?sslmode=disable|prefer|require` (TLS is
///   required by default unless the host is loopback)
///   (`postgresql://` too): the production database.
public enum DatabaseConfiguration: Sendable, Equatable {
    case sqlite(SQLiteSettings)
    case postgres(PostgresSettings)

    public struct SQLiteSettings: Sendable, Equatable {
        public var path: String
        /// Connections for reads beside the single writer (WAL lets readers run during a write).
        public var readerCount: Int = 4
        /// How long a writer from another process may keep us waiting before we give up.
        public var busyTimeoutMilliseconds: Int = 10_000

        public init(path: String) { self.path = path }
    }

    public struct PostgresSettings: Sendable, Equatable {
        public enum TLSMode: String, Sendable { case disable, prefer, require }

        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        public var tls: TLSMode
        /// The pool's upper bound. On our 2-core machines 8–32 beats more (CEILINGS.md).
        public var maximumConnections: Int = 16
        /// A second, small pool for background work (`Database.background`), so that event
        /// delivery does not queue behind hundreds of requests when the first pool is busy.
        public var backgroundConnections: Int = 4

        public init(host: String, port: Int, username: String, password: String?, database: String, tls: TLSMode) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.tls = tls
        }
    }

    /// Parses a database URL; the error says what is wrong with it in words an operator can act on.
    public init(url: String) throws(DatabaseURLError) {
        let trimmed = url.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("postgres://") || trimmed.hasPrefix("postgresql://") {
            self = .postgres(try Self.parsePostgres(trimmed))
        } else if trimmed.hasPrefix("sqlite:") {
            var path = String(trimmed.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw DatabaseURLError("sqlite: needs a file path, e.g. sqlite:./.boxoffice/boxoffice.sqlite") }
            guard path != ":memory:" else {
                throw DatabaseURLError("an in-memory SQLite database would lose everything on restart; give a file path")
            }
            self = .sqlite(SQLiteSettings(path: path))
        } else if !trimmed.contains("://"), trimmed.hasSuffix(".sqlite") || trimmed.hasSuffix(".db") {
            self = .sqlite(SQLiteSettings(path: trimmed))
        } else {
            throw DatabaseURLError("expected postgres://user:password@host:port/database or sqlite:PATH")
        }
    }

    private static func parsePostgres(_ url: String) throws(DatabaseURLError) -> PostgresSettings {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw DatabaseURLError("not a valid postgres URL (postgres://user:password@host:port/database)")
        }
        guard let username = components.user, !username.isEmpty else {
            throw DatabaseURLError("the postgres URL names no user (postgres://USER@host/database)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else {
            throw DatabaseURLError("the postgres URL names no database (postgres://user@host/DATABASE)")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw DatabaseURLError("port \(port) is out of range") }
        // Off this machine, credentials and data cross a network: TLS is required unless the
        // URL says otherwise. On loopback, try it and fall back (there is no wire to tap).
        let loopback = host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]" || host.hasPrefix("/")
        var tls: PostgresSettings.TLSMode = loopback ? .prefer : .require
        var maximumConnections: Int?
        var backgroundConnections: Int?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                switch item.value {
                case "disable": tls = .disable
                case "allow", "prefer": tls = .prefer
                case "require", "verify-ca", "verify-full": tls = .require
                default: throw DatabaseURLError("sslmode must be disable, prefer or require")
                }
            case "pool_max", "pool_size":
                guard let value = item.value.flatMap(Int.init), (1...500).contains(value) else {
                    throw DatabaseURLError("\(item.name) must be a whole number from 1 to 500")
                }
                maximumConnections = value
            case "background_pool_max":
                guard let value = item.value.flatMap(Int.init), (1...100).contains(value) else {
                    throw DatabaseURLError("background_pool_max must be a whole number from 1 to 100")
                }
                backgroundConnections = value
            default:
                throw DatabaseURLError("unknown URL parameter '\(item.name)' (known: sslmode, pool_max, background_pool_max)")
            }
        }
        var settings = PostgresSettings(
            host: host, port: port, username: username, password: components.password,
            database: database, tls: tls)
        if let maximumConnections { settings.maximumConnections = maximumConnections }
        if let backgroundConnections { settings.backgroundConnections = backgroundConnections }
        return settings
    }

    public var dialect: DatabaseDialect {
        switch self {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    /// The URL with any password replaced, safe for logs and error messages.
    public var redactedDescription: String {
        switch self {
        case .sqlite(let settings):
            return "sqlite:\(settings.path)"
        case .postgres(let settings):
            let credentials = settings.password == nil ? settings.username : "\(settings.username):***"
            return "postgres://\(credentials)@\(settings.host):\(settings.port)/\(settings.database)"
        }
    }
}

/// A database URL that cannot be used, with the reason.
public struct DatabaseURLError: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The SQL dialect behind a `Database`; hand-written SQL branches on it where the two differ.
public enum DatabaseDialect: String, Sendable, CaseIterable {
    case postgres
    case sqlite
}
