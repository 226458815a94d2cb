import ArgumentParser
import BoxofficeKit
import BoxofficeServer
import Foundation
import Identity
import Logging
import Messaging
import Persistence

struct Boxoffice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boxoffice",
        abstract: "Ticketing and commerce for high-demand on-sales.",
        version: BoxofficeVersion.current,
        subcommands: [Serve.self, Migrate.self, Users.self, Keys.self, Events.self, DrillCommand.self, Version.self])
}

/// Options every command that touches the database shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: ArgumentHelp(Setting.databaseURL.helpText))
    var databaseURL: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp(Setting.dataDirectory.helpText))
    var dataDirectory: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp(Setting.logLevel.helpText))
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: ArgumentHelp(Setting.logFormat.helpText))
    var logFormat: String?

    var flags: [Setting: String] {
        var flags: [Setting: String] = [:]
        flags[.databaseURL] = databaseURL
        flags[.dataDirectory] = dataDirectory
        flags[.logLevel] = logLevel
        flags[.logFormat] = logFormat
        return flags
    }
}

/// Accounts and sign-in settings of `serve`.
struct IdentityOptions: ParsableArguments {
    @Option(name: .customLong("jwt-secret"), help: ArgumentHelp(Setting.jwtSecret.helpText))
    var jwtSecret: String?

    @Option(name: .customLong("access-token-minutes"), help: ArgumentHelp(Setting.accessTokenMinutes.helpText))
    var accessTokenMinutes: String?

    @Option(name: .customLong("refresh-token-days"), help: ArgumentHelp(Setting.refreshTokenDays.helpText))
    var refreshTokenDays: String?

    @Option(name: .customLong("bcrypt-cost"), help: ArgumentHelp(Setting.bcryptCost.helpText))
    var bcryptCost: String?

    @Option(name: .customLong("human-check"), help: ArgumentHelp(Setting.humanCheck.helpText))
    var humanCheck: String?

    @Option(name: .customLong("pow-difficulty"), help: ArgumentHelp(Setting.proofOfWorkDifficulty.helpText))
    var proofOfWorkDifficulty: String?

    @Option(name: .customLong("recaptcha-secret"), help: ArgumentHelp(Setting.recaptchaSecret.helpText))
    var recaptchaSecret: String?

    @Option(name: .customLong("recaptcha-verify-url"), help: ArgumentHelp(Setting.recaptchaVerifyURL.helpText))
    var recaptchaVerifyURL: String?

    @Option(name: .customLong("recaptcha-min-score"), help: ArgumentHelp(Setting.recaptchaMinimumScore.helpText))
    var recaptchaMinimumScore: String?

    @Option(name: .customLong("public-url"), help: ArgumentHelp(Setting.publicURL.helpText))
    var publicURL: String?

    @Option(name: .customLong("oauth-providers"), help: ArgumentHelp(Setting.oauthProviders.helpText))
    var oauthProviders: String?

    func add(to flags: inout [Setting: String]) {
        flags[.jwtSecret] = jwtSecret
        flags[.accessTokenMinutes] = accessTokenMinutes
        flags[.refreshTokenDays] = refreshTokenDays
        flags[.bcryptCost] = bcryptCost
        flags[.humanCheck] = humanCheck
        flags[.proofOfWorkDifficulty] = proofOfWorkDifficulty
        flags[.recaptchaSecret] = recaptchaSecret
        flags[.recaptchaVerifyURL] = recaptchaVerifyURL
        flags[.recaptchaMinimumScore] = recaptchaMinimumScore
        flags[.publicURL] = publicURL
        flags[.oauthProviders] = oauthProviders
    }
}

/// Payment gateway settings of `serve`.
struct PaymentOptions: ParsableArguments {
    @Option(name: .customLong("payment-gateway"), help: ArgumentHelp(Setting.paymentGateway.helpText))
    var paymentGateway: String?

    @Option(name: .customLong("portone-api-url"), help: ArgumentHelp(Setting.portOneAPIURL.helpText))
    var portOneAPIURL: String?

    @Option(name: .customLong("portone-api-secret"), help: ArgumentHelp(Setting.portOneAPISecret.helpText))
    var portOneAPISecret: String?

    @Option(name: .customLong("portone-store-id"), help: ArgumentHelp(Setting.portOneStoreID.helpText))
    var portOneStoreID: String?

