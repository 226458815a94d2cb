import Foundation
import Logging
import NIOCore
import RedisClient
import Testing

/// The Redis server `scripts/test` starts, shared by every test: each test keeps to keys under
/// a prefix of its own.
public enum TestRedis {
    public static var url: String? {
        ProcessInfo.processInfo.environment["BOXOFFICE_TEST_REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Skips the running test, visibly, when Redis is not available.
    public static func requireURL() throws -> String {
        guard let url else {
            let reason = "Redis tests need BOXOFFICE_TEST_REDIS_URL; run scripts/test to have one started"
            FileHandle.standardError.write(Data("SKIPPED \(Test.current?.name ?? "a test") on redis: \(reason)\n".utf8))
            try Test.cancel(Comment(rawValue: reason))
        }
        return url
    }

    /// A prefix no other test uses.
    public static func uniquePrefix() -> String {
        "test:\(UUID().uuidString.prefix(8)):"
    }

    public static func withClient<Result: Sendable>(
        configure: (inout RedisConfiguration) -> Void = { _ in },
        _ body: (RedisClient) async throws -> Result
    ) async throws -> Result {
        var configuration = try RedisConfiguration(url: try requireURL())
        // The whole suite runs at once on two cores: a command can wait seconds for the CPU.
        // Tests of timeouts set their own.
        configuration.commandTimeout = .seconds(10)
        configuration.connectTimeout = .seconds(10)
        configure(&configuration)
        let client = RedisClient(configuration: configuration, logger: TestDatabases.logger)
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }
}

/// Redis servers of a test's own (for killing, failing over), started from the installed
/// `redis-server` on free loopback ports and stopped when the test ends.
public final class RedisProcesses: @unchecked Sendable {
    public struct Server: Sendable {
        public let port: Int
        let process: ChildProcess
    }

    private let directory: URL
    private var servers: [Server] = []
    private let lock = NSLock()

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("boxoffice-redis-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// A server; `arguments` are extra `redis-server` options such as `--replicaof`.
    public func startServer(_ arguments: [String] = []) async throws -> Server {
        let port = try Self.freePort()
        let name = "server-\(port)"
        let server = try launch(
            ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory.path,
             "--dbfilename", "\(name).rdb", "--logfile", directory.appendingPathComponent("\(name).log").path] + arguments,
            port: port)
        return server
    }

    /// A sentinel watching `masterPort` as `masterName`, quick to declare it down.
    public func startSentinel(masterName: String, masterPort: Int, quorum: Int) async throws -> Server {
        let port = try Self.freePort()
        let config = directory.appendingPathComponent("sentinel-\(port).conf")
        try """
            port \(port)
            bind 127.0.0.1
            dir \(directory.path)
            logfile \(directory.appendingPathComponent("sentinel-\(port).log").path)
            sentinel monitor \(masterName) 127.0.0.1 \(masterPort) \(quorum)
            sentinel down-after-milliseconds \(masterName) 1000
            sentinel failover-timeout \(masterName) 5000
            sentinel parallel-syncs \(masterName) 1
            """.write(to: config, atomically: true, encoding: .utf8)
        return try launch([config.path, "--sentinel"], port: port)
    }

    /// SIGKILL: the server gets no chance to say goodbye.
    public func kill(_ server: Server) {
        server.process.kill()
    }

    public func stopAll() {
        let all = lock.withLock { servers }
        for server in all { server.process.kill() }
        try? FileManager.default.removeItem(at: directory)
    }

    private func launch(_ arguments: [String], port: Int) throws -> Server {
        let process = try ChildProcess(
            executable: try Self.redisServer().path, arguments: arguments, environment: ProcessInfo.processInfo.environment)
        let server = Server(port: port, process: process)
        lock.withLock { servers.append(server) }
        // Ready once it accepts connections.
        for _ in 0..<100 {
            if Self.accepts(port: port) { return server }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw RedisError.unavailable("redis-server on port \(port) did not start")
    }

    private static func redisServer() throws -> URL {
        for path in ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/opt/homebrew/bin/redis-server"]
        where FileManager.default.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        throw RedisError.unavailable("redis-server is not installed (scripts/test installs it)")
    }

    private static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
        }
        guard bound == 0 else { throw RedisError.unavailable("no free port") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func accepts(port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
