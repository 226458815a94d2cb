import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import PostgresNIO
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization
import Tracing

/// The state of record: PostgreSQL in production, an SQLite file when embedded.
///
/// Both speak SQLKit, so contexts write one set of statements (branching on `dialect` only where
/// the two really differ). Reads go through `read`; every write goes through `withTransaction`,
/// which is how SQLite writes are serialized and how outbox events commit with their changes.
public final class Database: Sendable {
    public let dialect: DatabaseDialect
    public let configuration: DatabaseConfiguration
    let logger: Logger
    private let driver: Driver
    private let backgroundLane: Database?

    /// The same database through a small pool of its own, for background work such as event
    /// delivery: when every connection of the request pool is taken, as at an on-sale, this
    /// work doesn't wait in the request queue. (On SQLite, the database itself.)
    public var background: Database { backgroundLane ?? self }

    private enum Driver: Sendable {
        case sqlite(SQLiteStore)
        case postgres(PostgresStore)
    }

    private init(configuration: DatabaseConfiguration, logger: Logger, driver: Driver, background: Database? = nil) {
        self.configuration = configuration
        self.dialect = configuration.dialect
        self.logger = logger
        self.driver = driver
        self.backgroundLane = background
    }

    /// Opens the database, checks that it answers, runs `body`, and closes it again.
    ///
    /// For PostgreSQL the connection pool runs for exactly `body`'s duration. A database that
    /// cannot be reached fails here with `DatabaseUnavailableError`, before `body` starts.
    public static func withDatabase<Result: Sendable>(
        _ configuration: DatabaseConfiguration,
        logger: Logger,
        _ body: (Database) async throws -> Result
    ) async throws -> Result {
        switch configuration {
        case .sqlite(let settings):
            let store = try await SQLiteStore.open(settings, logger: logger)
            let database = Database(configuration: configuration, logger: logger, driver: .sqlite(store))
            do {
                let result = try await body(database)
                await store.close()
                return result
            } catch {
                await store.close()
                throw error
            }
        case .postgres(let settings):
            try await PostgresStore.probe(settings, logger: logger)
            let store = PostgresStore(settings, maximumConnections: settings.maximumConnections, logger: logger)
            let backgroundStore = PostgresStore(settings, maximumConnections: settings.backgroundConnections, logger: logger)
            let database = Database(
                configuration: configuration, logger: logger, driver: .postgres(store),
                background: Database(configuration: configuration, logger: logger, driver: .postgres(backgroundStore)))
            return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
                group.addTask { await store.client.run() }
                group.addTask { await backgroundStore.client.run() }
                defer { group.cancelAll() }
                return try await body(database)
            }
        }
    }

    /// The transaction this task is inside, by the database that runs it.
    private struct OpenTransaction: Sendable {
        let database: ObjectIdentifier
        let sql: any SQLDatabase
    }

    @TaskLocal private static var openTransaction: OpenTransaction?

    /// Runs reads outside a transaction. Never write here: SQLite writes must go through the
    /// single writer that `withTransaction` uses.
    ///
    /// A read made while this task is inside one of this database's transactions (a service
    /// asked from within one: the waiting room's settings during a checkout) runs in that
    /// transaction, on both databases, and sees its writes. Taking a second connection there
    /// would, on PostgreSQL, wait forever once every connection of the pool is held by such a
    /// transaction.
    public func read<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result {
        if let open = Self.openTransaction, open.database == ObjectIdentifier(self) {
            return try await body(open.sql)
        }
        return try await withSpan("db read", ofKind: .client) { span in
            span.attributes["db.system"] = dialect.tracingName
            return try await readOutsideTransaction(body)
        }
    }

    private func readOutsideTransaction<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result {
        switch driver {
        case .sqlite(let store):
            return try await store.readers.withConnection { connection in
                try await body(connection.sql())
            }
        case .postgres(let store):
            return try await store.withConnection { connection in
                try await body(connection.sql())
            }
        }
    }

    /// Runs `body` in one transaction: commits when it returns, rolls back when it throws
    /// (rethrowing the error unchanged), then runs the transaction's after-commit hooks.
    @discardableResult
    public func withTransaction<Result: Sendable>(
        _ body: (DatabaseTransaction) async throws -> Result
    ) async throws -> Result {
        try await withSpan("db transaction", ofKind: .client) { span in
            span.attributes["db.system"] = dialect.tracingName
            return try await runInTransaction(body)
        }
    }

    private func runInTransaction<Result: Sendable>(
        _ body: (DatabaseTransaction) async throws -> Result
    ) async throws -> Result {
        switch driver {
        case .sqlite(let store):
            // IMMEDIATE takes the write lock up front, so a transaction never fails halfway
            // because another process started writing after it read.
            return try await store.writerThread.run {
                try await store.writer.withConnection { connection in
                    let sql = connection.sql()
                    return try await Self.$openTransaction.withValue(OpenTransaction(database: ObjectIdentifier(self), sql: sql)) {
                        try await Self.runTransaction(
                            on: sql, begin: "BEGIN IMMEDIATE", dialect: .sqlite, postgres: nil, logger: logger, onRollbackFailure: {}, body)
                    }
                }
            }
        case .postgres(let store):
            return try await store.withConnection { connection in
                let sql = connection.sql()
                return try await Self.$openTransaction.withValue(OpenTransaction(database: ObjectIdentifier(self), sql: sql)) {
                    try await Self.runTransaction(
                        on: sql, begin: "BEGIN", dialect: .postgres, postgres: connection, logger: logger,
                        onRollbackFailure: { try? await connection.close() }, body)
                }
            }
        }
    }

    /// Runs one named prepared statement on PostgreSQL as a transaction of its own (it commits
    /// when the statement succeeds). For a write that is whole in one statement — a server-side
    /// function — where `BEGIN` and `COMMIT` would be two more round trips. Only for
    /// `dialect == .postgres`.
    public func executeAlone<Statement: PostgresPreparedStatement>(
        _ statement: Statement
    ) async throws -> [Statement.Row] where Statement.Row: Sendable {
        guard case .postgres(let store) = driver else { throw PreparedStatementsUnavailable() }
        return try await withSpan("db statement", ofKind: .client) { span in
            span.attributes["db.system"] = "postgresql"
            span.attributes["db.operation.name"] = String(describing: Statement.self)
            return try await store.withConnection { connection in try await connection.rows(of: statement, logger: logger) }
        }
    }

    /// A statement that proves the database answers; used by readiness checks.
    public func ping() async throws {
        _ = try await read { sql in try await sql.raw("SELECT 1 AS ok").all() }
    }

    /// How busy the connection pool is, for the metrics endpoint.
    public var poolStatistics: DatabasePoolStatistics {
        switch driver {
        case .sqlite(let store):
            let readers = store.readers.statistics
            let writer = store.writer.statistics
            return DatabasePoolStatistics(
                maximumConnections: store.readers.capacity + 1,
                inUse: readers.inUse + writer.inUse,
                waiting: readers.waiting + writer.waiting)
        case .postgres(let store):
            return store.statistics
        }
    }

    /// Lends one connection for several statements and transactions in a row, so that a
    /// session-level lock (the migrator's advisory lock) covers all of them.
    func withSession<Result: Sendable>(_ body: (DatabaseSession) async throws -> Result) async throws -> Result {
        switch driver {
        case .sqlite(let store):
            return try await store.writer.withConnection { connection in
                try await body(DatabaseSession(sql: connection.sql(), dialect: .sqlite, postgres: nil, logger: logger, onRollbackFailure: {}))
            }
        case .postgres(let store):
            return try await store.withConnection { connection in
                try await body(DatabaseSession(
                    sql: connection.sql(), dialect: .postgres, postgres: connection, logger: logger,
                    onRollbackFailure: { try? await connection.close() }))
            }
        }
    }

    static func runTransaction<Result: Sendable>(
        on sql: any SQLDatabase,
        begin: String,
        dialect: DatabaseDialect,
        postgres: PostgresConnection?,
        logger: Logger,
        onRollbackFailure: @Sendable () async -> Void,
        _ body: (DatabaseTransaction) async throws -> Result
    ) async throws -> Result {
        try await sql.raw(SQLQueryString(begin)).run()
        let transaction = DatabaseTransaction(sql: sql, dialect: dialect, postgres: postgres, logger: logger)
        let result: Result
        do {
            result = try await body(transaction)
            try await sql.raw("COMMIT").run()
        } catch {
            // The rollback runs in its own task so that a cancelled caller cannot leave the
            // connection inside an open transaction for the next user of the pool.
            let rolledBack = await Task { () -> Bool in
                do {
                    try await sql.raw("ROLLBACK").run()
                    return true
                } catch {
                    return false
                }
            }.value
            if !rolledBack {
                logger.warning("rollback failed; discarding the connection")
                await onRollbackFailure()
            }
            throw error
        }
        transaction.runCommitHooks()
        return result
    }
}