    @Option(name: .customLong("portone-channel-key"), help: ArgumentHelp(Setting.portOneChannelKey.helpText))
    var portOneChannelKey: String?

    @Option(name: .customLong("payment-webhook-secret"), help: ArgumentHelp(Setting.paymentWebhookSecret.helpText))
    var paymentWebhookSecret: String?

    @Option(name: .customLong("gateway-hold-minutes"), help: ArgumentHelp(Setting.gatewayHoldMinutes.helpText))
    var gatewayHoldMinutes: String?

    @Option(name: .customLong("allow-sandbox-gateway"), help: ArgumentHelp(Setting.allowSandboxGateway.helpText))
    var allowSandboxGateway: String?

    func add(to flags: inout [Setting: String]) {
        flags[.paymentGateway] = paymentGateway
        flags[.portOneAPIURL] = portOneAPIURL
        flags[.portOneAPISecret] = portOneAPISecret
        flags[.portOneStoreID] = portOneStoreID
        flags[.portOneChannelKey] = portOneChannelKey
        flags[.paymentWebhookSecret] = paymentWebhookSecret
        flags[.gatewayHoldMinutes] = gatewayHoldMinutes
        flags[.allowSandboxGateway] = allowSandboxGateway
    }
}

struct RedisOptions: ParsableArguments {
    @Option(name: .customLong("redis-url"), help: ArgumentHelp(Setting.redisURL.helpText))
    var redisURL: String?

    @Option(name: .customLong("redis-sentinels"), help: ArgumentHelp(Setting.redisSentinels.helpText))
    var redisSentinels: String?

    @Option(name: .customLong("redis-master-name"), help: ArgumentHelp(Setting.redisMasterName.helpText))
    var redisMasterName: String?

    @Option(name: .customLong("redis-password"), help: ArgumentHelp(Setting.redisPassword.helpText))
    var redisPassword: String?

    @Option(name: .customLong("event-stream-max-length"), help: ArgumentHelp(Setting.eventStreamMaxLength.helpText))
    var eventStreamMaxLength: String?

    @Option(name: .customLong("event-stream-max-age-hours"), help: ArgumentHelp(Setting.eventStreamMaxAgeHours.helpText))
    var eventStreamMaxAgeHours: String?

