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

    init(sql: any SQLDatabase, dialect: DatabaseDialect) {
        self.sql = sql
        self.dialect = dialect
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