/// Connection-pool figures for `/metrics`.
public struct DatabasePoolStatistics: Sendable, Equatable {
    public var maximumConnections: Int
    public var inUse: Int
    public var waiting: Int
}

/// One connection held for a run of statements (see `Database.withSession`).
struct DatabaseSession: Sendable {
    let sql: any SQLDatabase
    let dialect: DatabaseDialect
    let postgres: PostgresConnection?
    let logger: Logger
    let onRollbackFailure: @Sendable () async -> Void

    func withTransaction<Result: Sendable>(_ body: (DatabaseTransaction) async throws -> Result) async throws -> Result {
        try await Database.runTransaction(
            on: sql, begin: dialect == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN", dialect: dialect, postgres: postgres, logger: logger,
            onRollbackFailure: onRollbackFailure, body)
    }
}

/// The database could not be reached when Boxoffice started.
public struct DatabaseUnavailableError: Error, CustomStringConvertible {
    public let database: String
    public let reason: String
    public var description: String { "cannot use \(database): \(reason)" }
}

// MARK: - SQLite

private final class SQLiteStore: Sendable {
    let writer: ConnectionGate<SQLiteConnection>
    /// Where write transactions run, statements and all.
    let writerThread: WriterThread
    let readers: ConnectionGate<SQLiteConnection>
    private let readerThreads: NIOThreadPool

