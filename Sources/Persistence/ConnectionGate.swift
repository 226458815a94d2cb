import Synchronization

/// A fixed set of connections handed out one caller at a time, first come first served.
///
/// SQLite allows one writer at a time per file, so Boxoffice keeps one writer connection behind
/// a gate of one: concurrent writers queue here instead of failing with "database is locked".
final class ConnectionGate<Connection: Sendable>: Sendable {
    private struct State {
        var idle: [Connection]
        var waiters: [CheckedContinuation<Connection, Never>] = []
        var waiterHead = 0
        var inUse = 0
    }

    private let state: Mutex<State>
    let capacity: Int

    init(_ connections: [Connection]) {
        precondition(!connections.isEmpty, "a gate needs at least one connection")
        self.state = Mutex(State(idle: connections))
        self.capacity = connections.count
    }

    /// Lends a connection for `body`'s duration, waiting in line while all are busy.
    func withConnection<Result>(_ body: (Connection) async throws -> Result) async rethrows -> Result {
        let connection = await acquire()
        defer { release(connection) }
        return try await body(connection)
    }

    var statistics: (inUse: Int, waiting: Int) {
        state.withLock { ($0.inUse, $0.waiters.count - $0.waiterHead) }
    }

    /// Every connection, for closing at shutdown (callers must be done with them).
    var allIdleConnections: [Connection] { state.withLock { $0.idle } }

    private func acquire() async -> Connection {
        await withCheckedContinuation { continuation in
            let connection: Connection? = state.withLock { state in
                if let connection = state.idle.popLast() {
                    state.inUse += 1
                    return connection
                }
                state.waiters.append(continuation)
                return nil
            }
            if let connection { continuation.resume(returning: connection) }
        }
    }

    private func release(_ connection: Connection) {
        let next: CheckedContinuation<Connection, Never>? = state.withLock { state in
            if state.waiterHead < state.waiters.count {
                let waiter = state.waiters[state.waiterHead]
                state.waiterHead += 1
                if state.waiterHead > 64, state.waiterHead * 2 > state.waiters.count {
                    state.waiters.removeFirst(state.waiterHead)
                    state.waiterHead = 0
                }
                return waiter  // the connection passes straight to the next in line
            }
            state.inUse -= 1
            state.idle.append(connection)
            return nil
        }
        next?.resume(returning: connection)
    }
}
