import AsyncHTTPClient
import BoxofficeKit
import Foundation
@testable import Identity
import NIOCore
import NIOHTTP1
import Persistence
import RedisClient
import TestSupport
import Testing

/// A cluster from `scripts/cluster`: PostgreSQL, Redis with a replica and three sentinels,
/// three `boxoffice serve` nodes and nginx, on loopback. Always stopped by `with`.
final class Cluster: Sendable {
    let directory: URL
    let settings: [String: String]

    var url: String { settings["CLUSTER_URL"] ?? "" }
    var databaseURL: String { settings["CLUSTER_DATABASE_URL"] ?? "" }
    var nodePorts: [Int] { (settings["CLUSTER_NODE_PORTS"] ?? "").split(separator: " ").compactMap { Int($0) } }
    var nodePIDs: [Int32] { (settings["CLUSTER_NODE_PIDS"] ?? "").split(separator: " ").compactMap { Int32($0) } }
    var sentinels: [RedisConfiguration.HostAndPort] {
        (settings["CLUSTER_REDIS_SENTINELS"] ?? "").split(separator: ",").compactMap { .init(String($0), defaultPort: 26379) }
    }

    private init(directory: URL, settings: [String: String]) {
        self.directory = directory
        self.settings = settings
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The `boxoffice` binary built beside the test bundle.
    static var binary: URL {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleDirectory, bundleDirectory.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("boxoffice")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return bundleDirectory.appendingPathComponent("boxoffice")
    }

    /// Starts a cluster whose nodes also get `environment` (BOXOFFICE_* settings), runs `body`,
    /// and stops every process of it however `body` ends.
    static func with(environment: [String: String], _ body: (Cluster) async throws -> Void) async throws {
        // The same prerequisite as every Redis test: scripts/test runs these, having installed
        // the servers they need.
        _ = try TestRedis.requireURL()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("boxoffice-cluster-\(UUID().uuidString.prefix(8))")
        let started = try await run(["start", directory.path], environment: environment)
        guard started.status == 0 else {
            _ = try? await run(["stop", directory.path], environment: [:])
            FileHandle.standardError.write(Data("scripts/cluster start failed (exit \(started.status)):\n\(started.output)\n".utf8))
            Issue.record("scripts/cluster start failed (exit \(started.status)); its output is on standard error")
            throw CancellationError()
        }
        let text = try String(contentsOf: directory.appendingPathComponent("cluster.env"), encoding: .utf8)
        var settings: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals])] = String(line[line.index(after: equals)...]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        let cluster = Cluster(directory: directory, settings: settings)
        do {
            try await body(cluster)
        } catch {
            _ = try? await run(["stop", directory.path], environment: [:])
            throw error
        }
        _ = try await run(["stop", directory.path], environment: [:])
    }

    /// Runs the `boxoffice` binary the nodes run, to its end; its output and error together.
    static func runBoxoffice(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await run(arguments, executable: binary)
    }

    /// `scripts/cluster rolling`: each node restarted in turn behind nginx. The nodes keep the
    /// ports they had; their process IDs change.
    func rollingRestart() async throws -> (status: Int32, output: String) {
        try await Self.run(["rolling", directory.path], environment: [:])
    }

    private static func run(
        _ arguments: [String], environment: [String: String] = [:], executable: URL = repositoryRoot.appendingPathComponent("scripts/cluster")
    ) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("BOXOFFICE_") }
        merged["BOXOFFICE_BIN"] = binary.path
        merged.merge(environment) { _, new in new }
        process.environment = merged
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let status = try await waitForExit(process)
        try handle.close()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: log)
        return (status, output)
    }

    /// The exit status, once the process has ended. Foundation does not always reap a child
    /// here (it stays a zombie and `isRunning` stays true), so a zombie is reaped directly.
    private static func waitForExit(_ process: Process) async throws -> Int32 {
        let pid = process.processIdentifier
        while process.isRunning {
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            // The state follows the command name in parentheses: "1234 (bash) Z …".
            if let close = stat.lastIndex(of: ")"), stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z") {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid { return (status >> 8) & 0xff }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }

    /// Access tokens signed with the keys the nodes made in their shared database (the cluster
    /// is given no secret), as the nodes sign them.
    func tokens() async throws -> AccessTokens {
        let keys = try await withDatabase { database in try await SigningKeyStore(database: database, clock: SystemClock()).load() }
        return AccessTokens(keys: keys, lifetime: 3600, clock: SystemClock())
    }

    /// A client of the cluster's Redis, found through its sentinels.
    func withRedis<Result: Sendable>(_ body: (RedisClient) async throws -> Result) async throws -> Result {
        let redis = RedisClient(
            configuration: RedisConfiguration(endpoint: .sentinel(sentinels: sentinels, masterName: "boxoffice")),
            logger: TestDatabases.logger)
        do {
            let result = try await body(redis)
            await redis.shutdown()
            return result
        } catch {
            await redis.shutdown()
            throw error
        }
    }

    func withDatabase<Result: Sendable>(_ body: (Database) async throws -> Result) async throws -> Result {
        try await Database.withDatabase(try DatabaseConfiguration(url: databaseURL), logger: TestDatabases.logger, body)
    }
}

/// JSON over HTTP to the cluster.
struct ClusterClient: Sendable {
    let http: HTTPClient

    struct Reply: @unchecked Sendable {  // the parsed JSON is never mutated
        let status: Int
        let json: [String: Any]
    }

    func call(
        _ method: HTTPMethod, _ url: String, token: String?, json: Any? = nil, csv: String? = nil, headers: [String: String] = [:]
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        }
        if let csv {
            request.headers.add(name: "Content-Type", value: "text/csv")
            request.body = .bytes(ByteBuffer(string: csv))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        let parsed = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
        return Reply(status: Int(response.status.code), json: parsed)
    }
}
