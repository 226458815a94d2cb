import Logging
import PostgresNIO
import Synchronization
import SQLKit

/// An open transaction: run statements through `sql`; everything commits or nothing does.
///
/// Valid only inside the `withTransaction` closure that handed it out; don't let it escape.
public final class DatabaseTransaction: Sendable {
    /// The connection the transaction runs on.
    public let sql: any SQLDatabase
    public let dialect: DatabaseDialect
    private let commitHooks = Mutex<[@Sendable () -> Void]>([])
    private let postgres: PostgresConnection?
    private let logger: Logger

    init(sql: any SQLDatabase, dialect: DatabaseDialect, postgres: PostgresConnection?, logger: Logger) {
        self.sql = sql
        self.dialect = dialect
        self.postgres = postgres
        self.logger = logger
    }

    /// Runs a named prepared statement on PostgreSQL: prepared once per connection, so it is
    /// planned once rather than on every call — for the few statements hot enough that planning
    /// shows (a seat hold's). Only for `dialect == .postgres`.
    public func execute<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row] {
        guard let postgres else { throw PreparedStatementsUnavailable() }
        return try await postgres.rows(of: statement, logger: logger)
    }

    /// Runs `hook` once the transaction has committed (never if it rolls back), e.g. to wake
    /// the outbox relay for events this transaction wrote.
    public func afterCommit(_ hook: @escaping @Sendable () -> Void) {
        commitHooks.withLock { $0.append(hook) }
    }

    func runCommitHooks() {
        let hooks = commitHooks.withLock { hooks in
            defer { hooks.removeAll() }
            return hooks
        }
        for hook in hooks { hook() }
    }
}

/// A prepared statement was run on a database that is not PostgreSQL (check `dialect` first).
public struct PreparedStatementsUnavailable: Error, CustomStringConvertible {
    public var description: String { "prepared statements run on PostgreSQL only" }
}

extension PostgresConnection {
    /// Every row a prepared statement returns.
    func rows<Statement: PostgresPreparedStatement>(of statement: Statement, logger: Logger) async throws -> [Statement.Row] {
        var rows: [Statement.Row] = []
        for try await row in try await execute(statement, logger: logger) { rows.append(row) }
        return rows
    }
}