    private init(writer: SQLiteConnection, writerThread: WriterThread, readers: [SQLiteConnection], readerThreads: NIOThreadPool) {
        self.writer = ConnectionGate([writer])
        self.writerThread = writerThread
        self.readers = ConnectionGate(readers)
        self.readerThreads = readerThreads
    }

    static func open(_ settings: DatabaseConfiguration.SQLiteSettings, logger: Logger) async throws -> SQLiteStore {
        let url = URL(fileURLWithPath: settings.path)
        let directory = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw DatabaseUnavailableError(
                database: "sqlite:\(settings.path)", reason: "cannot create \(directory.path): \(error.localizedDescription)")
        }
        // SQLite calls block their thread (a busy writer from another process makes them sleep),
        // so every connection gets a thread of its own instead of sharing NIO's small default
        // pool, where one sleeping connection could starve the one it is waiting for. The
        // writer's is the thread its transactions run on (`WriterThread`).
        let readerCount = max(1, settings.readerCount)
        let writerThread = WriterThread()
        let readerThreads = NIOThreadPool(numberOfThreads: readerCount)
        readerThreads.start()
        var opened: [SQLiteConnection] = []
        do {
            for index in 0...readerCount {
                let connection = try await SQLiteConnection.open(
                    storage: .file(path: url.path), threadPool: index == 0 ? writerThread.pool : readerThreads, logger: logger,
                    on: MultiThreadedEventLoopGroup.singleton.any())
                opened.append(connection)
                let sql = connection.sql()
                try await sql.raw("PRAGMA busy_timeout = \(unsafeRaw: String(settings.busyTimeoutMilliseconds))").run()
                try await sql.raw("PRAGMA foreign_keys = ON").run()
                // WAL: readers never block the writer or each other. FULL sync: a committed
                // payment survives a power cut, which matters more than a few hundred µs.
                if opened.count == 1 {
                    try await sql.raw("PRAGMA journal_mode = WAL").run()
                    try await sql.raw("PRAGMA synchronous = FULL").run()
                } else {
                    // Readers refuse writes, so a write sent through `read` fails loudly
                    // instead of racing the single writer.
                    try await sql.raw("PRAGMA query_only = ON").run()
                }
            }
        } catch {
            await closeAll(opened, threadPools: [writerThread.pool, readerThreads])
            throw DatabaseUnavailableError(database: "sqlite:\(settings.path)", reason: String(describing: error))
        }
        return SQLiteStore(writer: opened[0], writerThread: writerThread, readers: Array(opened.dropFirst()), readerThreads: readerThreads)
    }

    func close() async {
        await Self.closeAll(writer.allIdleConnections + readers.allIdleConnections, threadPools: [writerThread.pool, readerThreads])
    }

    /// Closes connections and their threads even when the calling task has been cancelled
    /// (a cancelled task's thread-pool work would be skipped, leaking the file handles).
    private static func closeAll(_ connections: [SQLiteConnection], threadPools: [NIOThreadPool]) async {
        await Task {
            for connection in connections { try? await connection.close() }
            for threadPool in threadPools { try? await threadPool.shutdownGracefully() }
        }.value
    }
}

