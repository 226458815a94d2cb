import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Tracing

/// Where Redis is and how to talk to it.
public struct RedisConfiguration: Sendable, Equatable {
    public enum Endpoint: Sendable, Equatable {
        case server(host: String, port: Int)
        /// Ask these sentinels where the master named `masterName` is, and ask again after a
        /// failover.
        case sentinel(sentinels: [HostAndPort], masterName: String)
    }

    public struct HostAndPort: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port`; the port defaults to `defaultPort`.
        public init?(_ text: String, defaultPort: Int) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2, let host = parts.first, !host.isEmpty else { return nil }
            guard let port = parts.count == 2 ? Int(parts[1]) : defaultPort, (1...65535).contains(port) else { return nil }
            self.init(host: String(host), port: port)
        }

        public var description: String { "\(host):\(port)" }
    }

    public var endpoint: Endpoint
    public var username: String?
    public var password: String?
    public var database: Int
    /// Connections in the pool. Each carries many commands at once, so a few suffice.
    public var poolSize: Int
    public var connectTimeout: TimeAmount
    public var commandTimeout: TimeAmount

    public init(
        endpoint: Endpoint, username: String? = nil, password: String? = nil, database: Int = 0, poolSize: Int = 4,
        connectTimeout: TimeAmount = .seconds(2), commandTimeout: TimeAmount = .seconds(2)
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.poolSize = max(1, poolSize)
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    public struct InvalidURL: Error, CustomStringConvertible {
        public let description: String
    }

    /// `redis://[[user]:password@]host[:port][/database]`.
    public init(url text: String) throws {
        guard let url = URLComponents(string: text), url.scheme == "redis", let host = url.host, !host.isEmpty else {
            if text.hasPrefix("rediss:") {
                throw InvalidURL(description: "TLS to Redis (rediss://) is not supported; reach Redis over a private network or a local TLS proxy")
            }
            throw InvalidURL(description: "a Redis URL looks like redis://[:password@]host[:port][/database]")
        }
        let path = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard path.isEmpty || Int(path) != nil else { throw InvalidURL(description: "the database in a Redis URL is a number, e.g. /0") }
        self.init(
            endpoint: .server(host: host, port: url.port ?? 6379),
            username: url.user.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding },
            password: url.password?.removingPercentEncoding, database: Int(path) ?? 0)
    }

    /// For logs: where, never the password.
    public var redactedDescription: String {
        switch endpoint {
        case .server(let host, let port): "redis://\(host):\(port)/\(database)"
        case .sentinel(let sentinels, let name):
            "sentinel master '\(name)' via \(sentinels.map(\.description).joined(separator: ","))"
        }
    }
}

