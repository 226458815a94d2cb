import BoxofficeKit
import BoxofficeServer
import Foundation
import HummingbirdTesting
import NIOCore
import NIOPosix
import Persistence
import TestSupport
import Testing

/// The `boxoffice` binary as an operator runs it.
@Suite struct CommandLineTests {
    private func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("boxoffice-cli-\(UUID().uuidString)").path
    }

    @Test func versionPrintsTheVersion() async throws {
        let outcome = try await BoxofficeExecutable.run(["version"])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput == "boxoffice \(BoxofficeVersion.current)\n")
    }

    @Test(arguments: [
        (["serve", "--log-level", "loud"], [String: String](), "--log-level: unknown log level 'loud'"),
        (["serve", "--log-format", "xml"], [:], "--log-format: unknown log format 'xml'"),
        (["serve", "--port", "99999"], [:], "--port: '99999' is not a port number"),
        (["serve"], ["BOXOFFICE_DATABASE_URL": "mysql://root@localhost/db"], "BOXOFFICE_DATABASE_URL: expected postgres://"),
        (["migrate", "--database-url", "postgres://app@localhost"], [:], "--database-url: the postgres URL names no database"),
    ])
    func badConfigurationIsOneLineNamingTheSettingAndANonZeroExit(
        arguments: [String], environment: [String: String], expected: String
    ) async throws {
        let outcome = try await BoxofficeExecutable.run(arguments + ["--data-dir", temporaryDirectory()], environment: environment)
        #expect(outcome.status == 78)
        #expect(outcome.standardError.hasPrefix("boxoffice: \(expected)"))
        #expect(outcome.standardError.filter { $0 == "\n" }.count == 1, "one line: \(outcome.standardError)")
    }

    @Test func anUnreachableDatabaseIsOneLineNamingTheDatabaseSetting() async throws {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let outcome = try await BoxofficeExecutable.run(
            ["serve", "--data-dir", temporaryDirectory()],
            environment: [
                "BOXOFFICE_DATABASE_URL": "postgres://app:secret@127.0.0.1:1/boxoffice?sslmode=disable", "BOXOFFICE_ALLOW_SANDBOX_GATEWAY": "true",
            ])
        #expect(outcome.status == 78)
        #expect(outcome.standardError.hasPrefix("boxoffice: --database-url/BOXOFFICE_DATABASE_URL: cannot use postgres://app:***@127.0.0.1:1/boxoffice"))
        #expect(!outcome.standardError.contains("secret"))
        #expect(outcome.standardError.filter { $0 == "\n" }.count == 1, "one line: \(outcome.standardError)")
    }

    @Test func serveRefusesTheFreePointsSandboxOnPostgresInOneLine() async throws {
        let outcome = try await BoxofficeExecutable.run(
            ["serve", "--data-dir", temporaryDirectory()], environment: ["BOXOFFICE_DATABASE_URL": "postgres://app@127.0.0.1:1/boxoffice"])
        #expect(outcome.status == 78)
        #expect(outcome.standardError.hasPrefix("boxoffice: --payment-gateway: the sandbox gateway hands out wallet points"))
        #expect(outcome.standardError.filter { $0 == "\n" }.count == 1, "one line: \(outcome.standardError)")
    }

    @Test func aPortInUseIsOneLineNamingThePortSetting() async throws {
        let occupier = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(occupier.localAddress?.port)
        let outcome = try await BoxofficeExecutable.run(["serve", "--port", String(port), "--data-dir", temporaryDirectory()])
        try await occupier.close()
        #expect(outcome.status == 78)
        #expect(outcome.standardError == "boxoffice: --port/BOXOFFICE_PORT: 127.0.0.1:\(port) is already in use\n")
    }

    @Test func migrateOnSQLiteAppliesOnceThenReportsNothingToApply() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let names = BoxofficePlatform.migrationGroups.flatMap { group in group.migrations.map { "\(group.module)/\($0.id)" } }

        let pending = try await BoxofficeExecutable.run(["migrate", "--status", "--data-dir", directory])
        #expect(pending.status == 0)
        #expect(pending.standardOutput.contains("0 applied, \(names.count) pending"))

        let first = try await BoxofficeExecutable.run(["migrate", "--data-dir", directory])
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.standardOutput.split(separator: "\n").filter { $0.hasPrefix("applied ") && !$0.contains("migration(s)") }
            .map { String($0.dropFirst("applied ".count)) } == names)
        #expect(FileManager.default.fileExists(atPath: "\(directory)/boxoffice.sqlite"))

        let second = try await BoxofficeExecutable.run(["migrate", "--data-dir", directory])
        #expect(second.standardOutput == "nothing to apply; the database is up to date\n")

        let status = try await BoxofficeExecutable.run(["migrate", "--status", "--data-dir", directory])
        #expect(status.standardOutput.contains("\(names.count) applied, 0 pending"))
    }

    @Test func twoMigrateProcessesAtOnceAgainstPostgresApplyEachMigrationOnce() async throws {
        try await TestDatabases.withFreshConfiguration(.postgres) { configuration in
            let environment = ["BOXOFFICE_DATABASE_URL": TestDatabases.url(of: configuration)]
            let names = BoxofficePlatform.migrationGroups.flatMap { group in group.migrations.map { "\(group.module)/\($0.id)" } }
            let processes = try (0..<2).map { _ in try BoxofficeExecutable.start(["migrate"], environment: environment) }
            var applied: [String] = []
            for process in processes {
                let outcome = await process.finish()
                #expect(outcome.status == 0, "\(outcome.standardError)")
                applied += outcome.standardOutput.split(separator: "\n")
                    .filter { $0.hasPrefix("applied ") && !$0.contains("migration(s)") }
                    .map { String($0.dropFirst("applied ".count)) }
            }
            #expect(applied.sorted() == names.sorted())
            let status = try await BoxofficeExecutable.run(["migrate", "--status"], environment: environment)
            #expect(status.standardOutput.contains("\(names.count) applied, 0 pending"))
        }
    }

    /// An embedded install from before keys moved into the database keeps its key as the first
    /// generation; a rotation adds the second, and the list never shows a secret.
    @Test func keysRotateKeepsAnOldInstallsKeyAndListsGenerations() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let oldKey = Data((0..<32).map { UInt8($0) })
        try Data(oldKey.base64EncodedString().utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("jwt-signing.key"))

        let rotated = try await BoxofficeExecutable.run(["keys", "rotate", "--overlap-hours", "2", "--data-dir", directory])
        #expect(rotated.status == 0, "\(rotated.standardError)")
        #expect(rotated.standardOutput.hasPrefix("rotated: generation 2: created "))
        let listed = try await BoxofficeExecutable.run(["keys", "list", "--data-dir", directory])
        let lines = listed.standardOutput.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.hasSuffix("current") == true)
        #expect(lines.last?.hasPrefix("generation 1: ") == true && lines.last?.contains("retires ") == true)
        #expect(!listed.standardOutput.contains(oldKey.base64EncodedString()))

        let configuration = try ServerConfiguration.resolve(flags: [.dataDirectory: directory], environment: [:])
        try await Database.withDatabase(configuration.database, logger: TestDatabases.logger) { database in
            let store = SigningKeyStore(database: database, clock: SystemClock())
            let ring = try await store.load()
            #expect(ring.snapshot.verifying.first { $0.generation == 1 }?.secret == Array(oldKey))
            #expect(ring.signing.generation == 1, "the new key signs only a minute after the rotation")
        }
        let negative = try await BoxofficeExecutable.run(["keys", "rotate", "--overlap-hours", "-1", "--data-dir", directory])
        #expect(negative.status == 64)
    }

    @Test func createAdminMakesAnAccountThatCanSignInAsAdmin() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let arguments = ["users", "create-admin", "--email", "Root@Example.com", "--data-dir", directory, "--name", "Root"]
        let created = try await BoxofficeExecutable.run(arguments, input: "a long admin password\n")
        #expect(created.status == 0, "\(created.standardError)")
        #expect(created.standardOutput.hasPrefix("created administrator Root@Example.com ("))

        // A squatted address is not promoted (nor its password replaced) unless asked for.
        let refused = try await BoxofficeExecutable.run(arguments, input: "ignored for existing accounts\n")
        #expect(refused.status == 65)
        #expect(refused.standardError.contains("--promote-existing"))
        let again = try await BoxofficeExecutable.run(arguments + ["--promote-existing"], input: "ignored for existing accounts\n")
        #expect(again.standardOutput.contains("is now an administrator"))

        let weak = try await BoxofficeExecutable.run(
            ["users", "create-admin", "--email", "other@example.com", "--data-dir", directory], input: "short\n")
        #expect(weak.status == 65)
        #expect(weak.standardError.contains("password must be 10 to 128 characters"))

        let noPassword = try await BoxofficeExecutable.run(["users", "create-admin", "--email", "x@example.com", "--data-dir", directory])
        #expect(noPassword.status == 64)

        // The account works: sign in against the same database and key.
        var configuration = try ServerConfiguration.resolve(flags: [.dataDirectory: directory], environment: [:])
        configuration.bcryptCost = 4
        try await Database.withDatabase(configuration.database, logger: TestDatabases.logger) { database in
            let platform = try await BoxofficePlatform(configuration: configuration, database: database, logger: TestDatabases.logger)
            let session = try await platform.identity.signIn(email: "root@example.com", password: "a long admin password", clientAddress: nil)
            #expect(session.user.roles.contains(.admin))
        }
    }

    @Test func serveAnswersHealthAndMetricsThenStopsCleanlyOnSIGTERM() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try BoxofficeExecutable.start(["serve", "--port", "0", "--data-dir", directory, "--drain-seconds", "0.2"])
        defer { if server.process.isRunning { server.process.terminate() } }

        // The JSON log says where it listens: {"address":"http://127.0.0.1:PORT","msg":"listening",…}
        var port: Int?
        let deadline = ContinuousClock.now + .seconds(60)
        while port == nil, ContinuousClock.now < deadline, server.process.isRunning {
            for line in server.standardOutput.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      object["msg"] as? String == "listening", let address = object["address"] as? String
                else { continue }
                port = address.split(separator: ":").last.flatMap { Int($0) }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let listening = try #require(port, "no 'listening' line in: \(server.standardOutput)")

        let health = try await TestClient.withClient(host: "127.0.0.1", port: listening) { try await $0.get("/health") }
        #expect(health.status == .ok)
        let metrics = try await TestClient.withClient(host: "127.0.0.1", port: listening) { try await $0.get("/metrics") }
        #expect(metrics.status == .ok)
        #expect(metrics.body.map { String(buffer: $0) }?.contains("boxoffice_http_requests_total") == true)
        #expect(FileManager.default.fileExists(atPath: "\(directory)/boxoffice.sqlite"))

        server.process.terminate()  // SIGTERM
        let outcome = await server.finish()
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let accessLines = outcome.standardOutput.split(separator: "\n").filter { $0.contains(#""msg":"request""#) }
        #expect(accessLines.count == 2)
        #expect(accessLines.allSatisfy { $0.contains(#""request_id":"#) })
    }
}

/// `boxoffice events` on the embedded database: the outbox's backlog and its set-aside events.
@Suite struct EventCommandTests {
    @Test func anOperatorSeesADeadEventReplaysItAndIsToldOfUnknownOnes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("boxoffice-events-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try await BoxofficeExecutable.run(["migrate", "--data-dir", directory]).status == 0)
        // An event a subscriber failed on ten times, as the relay leaves it.
        try await Database.withDatabase(try DatabaseConfiguration(url: "sqlite:\(directory)/boxoffice.sqlite"), logger: TestDatabases.logger) { database in
            try await database.withTransaction { transaction in
                try await transaction.sql.raw("""
                    INSERT INTO outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts, last_error, dead_at)
                    VALUES ('evt-1', 'reservation.held', 'hold', 'h-1', '{}', \(bind: Date()), 10, 'reservations.availability: boom', \(bind: Date()))
                    """).run()
            }
        }
        let stats = try await BoxofficeExecutable.run(["events", "stats", "--data-dir", directory])
        #expect(stats.status == 0)
        #expect(stats.standardOutput.hasPrefix("outbox: 0 to deliver, 1 set aside\n"))
        let list = try await BoxofficeExecutable.run(["events", "dlq", "list", "--data-dir", directory])
        #expect(list.standardOutput.contains("evt-1  reservation.held hold/h-1 attempts=10"))
        #expect(list.standardOutput.contains("reservations.availability: boom"))
        let replay = try await BoxofficeExecutable.run(["events", "dlq", "replay", "evt-1", "--data-dir", directory])
        #expect(replay.status == 0)
        #expect(replay.standardOutput == "replayed 1 event(s)\n")
        let after = try await BoxofficeExecutable.run(["events", "stats", "--data-dir", directory])
        #expect(after.standardOutput.hasPrefix("outbox: 1 to deliver"))
        let unknown = try await BoxofficeExecutable.run(["events", "dlq", "drop", "evt-404", "--data-dir", directory])
        #expect(unknown.status == 65)
        #expect(unknown.standardError == "boxoffice: no dead letter evt-404\n")
    }
}