// MARK: - PostgreSQL

private final class PostgresStore: Sendable {
    let client: PostgresClient
    private let maximumConnections: Int
    private let counters = Mutex<(requested: Int, inUse: Int)>((0, 0))

    init(_ settings: DatabaseConfiguration.PostgresSettings, maximumConnections: Int, logger: Logger) {
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.username,
            password: settings.password, database: settings.database, tls: Self.tls(settings.tls))
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 0
        // Plan prepared statements once (`DatabaseTransaction.execute`): left to choose, PostgreSQL
        // kept re-planning the hold statements on every call. It applies to SQLKit's unnamed
        // statements too, so a query must not need its parameters' values to be planned well.
        configuration.options.additionalStartupParameters = [("plan_cache_mode", "force_generic_plan")]
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.maximumConnections = maximumConnections
    }

    /// Opens one plain connection first: unlike the pool, which retries quietly forever, it
    /// fails at once with the real reason (refused, bad password, no such database).
    static func probe(_ settings: DatabaseConfiguration.PostgresSettings, logger: Logger) async throws {
        let description = DatabaseConfiguration.postgres(settings).redactedDescription
        do {
            let configuration = PostgresConnection.Configuration(
                host: settings.host, port: settings.port, username: settings.username,
                password: settings.password, database: settings.database, tls: try connectionTLS(settings.tls))
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try await connection.close()
        } catch let error as PSQLError {
            throw DatabaseUnavailableError(database: description, reason: Self.explain(error))
        } catch {
            throw DatabaseUnavailableError(database: description, reason: String(describing: error))
        }
    }

    func withConnection<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        counters.withLock { $0.requested += 1 }
        defer { counters.withLock { $0.requested -= 1 } }
        return try await client.withConnection { connection in
            counters.withLock { $0.inUse += 1 }
            defer { counters.withLock { $0.inUse -= 1 } }
            return try await body(connection)
        }
    }

    var statistics: DatabasePoolStatistics {
        let (requested, inUse) = counters.withLock { $0 }
        return DatabasePoolStatistics(maximumConnections: maximumConnections, inUse: inUse, waiting: max(0, requested - inUse))
    }

    private static func tls(_ mode: DatabaseConfiguration.PostgresSettings.TLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    private static func connectionTLS(
        _ mode: DatabaseConfiguration.PostgresSettings.TLSMode
    ) throws -> PostgresConnection.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(try .init(configuration: .makeClientConfiguration()))
        case .require: .require(try .init(configuration: .makeClientConfiguration()))
        }
    }

    /// PSQLError hides the useful part (the server's message or the socket error) inside.
    static func explain(_ error: PSQLError) -> String {
        if let message = error.serverInfo?[.message] { return message }
        if let underlying = error.underlying { return String(describing: underlying) }
        return error.code.description
    }
}

extension DatabaseDialect {
    /// OpenTelemetry's `db.system` name.
    var tracingName: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgresql"
        }
    }
}