/// A pool of pipelined connections to Redis (a standalone server, or the master that Sentinel
/// names), reconnecting with backoff.
///
/// Commands are not retried: one that failed with `connectionClosed` or `timeout` may have run.
/// After a failover, connections to the old master break or answer `READONLY`; either closes
/// the connection, and the next command asks the sentinels again.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let slots: [Slot]
    private let nextSlot = Atomic<Int>(0)
    private let scriptsLoaded = Mutex<Set<String>>([])

    public init(
        configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.slots = (0..<configuration.poolSize).map { _ in Slot() }
    }

    // MARK: Commands

    /// Sends one command; an error reply is thrown as `RedisError.server`.
    @discardableResult
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        try await withSpan("redis \(command.name)", ofKind: .client) { span in
            span.attributes["db.system"] = "redis"
            let connection = try await connection()
            let reply = try await connection.sendRaw(command)
            return try check(reply, on: connection)
        }
    }

    @discardableResult
    public func send(_ name: String, _ arguments: String...) async throws -> RESPValue {
        try await send(RedisCommand(name, arguments))
    }

    /// Sends the commands in one write on one connection and returns their replies in order,
    /// error replies included (as `.error` values), so one failing command does not hide the
    /// others' results.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RESPValue] {
        try await withSpan("redis pipeline", ofKind: .client) { span in
            span.attributes["db.system"] = "redis"
            span.attributes["db.operation.name"] = Set(commands.map(\.name)).sorted().joined(separator: " ")
            let connection = try await connection()
            let replies = try await connection.sendRaw(commands)
            for reply in replies { _ = try? check(reply, on: connection) }
            return replies
        }
    }

    /// Runs `script` by its SHA1, loading it first if this server does not have it yet.
    @discardableResult
    public func eval(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RESPValue {
        try await withSpan("redis EVALSHA", ofKind: .client) { span in
            span.attributes["db.system"] = "redis"
            let connection = try await connection()
            let tail = [String(keys.count)] + keys + arguments
            let reply = try await connection.sendRaw(RedisCommand("EVALSHA", [script.sha1] + tail))
            if case .error(let text) = reply, text.hasPrefix("NOSCRIPT") {
                // EVAL runs the script and caches it on the server, so the next EVALSHA finds it.
                logger.debug("loading Redis script", metadata: ["sha1": .string(script.sha1)])
                return try check(try await connection.sendRaw(RedisCommand("EVAL", [script.source] + tail)), on: connection)
            }
            return try check(reply, on: connection)
        }
    }

    /// Lends a connection of its own, outside the pool, for commands that block it (such as
    /// `XREADGROUP … BLOCK`), and closes it afterwards.
    public func withDedicatedConnection<Result: Sendable>(
        _ body: (RedisConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await connect()
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Opens a connection of its own, outside the pool; the caller closes it.
    public func dedicatedConnection() async throws -> RedisConnection {
        try await connect()
    }

    /// Closes every pooled connection. Commands sent afterwards connect again.
    public func shutdown() async {
        for slot in slots {
            let connection = slot.state.withLock { state -> RedisConnection? in
                defer { state = .idle }
                if case .connected(let connection) = state { return connection }
                return nil
            }
            await connection?.close()
        }
    }

    /// Throws an error reply; a `READONLY` one also retires the connection, because it means the
    /// server was demoted to a replica and the master is elsewhere now.
    private func check(_ reply: RESPValue, on connection: RedisConnection) throws -> RESPValue {
        guard case .error(let text) = reply else { return reply }
        let error = RedisError(errorReply: text)
        if case .server(let code, _) = error, code == "READONLY" || code == "MASTERDOWN" {
            logger.warning("Redis server is no longer the master; reconnecting", metadata: ["reply": .string(text)])
            Task { await connection.close() }
        }
        throw error
    }

    // MARK: Pool

    private enum SlotState {
        case idle
        case connecting(Task<RedisConnection, any Error>)
        case connected(RedisConnection)
        case backingOff(until: NIODeadline, failures: Int, reason: String)
    }

    private final class Slot: Sendable {
        let state = Mutex<SlotState>(.idle)
        let failures = Atomic<Int>(0)
    }

    private func anyConnectedSlot() -> RedisConnection? {
        for slot in slots {
            let connection: RedisConnection? = slot.state.withLock { state in
                if case .connected(let connection) = state, connection.isActive { return connection }
                return nil
            }
            if let connection { return connection }
        }
        return nil
    }

    private func connection() async throws -> RedisConnection {
        let index = nextSlot.add(1, ordering: .relaxed).oldValue
        let slot = slots[abs(index % slots.count)]
        enum Next {
            case ready(RedisConnection)
            case wait(Task<RedisConnection, any Error>)
            case refuse(String)
        }
        let next: Next = slot.state.withLock { state in
            switch state {
            case .connected(let connection) where connection.isActive:
                return .ready(connection)
            case .connecting(let task):
                return .wait(task)
            case .backingOff(let until, _, let reason) where until > .now():
                return .refuse(reason)
            default:
                let task = Task { try await self.connect() }
                state = .connecting(task)
                return .wait(task)
            }
        }
        switch next {
        case .ready(let connection):
            return connection
        case .refuse(let reason):
            // This slot failed a moment ago, but another may have reconnected since (after a
            // failover, slots notice the new master one by one): use it rather than fail.
            if let healthy = anyConnectedSlot() { return healthy }
            throw RedisError.unavailable(reason)
        case .wait(let task):
            do {
                let connection = try await task.value
                slot.state.withLock { state in
                    if case .connecting = state { state = .connected(connection) }
                }
                slot.failures.store(0, ordering: .relaxed)
                return connection
            } catch {
                let failures = slot.failures.add(1, ordering: .relaxed).newValue
                // 50 ms doubling to 2 s, with jitter so nodes do not reconnect in step.
                let base = min(2_000, 50 << min(failures - 1, 6))
                let delay = TimeAmount.milliseconds(Int64(base / 2 + Int.random(in: 0...(base / 2))))
                let reason = (error as? RedisError)?.description ?? String(describing: error)
                slot.state.withLock { state in
                    if case .connecting = state { state = .backingOff(until: .now() + delay, failures: failures, reason: reason) }
                }
                if failures == 1 || failures.isMultiple(of: 20) {
                    logger.warning("cannot reach Redis", metadata: [
                        "redis": .string(configuration.redactedDescription), "reason": .string(reason), "failures": .stringConvertible(failures),
                    ])
                }
                throw error
            }
        }
    }

    /// Connects to the server, or to the master the sentinels name right now.
    private func connect() async throws -> RedisConnection {
        let target: RedisConfiguration.HostAndPort
        switch configuration.endpoint {
        case .server(let host, let port):
            target = .init(host: host, port: port)
        case .sentinel(let sentinels, let masterName):
            target = try await discoverMaster(named: masterName, from: sentinels)
        }
        let connection = try await RedisConnection.connect(
            host: target.host, port: target.port, password: configuration.password, username: configuration.username,
            database: configuration.database, connectTimeout: configuration.connectTimeout,
            commandTimeout: configuration.commandTimeout, eventLoopGroup: eventLoopGroup)
        if case .sentinel = configuration.endpoint {
            // Sentinel can name a server that is still finishing its promotion (or was demoted
            // a moment ago): talk only to one that says it is the master.
            let role = try? await connection.send(RedisCommand("ROLE"))
            guard role?.array?.first?.string == "master" else {
                await connection.close()
                throw RedisError.unavailable("\(target) is not the master yet")
            }
        }
        return connection
    }

    private func discoverMaster(
        named name: String, from sentinels: [RedisConfiguration.HostAndPort]
    ) async throws -> RedisConfiguration.HostAndPort {
        var reasons: [String] = []
        for sentinel in sentinels {
            do {
                let connection = try await RedisConnection.connect(
                    host: sentinel.host, port: sentinel.port, password: nil, username: nil, database: 0,
                    connectTimeout: configuration.connectTimeout, commandTimeout: configuration.commandTimeout,
                    eventLoopGroup: eventLoopGroup)
                defer { Task { await connection.close() } }
                let reply = try await connection.send(RedisCommand("SENTINEL", "get-master-addr-by-name", name))
                guard let parts = reply.array, parts.count == 2, let host = parts[0].string, let port = parts[1].int else {
                    reasons.append("\(sentinel) does not know master '\(name)'")
                    continue
                }
                return .init(host: host, port: port)
            } catch {
                reasons.append("\(sentinel): \(error)")
            }
        }
        throw RedisError.unavailable("no sentinel named the master '\(name)' (\(reasons.joined(separator: "; ")))")
    }
}
