import Foundation
import NIOCore
import RedisClient
import TestSupport
import Testing

@Suite struct RedisClientTests {
    @Test func speaksRESP3AndTurnsErrorRepliesIntoTypedErrors() async throws {
        try await TestRedis.withClient { redis async throws in
            let key = TestRedis.uniquePrefix() + "hash"
            try await redis.send("HSET", key, "a", "1", "b", "2")
            // RESP3 answers HGETALL with a map; RESP2 would have sent a flat array.
            let reply = try await redis.send("HGETALL", key)
            guard case .map = reply else {
                Issue.record("expected a RESP3 map, got \(reply)")
                return
            }
            let pairs = Dictionary(uniqueKeysWithValues: (reply.pairs ?? []).map { ($0.0.string ?? "", $0.1.string ?? "") })
            #expect(pairs == ["a": "1", "b": "2"])
            await #expect(throws: RedisError.server(code: "WRONGTYPE", message: "WRONGTYPE Operation against a key holding the wrong kind of value")) {
                try await redis.send("LPUSH", key, "x")
            }
            #expect(try await redis.send("GET", TestRedis.uniquePrefix() + "missing") == .null)
        }
    }

    @Test func aThousandConcurrentCommandsEachGetTheirOwnReply() async throws {
        try await TestRedis.withClient(configure: { $0.poolSize = 2 }) { redis async throws in
            let mismatches = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<1000 {
                    group.addTask { try await redis.send("ECHO", "message-\(index)").string == "message-\(index)" }
                }
                return try await group.reduce(0) { $0 + ($1 ? 0 : 1) }
            }
            #expect(mismatches == 0)
            // One write of many commands: the replies come back in the order asked.
            let prefix = TestRedis.uniquePrefix()
            let commands = (0..<1000).map { RedisCommand("INCRBY", prefix + "counter", String($0)) }
            let replies = try await redis.pipeline(commands)
            let expected = (0..<1000).map { index in (0...index).reduce(0, +) }
            #expect(replies.map { $0.int ?? -1 } == expected)
        }
    }

    @Test func scriptsLoadThemselvesOnFirstUse() async throws {
        try await TestRedis.withClient { redis async throws in
            let script = RedisScript("return {KEYS[1], ARGV[1], \(Int.random(in: 0..<1_000_000_000))}")
            try await redis.send("SCRIPT", "FLUSH")
            let first = try await redis.eval(script, keys: ["k"], arguments: ["v"])
            let second = try await redis.eval(script, keys: ["k"], arguments: ["v"])
            #expect(first == second)
            #expect(first.array?.prefix(2).compactMap(\.string) == ["k", "v"])
            #expect(try await redis.send("SCRIPT", "EXISTS", script.sha1).array?.first?.int == 1)
        }
    }

    @Test func aCommandTimesOutInsteadOfHangingAndTheClientCarriesOn() async throws {
        try await TestRedis.withClient(configure: { $0.commandTimeout = .milliseconds(200); $0.poolSize = 1 }) { redis async throws in
            // Connect first (the handshake has the same short timeout, and a loaded machine can be slow).
            for _ in 0..<20 where (try? await redis.send("PING")) == nil { try await Task.sleep(for: .milliseconds(50)) }
            let started = ContinuousClock.now
            // The server would block this for ten seconds; the client gives up after 200 ms
            // (a loaded machine may take a while to connect, hence the loose bound).
            await #expect(throws: RedisError.timeout(command: "BLPOP")) {
                try await redis.send("BLPOP", TestRedis.uniquePrefix() + "empty", "10")
            }
            #expect(ContinuousClock.now - started < .seconds(5))
            // It carries on: the next command is answered (retried only for the same reason as above).
            var pong: RESPValue?
            for _ in 0..<20 where pong == nil {
                pong = try? await redis.send("PING")
                if pong == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(pong == .simpleString("PONG"))
        }
    }

    @Test func aKilledConnectionIsReplaced() async throws {
        try await TestRedis.withClient(configure: { $0.poolSize = 1 }) { redis async throws in
            let before = try #require(try await redis.send("CLIENT", "ID").int)
            try await redis.withDedicatedConnection { killer in
                _ = try await killer.send(RedisCommand("CLIENT", "KILL", "ID", String(before)))
            }
            // The command in flight when a connection dies fails; the next one reconnects.
            var after: Int?
            for _ in 0..<20 where after == nil {
                after = try? await redis.send("CLIENT", "ID").int
                if after == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            let replaced = try #require(after)
            #expect(replaced != before)
        }
    }

    @Test func anUnreachableServerFailsFastWithATypedError() async throws {
        let redis = RedisClient(
            configuration: RedisConfiguration(endpoint: .server(host: "127.0.0.1", port: 1), connectTimeout: .milliseconds(500)),
            logger: TestDatabases.logger)
        for _ in 0..<3 {
            await #expect {
                try await redis.send("PING")
            } throws: { error in
                if case .unavailable = error as? RedisError { return true }
                return false
            }
        }
        await redis.shutdown()
    }

    @Test func parsesURLsAndRefusesBadOnes() throws {
        let full = try RedisConfiguration(url: "redis://:s3cret@cache.internal:6380/2")
        #expect(full.endpoint == .server(host: "cache.internal", port: 6380))
        #expect(full.password == "s3cret")
        #expect(full.database == 2)
        #expect(!full.redactedDescription.contains("s3cret"))
        #expect(try RedisConfiguration(url: "redis://127.0.0.1").endpoint == .server(host: "127.0.0.1", port: 6379))
        #expect(throws: RedisConfiguration.InvalidURL.self) { try RedisConfiguration(url: "http://x") }
        #expect(throws: RedisConfiguration.InvalidURL.self) { try RedisConfiguration(url: "rediss://x") }
        #expect(throws: RedisConfiguration.InvalidURL.self) { try RedisConfiguration(url: "redis://x/db") }
    }

    @Test func authenticatesAndSelectsTheDatabaseFromTheURLAndRefusesAWrongPassword() async throws {
        _ = try TestRedis.requireURL()  // the same prerequisite: redis-server installed
        let processes = try RedisProcesses()
        defer { processes.stopAll() }
        let server = try await processes.startServer(["--requirepass", "s3cret"])
        // Generous timeouts: the whole suite shares two cores (the timeouts have tests of their own).
        var configuration = try RedisConfiguration(url: "redis://:s3cret@127.0.0.1:\(server.port)/3")
        configuration.connectTimeout = .seconds(10)
        configuration.commandTimeout = .seconds(10)
        let redis = RedisClient(configuration: configuration, logger: TestDatabases.logger)
        try await redis.send("SET", "k", "in three")
        #expect(try await redis.send("CLIENT", "INFO").string?.contains(" db=3 ") == true)
        await redis.shutdown()
        let wrong = RedisClient(configuration: try RedisConfiguration(url: "redis://:guess@127.0.0.1:\(server.port)"), logger: TestDatabases.logger)
        await #expect {
            try await wrong.send("PING")
        } throws: { error in
            guard case .server(let code, _) = error as? RedisError else { return false }
            return code == "WRONGPASS"
        }
        await wrong.shutdown()
    }

    /// A master, a replica and three sentinels of the test's own: stop the master, the
    /// sentinels promote the replica, and the client follows.
    @Test(.timeLimit(.minutes(1)))
    func followsASentinelFailover() async throws {
        _ = try TestRedis.requireURL()  // the same prerequisite: redis-server installed
        let processes = try RedisProcesses()
        defer { processes.stopAll() }
        let master = try await processes.startServer()
        let replica = try await processes.startServer(["--replicaof", "127.0.0.1", String(master.port)])
        var sentinels: [RedisProcesses.Server] = []
        for _ in 0..<3 { sentinels.append(try await processes.startSentinel(masterName: "boxoffice", masterPort: master.port, quorum: 2)) }
        let redis = RedisClient(
            configuration: RedisConfiguration(
                endpoint: .sentinel(sentinels: sentinels.map { .init(host: "127.0.0.1", port: $0.port) }, masterName: "boxoffice"),
                // Generous: the suite shares two cores, and a killed master refuses at once anyway.
                connectTimeout: .seconds(5), commandTimeout: .seconds(5)),
            logger: TestDatabases.logger)
        defer { Task { await redis.shutdown() } }

        // Freshly started sentinels may not have answered for the master yet.
        try await waitUntil { (try? await redis.send("SET", "before", "1")) != nil }
        #expect(try await redis.send("INFO", "server").string?.contains("tcp_port:\(master.port)") == true)
        // Wait until the replica has the data, as a real deployment would before a failover.
        try await waitUntil { (try? await redis.send("WAIT", "1", "100").int) == 1 }

        processes.kill(master)
        try await waitUntil(seconds: 30) { (try? await redis.send("SET", "after", "2")) != nil }
        #expect(try await redis.send("INFO", "server").string?.contains("tcp_port:\(replica.port)") == true)
        #expect(try await redis.send("GET", "before").string == "1")
        #expect(try await redis.send("GET", "after").string == "2")
    }

    private func waitUntil(seconds: Double = 10, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("condition not met within \(seconds) s")
        throw CancellationError()
    }
}