    func add(to flags: inout [Setting: String]) {
        flags[.eventStreamMaxLength] = eventStreamMaxLength
        flags[.eventStreamMaxAgeHours] = eventStreamMaxAgeHours
        flags[.redisURL] = redisURL
        flags[.redisSentinels] = redisSentinels
        flags[.redisMasterName] = redisMasterName
        flags[.redisPassword] = redisPassword
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the HTTP API, applying pending migrations first.")

    @OptionGroup var common: CommonOptions

    @OptionGroup(title: "Accounts and sign-in") var identity: IdentityOptions

    @OptionGroup(title: "Payments") var payments: PaymentOptions

    @OptionGroup(title: "Several nodes (Redis)") var redis: RedisOptions

    @Option(help: ArgumentHelp(Setting.host.helpText))
    var host: String?

    @Option(help: ArgumentHelp(Setting.port.helpText))
    var port: String?

    @Option(name: .customLong("max-body-bytes"), help: ArgumentHelp(Setting.maximumBodyBytes.helpText))
    var maximumBodyBytes: String?

    @Option(name: .customLong("drain-seconds"), help: ArgumentHelp(Setting.drainSeconds.helpText))
    var drainSeconds: String?

    @Option(name: .customLong("shutdown-timeout"), help: ArgumentHelp(Setting.shutdownTimeoutSeconds.helpText))
    var shutdownTimeout: String?

    @Option(name: .customLong("database-pool-size"), help: ArgumentHelp(Setting.databasePoolSize.helpText))
    var databasePoolSize: String?

    @Option(name: .customLong("fan-rate-limit"), help: ArgumentHelp(Setting.fanRateLimit.helpText))
    var fanRateLimit: String?

    @Option(name: .customLong("trusted-proxies"), help: ArgumentHelp(Setting.trustedProxies.helpText))
    var trustedProxies: String?

    @Option(name: .customLong("cors-origins"), help: ArgumentHelp(Setting.corsOrigins.helpText))
    var corsOrigins: String?

    @Option(name: .customLong("retention-days"), help: ArgumentHelp(Setting.retentionDays.helpText))
    var retentionDays: String?

    @Option(name: .customLong("smtp-url"), help: ArgumentHelp(Setting.smtpURL.helpText))
    var smtpURL: String?

    @Option(name: .customLong("mail-from"), help: ArgumentHelp(Setting.mailFrom.helpText))
    var mailFrom: String?

    @Option(name: .customLong("metrics-token"), help: ArgumentHelp(Setting.metricsToken.helpText))
    var metricsToken: String?

    @Option(name: .customLong("otel-endpoint"), help: ArgumentHelp(Setting.otelEndpoint.helpText))
    var otelEndpoint: String?

    @Flag(help: "Fill an empty embedded database with demo accounts, a venue and events (one opening soon behind a waiting room), print how to sign in, then serve.")
    var demo = false

    func run() async throws {
        var flags = common.flags
        flags[.host] = host
        flags[.port] = port
        flags[.maximumBodyBytes] = maximumBodyBytes
        flags[.drainSeconds] = drainSeconds
        flags[.shutdownTimeoutSeconds] = shutdownTimeout
        flags[.databasePoolSize] = databasePoolSize
        flags[.fanRateLimit] = fanRateLimit
        flags[.trustedProxies] = trustedProxies
        flags[.corsOrigins] = corsOrigins
        flags[.retentionDays] = retentionDays
        flags[.smtpURL] = smtpURL
        flags[.mailFrom] = mailFrom
        flags[.metricsToken] = metricsToken
        flags[.otelEndpoint] = otelEndpoint
        identity.add(to: &flags)
        payments.add(to: &flags)
        redis.add(to: &flags)
        try await reportingFailures {
            let configuration = try ServerConfiguration.resolve(flags: flags)
            try configuration.checkSafeToServe()
            let logger = bootstrapLogging(configuration)
            try await Server.serve(configuration, logger: logger, demo: demo)
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending database migrations, or list them with --status.")

    @OptionGroup var common: CommonOptions

    @Flag(help: "List applied and pending migrations instead of applying them.")
    var status = false

    func run() async throws {
        try await reportingFailures {
            var flags = common.flags
            // Migration progress goes to standard output as plain lines; logs stay quiet.
            if flags[.logLevel] == nil, ProcessInfo.processInfo.environment[Setting.logLevel.environmentVariable] == nil {
                flags[.logLevel] = "warning"
            }
            let configuration = try ServerConfiguration.resolve(flags: flags)
            let logger = bootstrapLogging(configuration)
            if status {
                let statuses = try await Server.migrationStatus(configuration, logger: logger)
                for migration in statuses {
                    let state = migration.appliedAt.map { "applied \($0.formatted(Date.ISO8601FormatStyle()))" } ?? "pending"
                    print("\(migration.name)  \(state)")
                }
                let pending = statuses.filter { !$0.isApplied }.count
                print("\(statuses.count - pending) applied, \(pending) pending")
            } else {
                let applied = try await Server.migrate(configuration, logger: logger)
                for name in applied { print("applied \(name)") }
                print(applied.isEmpty ? "nothing to apply; the database is up to date" : "applied \(applied.count) migration(s)")
            }
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")

    func run() {
        print("boxoffice \(BoxofficeVersion.current)")
    }
}

/// Runs a command body; a configuration error becomes one line on standard error and exit
/// code 78 (EX_CONFIG), any other failure one line and exit code 1. No stack traces.
func reportingFailures(_ body: () async throws -> Void) async throws {
    defer { LogOutput.standardOutput.flush() }  // log lines are written in batches
    do {
        try await body()
    } catch let error as ConfigurationError {
        printError("boxoffice: \(error.description)")
        throw ExitCode(78)
    } catch let error as MigrationDrift {
        printError("boxoffice: \(error.description)")
        throw ExitCode(78)
    } catch let error as ExitCode {
        throw error
    } catch let error as any ProblemConvertible {
        let problem = error.problem
        printError("boxoffice: \(problem.detail ?? problem.title)\(problem.errors.map { " (" + $0.map { "\($0.field) \($0.message)" }.joined(separator: "; ") + ")" } ?? "")")
        throw ExitCode(65)
    } catch {
        printError("boxoffice: \(error)")
        throw ExitCode.failure
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Sets up process-wide logging once, in the chosen format and level.
func bootstrapLogging(_ configuration: ServerConfiguration) -> Logger {
    let level = configuration.logLevel
    switch configuration.logFormat {
    case .json:
        LoggingSystem.bootstrap({ label, traceIDs in
            var handler = JSONLogHandler(label: label, level: level)
            handler.metadataProvider = traceIDs
            return handler
        }, metadataProvider: Telemetry.logMetadata)
    case .text:
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return handler
        }
    }
    var logger = Logger(label: "boxoffice")
    logger.logLevel = level
    return logger
}

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage accounts.",
        subcommands: [CreateAdmin.self])

    struct CreateAdmin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-admin",
            abstract: "Create an administrator (or make an existing account one). Reads the password from standard input.")

        @OptionGroup var common: CommonOptions

        @Option(help: "The administrator's email address.")
        var email: String

        @Option(help: "Display name.")
        var name: String = "Administrator"

        @Flag(help: "Make an account that already has this email an administrator (its password stays as it is).")
        var promoteExisting = false

        func run() async throws {
            try await reportingFailures {
                var flags = common.flags
                if flags[.logLevel] == nil, ProcessInfo.processInfo.environment[Setting.logLevel.environmentVariable] == nil {
                    flags[.logLevel] = "warning"
                }
                let configuration = try ServerConfiguration.resolve(flags: flags)
                let logger = bootstrapLogging(configuration)
                guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                    printError("boxoffice: give the password on standard input, e.g. printf '%s' \"$PASSWORD\" | boxoffice users create-admin --email …")
                    throw ExitCode(64)
                }
                let (user, created) = try await Server.createAdmin(
                    configuration, email: email, password: line, name: name, promoteExisting: promoteExisting, logger: logger)
                print(created ? "created administrator \(user.email) (\(user.id))" : "\(user.email) (\(user.id)) is now an administrator")
            }
        }
    }
}

struct DrillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Rehearse an on-sale against a running deployment, through its API.",
        discussion: """
            Puts a drill event on sale behind a waiting room; virtual fans join, are admitted, hold \
            seats and pay from their wallets, some let their hold go, walk away holding it or stop \
            waiting. Prints a live progress line, then a table of outcomes and latencies and the \
            invariants (no seat sold twice, money conserved, fans admitted in join order), and \
            writes the same as an HTML report. The fans (and the organizer, unless --email is \
            given, its password on standard input) are accounts made through the same database \
            settings as `serve`; their requests go to --url only. Exits 1 when an invariant fails.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "The deployment's address, e.g. http://127.0.0.1:8080 (its load balancer).")
    var url: String

    @Option(help: "How many virtual fans.")
    var fans: Int = 2000

    @Option(help: "Seats on sale (default: 1.5 per fan; fewer rehearse a sell-out, which takes minutes: the queue waits for walked-away fans' sessions).")
    var seats: Int?

    @Option(help: "An organizer with the admin role to run the drill as; its password is read from standard input.")
    var email: String?

    @Option(help: "Percent of fans who let their hold go instead of paying.")
    var abandonPercent: Int = 10

    @Option(help: "Percent of fans who walk away holding their seat (it frees when the hold runs out).")
    var expirePercent: Int = 5

    @Option(help: "Percent of fans who stop waiting before their turn.")
    var leaveQueuePercent: Int = 5

    @Option(help: "Requests in flight at once, at most.")
    var connections: Int = 128

    @Option(help: "Where to write the HTML report (default: boxoffice-drill-<run>.html here).")
    var report: String?

    func validate() throws {
        guard (1...100_000).contains(fans) else { throw ValidationError("--fans must be between 1 and 100000") }
        guard seats.map({ (1...100_000).contains($0) }) ?? true else { throw ValidationError("--seats must be between 1 and 100000") }
        for (name, value) in [("--abandon-percent", abandonPercent), ("--expire-percent", expirePercent), ("--leave-queue-percent", leaveQueuePercent)] {
            guard (0...100).contains(value) else { throw ValidationError("\(name) must be between 0 and 100") }
        }
        guard abandonPercent + expirePercent + leaveQueuePercent <= 100 else { throw ValidationError("the percentages add up to more than 100") }
        guard URL(string: url)?.scheme.map({ ["http", "https"].contains($0) }) == true else { throw ValidationError("--url must be an http:// or https:// address") }
        guard (1...1000).contains(connections) else { throw ValidationError("--connections must be between 1 and 1000") }
    }

    func run() async throws {
        try await reportingFailures {
            let (configuration, logger) = try Keys.configuration(common)
            var options = Drill.Options(url: url, reportPath: report ?? "")
            options.fans = fans
            options.seats = seats
            options.abandonPercent = abandonPercent
            options.expirePercent = expirePercent
            options.leaveQueuePercent = leaveQueuePercent
            options.connections = connections
            if let email {
                guard let password = readLine(strippingNewline: true), !password.isEmpty else {
                    printError("boxoffice: give the organizer's password on standard input, e.g. printf '%s' \"$PASSWORD\" | boxoffice drill --email …")
                    throw ExitCode(64)
                }
                options.organizerEmail = email
                options.organizerPassword = password
            }
            let interactive = isatty(STDERR_FILENO) == 1
            let result = try await Drill.run(options, configuration: configuration, logger: logger) { line in
                // A live line on a terminal; one line per update otherwise (logs, CI).
                FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[K" + line : line + "\n").utf8))
            }
            if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
            let path = report ?? "boxoffice-drill-\(result.runID).html"
            try Data(result.html().utf8).write(to: URL(fileURLWithPath: path))
            print(result.terminal(), terminator: "")
            print("report: \(path)")
            if !result.passed { throw ExitCode.failure }
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The signing keys every node shares (kept in the database unless --jwt-secret is set).",
        subcommands: [Rotate.self, List.self])

    static func configuration(_ common: CommonOptions) throws -> (ServerConfiguration, Logger) {
        var flags = common.flags
        if flags[.logLevel] == nil, ProcessInfo.processInfo.environment[Setting.logLevel.environmentVariable] == nil {
            flags[.logLevel] = "warning"
        }
        let configuration = try ServerConfiguration.resolve(flags: flags)
        return (configuration, bootstrapLogging(configuration))
    }

    static func describe(_ generation: SigningKeyStore.Generation) -> String {
        let format = Date.ISO8601FormatStyle()
        let retires = generation.retiresAt.map { "retires \($0.formatted(format))" } ?? "current"
        return "generation \(generation.generation): created \(generation.createdAt.formatted(format)), signs from \(generation.activeFrom.formatted(format)), \(retires)"
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new generation of signing keys. Nodes accept it at once and sign with it a minute later; tokens, ticket codes and queue tickets of the old keys keep verifying for the overlap.")

        @OptionGroup var common: CommonOptions

        @Option(help: "Hours the old keys keep verifying once the new one signs (phones may keep ticket codes offline).")
        var overlapHours: Double = SigningKeyStore.defaultOverlap / 3600

        func run() async throws {
            try await reportingFailures {
                let (configuration, logger) = try Keys.configuration(common)
                guard overlapHours >= 0 else {
                    printError("boxoffice: --overlap-hours: must not be negative")
                    throw ExitCode(64)
                }
                if configuration.jwtSecret != nil {
                    printError("boxoffice: note: nodes given --jwt-secret/BOXOFFICE_JWT_SECRET sign with it, not with the keys rotated here")
                }
                let generation = try await Server.rotateKeys(configuration, overlap: overlapHours * 3600, logger: logger)
                print("rotated: \(Keys.describe(generation))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the generations of signing keys, newest first (never the secrets).")

        @OptionGroup var common: CommonOptions

        func run() async throws {
            try await reportingFailures {
                let (configuration, logger) = try Keys.configuration(common)
                let generations = try await Server.keyGenerations(configuration, logger: logger)
                if generations.isEmpty { print("no signing keys yet: the first is made when a node starts") }
                for generation in generations { print(Keys.describe(generation)) }
            }
        }
    }
}

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "See how events flow, and deal with events that failed too often.",
        subcommands: [Stats.self, DeadLetterQueue.self])

    /// Resolves the settings the event commands need; logs stay quiet unless asked for.
    static func configuration(_ common: CommonOptions, _ redis: RedisOptions) throws -> (ServerConfiguration, Logger) {
        var flags = common.flags
        redis.add(to: &flags)
        if flags[.logLevel] == nil, ProcessInfo.processInfo.environment[Setting.logLevel.environmentVariable] == nil {
            flags[.logLevel] = "warning"
        }
        let configuration = try ServerConfiguration.resolve(flags: flags)
        return (configuration, bootstrapLogging(configuration))
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The outbox backlog and, with Redis, each stream's length, dead letters and consumer groups' lag.")

        @OptionGroup var common: CommonOptions
        @OptionGroup(title: "Redis") var redis: RedisOptions

        func run() async throws {
            try await reportingFailures {
                let (configuration, logger) = try Events.configuration(common, redis)
                let stats = try await Server.eventStats(configuration, logger: logger)
                let oldest = stats.oldestPendingSeconds.map { String(format: ", oldest %.1f s", $0) } ?? ""
                print("outbox: \(stats.outboxPending) to deliver\(oldest), \(stats.outboxDead) set aside")
                guard let streams = stats.streams else {
                    print("events are delivered in this process (no Redis configured)")
                    return
                }
                for stream in streams {
                    print("\(stream.topic): \(stream.length) entries, \(stream.deadLetters) dead letters")
                    for group in stream.groups {
                        print("  \(group.group): lag \(group.lag.map(String.init) ?? "unknown"), pending \(group.pending), consumers \(group.consumers)")
                    }
                }
            }
        }
    }

    struct DeadLetterQueue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dlq", abstract: "Events set aside after repeated failures.",
            subcommands: [List.self, Replay.self, Drop.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List dead letters, oldest first.")

            @OptionGroup var common: CommonOptions
            @OptionGroup(title: "Redis") var redis: RedisOptions
            @Option(help: "At most this many.") var limit = 100

            func run() async throws {
                try await reportingFailures {
                    let (configuration, logger) = try Events.configuration(common, redis)
                    let letters = try await Server.withDeadLetters(configuration, logger: logger) { try await $0.list(limit: limit) }
                    for letter in letters {
                        let when = letter.failedAt?.formatted(Date.ISO8601FormatStyle()) ?? "-"
                        let group = letter.group.map { " group=\($0)" } ?? ""
                        print("\(letter.id)  \(letter.eventType) \(letter.aggregate)\(group) attempts=\(letter.attempts) at=\(when)")
                        print("    \(letter.error)")
                    }
                    print("\(letters.count) dead letter(s)")
                }
            }
        }

        struct Replay: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Deliver dead letters again (those that handled them skip them).")

            @OptionGroup var common: CommonOptions
            @OptionGroup(title: "Redis") var redis: RedisOptions
            @Argument(help: "Dead-letter IDs as `dlq list` shows them.") var ids: [String] = []
            @Flag(help: "Replay every dead letter.") var all = false

            func run() async throws {
                try await reportingFailures {
                    guard all != !ids.isEmpty else {
                        printError("boxoffice: name dead-letter IDs or give --all")
                        throw ExitCode(64)
                    }
                    let (configuration, logger) = try Events.configuration(common, redis)
                    let missing = try await Server.withDeadLetters(configuration, logger: logger) { store in
                        let targets = all ? try await store.list(limit: 100_000).map(\.id) : ids
                        var missing: [String] = []
                        for id in targets where try await !store.replay(id) { missing.append(id) }
                        print("replayed \(targets.count - missing.count) event(s)")
                        return missing
                    }
                    if !missing.isEmpty {
                        printError("boxoffice: no dead letter \(missing.joined(separator: ", "))")
                        throw ExitCode(65)
                    }
                }
            }
        }

        struct Drop: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Give up on dead letters for good.")

            @OptionGroup var common: CommonOptions
            @OptionGroup(title: "Redis") var redis: RedisOptions
            @Argument(help: "Dead-letter IDs as `dlq list` shows them.") var ids: [String]

            func run() async throws {
                try await reportingFailures {
                    let (configuration, logger) = try Events.configuration(common, redis)
                    let missing = try await Server.withDeadLetters(configuration, logger: logger) { store in
                        var missing: [String] = []
                        for id in ids where try await !store.drop(id) { missing.append(id) }
                        print("dropped \(ids.count - missing.count) event(s)")
                        return missing
                    }
                    if !missing.isEmpty {
                        printError("boxoffice: no dead letter \(missing.joined(separator: ", "))")
                        throw ExitCode(65)
                    }
                }
            }
        }
    }
}
