import Foundation
import HTTPKit
import Identity
import Logging
import Mail
import Persistence
import RedisClient

/// Everything `boxoffice serve` and `boxoffice migrate` need, validated.
///
/// Each setting comes from its command-line flag, else its `BOXOFFICE_…` environment variable,
/// else the default. A bad value stops start-up with one line naming where it came from.
public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    public var database: DatabaseConfiguration
    /// Where the embedded database and generated keys live.
    public var dataDirectory: String = ".boxoffice"
    public var logLevel: Logger.Level = .info
    public var logFormat: LogFormat = .json
    public var maximumBodyBytes: Int = 1 << 20
    /// How long `/ready` fails before the listener closes, so load balancers notice first.
    public var drainSeconds: Double = 5
    /// The longest in-flight requests get to finish once the listener has closed.
    public var shutdownTimeoutSeconds: Double = 30
    /// The access-token signing secret; nil means a key generated under `dataDirectory`.
    public var jwtSecret: String?
    public var accessTokenMinutes: Double = 15
    public var refreshTokenDays: Double = 30
    /// bcrypt work factor; each step doubles the time a password check takes.
    public var bcryptCost: Int = 11
    public var humanCheck: HumanCheckMode = .proofOfWork
    public var proofOfWorkDifficulty: Int = 16
    public var recaptchaSecret: String?
    public var recaptchaVerifyURL: String = "https://www.google.com/recaptcha/api/siteverify"
    public var recaptchaMinimumScore: Double = 0.5
    /// The address browsers reach this site at; OAuth redirect URIs are made from it.
    public var publicURL: String?
    public var oauthProviders: [OAuthProvider] = []
    public var paymentGateway: PaymentGatewayMode = .sandbox
    public var portOneAPIURL: String = "https://api.portone.io"
    public var portOneAPISecret: String?
    public var portOneStoreID: String?
    public var portOneChannelKey: String?
    /// Verifies gateway webhooks; nil means one derived from the signing key (sandbox only).
    public var paymentWebhookSecret: String?
    /// How long a pending gateway payment keeps its hold.
    public var gatewayHoldMinutes: Double = 10
    /// Shared state for several nodes; nil keeps everything in this process (one node).
    public var redis: RedisConfiguration?
    /// Requests per second (and at once) a signed-in user may make, across all nodes; 0 is no limit.
    public var fanRequestsPerSecond = 10
    /// With Redis: entries each event stream keeps (about), and for how long.
    public var eventStreamMaxLength = 100_000
    public var eventStreamMaxAgeHours: Double = 168
    /// Load balancers whose `X-Forwarded-For` / `X-Real-IP` name the client; nobody's by default.
    public var trustedProxies = TrustedProxies()
    /// Origins of front ends on other sites that may call the API from a browser; none by default.
    public var corsOrigins = CORSPolicy()
    /// The sandbox gateway pays without charging anyone: beyond loopback or on PostgreSQL it
    /// runs only when this says the deployment is a demo.
    public var allowSandboxGateway = false
    /// When set, `/metrics` answers only `Authorization: Bearer <token>` (Prometheus's scrape credentials).
    public var metricsToken: String?
    /// Where traces go (an OTLP/HTTP collector's base URL); nil: no tracing.
    public var otelEndpoint: String?
    /// Where mail goes: an SMTP server, or (nil) `.eml` files under `<data-dir>/mail`.
    public var smtp: SMTPMailer.Configuration?
    /// The sender of every mail.
    public var mailFrom = "Boxoffice <no-reply@boxoffice.local>"
    /// How long publishing an event waits for its sales to open (delivered events build them),
    /// so the organizer's next request finds them; tests that deliver events by hand set 0.
    public var publishWaitSeconds: Double = 5
    /// How long delivered events, the inbox, idempotency keys and old webhook deliveries are kept.
    public var retentionDays: Double = 14

    public enum PaymentGatewayMode: String, Sendable, CaseIterable {
        /// Built in: behaves like PortOne, pays on a page of its own; for development and tests.
        case sandbox
        case portone
    }

    public enum HumanCheckMode: String, Sendable, CaseIterable {
        case proofOfWork = "pow"
        case recaptcha
        case off
    }

    public enum LogFormat: String, Sendable, CaseIterable {
        case json
        case text
    }

    public init(database: DatabaseConfiguration) {
        self.database = database
    }

    /// Builds the configuration from flags (already parsed, by setting) and the environment.
    public static func resolve(
        flags: [Setting: String], environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> ServerConfiguration {
        let input = SettingsInput(flags: flags, environment: environment)
        let dataDirectory = input.value(.dataDirectory)?.value ?? ".boxoffice"
        let databaseURL = input.value(.databaseURL)
        let database: DatabaseConfiguration
        do {
            database = try DatabaseConfiguration(url: databaseURL?.value ?? "sqlite:\(dataDirectory)/boxoffice.sqlite")
        } catch {
            throw ConfigurationError(origin: databaseURL?.origin ?? Setting.databaseURL.flag, problem: error.reason)
        }
        var configuration = ServerConfiguration(database: database)
        configuration.dataDirectory = dataDirectory
        if let (value, origin) = input.value(.host) {
            guard !value.isEmpty, !value.contains(" ") else { throw ConfigurationError(origin: origin, problem: "not a host name or address") }
            configuration.host = value
        }
        if let port = try input.number(.port, in: 0...65535, noun: "port number") {
            configuration.port = port
        }
        if let (value, origin) = input.value(.logLevel) {
            guard let level = Logger.Level(rawValue: value.lowercased()) else {
                let known = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigurationError(origin: origin, problem: "unknown log level '\(value)' (use one of \(known))")
            }
            configuration.logLevel = level
        }
        if let (value, origin) = input.value(.logFormat) {
            guard let format = LogFormat(rawValue: value.lowercased()) else {
                throw ConfigurationError(origin: origin, problem: "unknown log format '\(value)' (use json or text)")
            }
            configuration.logFormat = format
        }
        if let bytes = try input.number(.maximumBodyBytes, in: 1024...(1 << 30), noun: "byte count") {
            configuration.maximumBodyBytes = bytes
        }
        if let seconds = try input.number(.drainSeconds, in: 0.0...300, noun: "number of seconds") {
            configuration.drainSeconds = seconds
        }
        if let seconds = try input.number(.shutdownTimeoutSeconds, in: 0.1...600, noun: "number of seconds") {
            configuration.shutdownTimeoutSeconds = seconds
        }
        if let (secret, origin) = input.value(.jwtSecret) {
            guard secret.utf8.count >= 32 else {
                throw ConfigurationError(origin: origin, problem: "the secret must be at least 32 bytes long")
            }
            configuration.jwtSecret = secret
        }
        if let minutes = try input.number(.accessTokenMinutes, in: 1.0...1440, noun: "number of minutes") {
            configuration.accessTokenMinutes = minutes
        }
        if let days = try input.number(.refreshTokenDays, in: 0.01...365, noun: "number of days") {
            configuration.refreshTokenDays = days
        }
        if let cost = try input.number(.bcryptCost, in: 4...16, noun: "bcrypt cost") {
            configuration.bcryptCost = cost
        }
        if let (value, origin) = input.value(.humanCheck) {
            guard let mode = HumanCheckMode(rawValue: value.lowercased()) else {
                throw ConfigurationError(origin: origin, problem: "unknown human check '\(value)' (use pow, recaptcha or off)")
            }
            configuration.humanCheck = mode
        }
        if let difficulty = try input.number(.proofOfWorkDifficulty, in: 1...32, noun: "number of bits") {
            configuration.proofOfWorkDifficulty = difficulty
        }
        if let url = try input.httpURL(.recaptchaVerifyURL) {
            configuration.recaptchaVerifyURL = url
        }
        if let score = try input.number(.recaptchaMinimumScore, in: 0.0...1.0, noun: "score") {
            configuration.recaptchaMinimumScore = score
        }
        configuration.recaptchaSecret = input.value(.recaptchaSecret)?.value
        if configuration.humanCheck == .recaptcha, configuration.recaptchaSecret == nil {
            throw ConfigurationError(
                origin: input.value(.humanCheck)?.origin ?? Setting.humanCheck.flag,
                problem: "recaptcha needs \(Setting.recaptchaSecret.environmentVariable)")
        }
        configuration.publicURL = try input.httpURL(.publicURL)
        if let (names, _) = input.value(.oauthProviders) {
            configuration.oauthProviders = try names.split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
                .map { name throws(ConfigurationError) in try input.oauthProvider(name) }
        }
        if let (value, origin) = input.value(.paymentGateway) {
            guard let mode = PaymentGatewayMode(rawValue: value.lowercased()) else {
                throw ConfigurationError(origin: origin, problem: "unknown payment gateway '\(value)' (use sandbox or portone)")
            }
            configuration.paymentGateway = mode
        }
        if let url = try input.httpURL(.portOneAPIURL) { configuration.portOneAPIURL = url }
        configuration.portOneAPISecret = input.value(.portOneAPISecret)?.value
        configuration.portOneStoreID = input.value(.portOneStoreID)?.value
        configuration.portOneChannelKey = input.value(.portOneChannelKey)?.value
        configuration.paymentWebhookSecret = input.value(.paymentWebhookSecret)?.value
        if configuration.paymentGateway == .portone {
            for (setting, value) in [(Setting.portOneAPISecret, configuration.portOneAPISecret), (.paymentWebhookSecret, configuration.paymentWebhookSecret)]
            where value == nil {
                throw ConfigurationError(
                    origin: input.value(.paymentGateway)?.origin ?? Setting.paymentGateway.flag,
                    problem: "portone needs \(setting.environmentVariable)")
            }
        }
        if let minutes = try input.number(.gatewayHoldMinutes, in: 1.0...60, noun: "number of minutes") {
            configuration.gatewayHoldMinutes = minutes
        }
        configuration.redis = try input.redis()
        if let rate = try input.number(.fanRateLimit, in: 0...100_000, noun: "number of requests per second") {
            configuration.fanRequestsPerSecond = rate
        }
        if let length = try input.number(.eventStreamMaxLength, in: 1000...100_000_000, noun: "number of entries") {
            configuration.eventStreamMaxLength = length
        }
        if let hours = try input.number(.eventStreamMaxAgeHours, in: 1.0...8760, noun: "number of hours") {
            configuration.eventStreamMaxAgeHours = hours
        }
        if let (list, origin) = input.value(.trustedProxies) {
            guard let proxies = TrustedProxies(list: list) else {
                throw ConfigurationError(origin: origin, problem: "'\(list)' is not a comma-separated list of addresses or CIDRs")
            }
            configuration.trustedProxies = proxies
        }
        if let (list, origin) = input.value(.corsOrigins) {
            do {
                configuration.corsOrigins = try CORSPolicy(list: list)
            } catch {
                throw ConfigurationError(origin: origin, problem: error.description)
            }
        }
        if let (value, origin) = input.value(.allowSandboxGateway) {
            guard let allowed = Bool(value.lowercased()) else { throw ConfigurationError(origin: origin, problem: "'\(value)' is not true or false") }
            configuration.allowSandboxGateway = allowed
        }
        if let (token, origin) = input.value(.metricsToken) {
            guard token.utf8.count >= 16 else { throw ConfigurationError(origin: origin, problem: "the token must be at least 16 characters long") }
            configuration.metricsToken = token
        }
        if let (endpoint, origin) = input.value(.otelEndpoint) {
            guard let url = URL(string: endpoint), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false else {
                throw ConfigurationError(origin: origin, problem: "'\(endpoint)' is not an http:// or https:// URL of an OTLP collector")
            }
            configuration.otelEndpoint = endpoint
        }
        if let (from, origin) = input.value(.mailFrom) {
            guard from.contains("@"), !from.contains("\r"), !from.contains("\n") else {
                throw ConfigurationError(origin: origin, problem: "'\(from)' is not a mailbox (address@example.com or Name <address@example.com>)")
            }
            configuration.mailFrom = from
        }
        if let (url, origin) = input.value(.smtpURL) {
            do {
                configuration.smtp = try SMTPMailer.Configuration(url: url, from: configuration.mailFrom)
            } catch {
                throw ConfigurationError(origin: origin, problem: error.description)
            }
        }
        if let days = try input.number(.retentionDays, in: 1.0...3650, noun: "number of days") {
            configuration.retentionDays = days
        }
        if let size = try input.number(.databasePoolSize, in: 1...500, noun: "pool size"),
           case .postgres(var settings) = configuration.database {
            settings.maximumConnections = size
            configuration.database = .postgres(settings)
        }
        return configuration
    }
}

extension ServerConfiguration {
    /// What `serve` refuses that other commands (migrate, users) need not: the sandbox gateway
    /// hands out wallet points for nothing, so it serves only where nobody else can reach it
    /// (loopback, embedded database) unless the deployment says it is a demo.
    public func checkSafeToServe() throws(ConfigurationError) {
        guard paymentGateway == .sandbox, !allowSandboxGateway else { return }
        let onPostgres = if case .postgres = database { true } else { false }
        let loopback = ["localhost", "::1"].contains(host) || host.hasPrefix("127.")
        guard onPostgres || !loopback else { return }
        throw ConfigurationError(
            origin: Setting.paymentGateway.flag,
            problem: "the sandbox gateway hands out wallet points without charging anyone, so it serves only on loopback with the embedded database; use portone, or \(Setting.allowSandboxGateway.flag) true for a demo")
    }
}

/// One configurable setting: its flag and its environment variable.
public struct Setting: Hashable, Sendable, CaseIterable {
    public let flag: String
    public let environmentVariable: String
    public let summary: String
    public let defaultValue: String

    /// The `--help` text: what it is, its variable and its default.
    public var helpText: String { "\(summary) (env \(environmentVariable); default \(defaultValue))" }

    public static let host = Setting(flag: "--host", environmentVariable: "BOXOFFICE_HOST", summary: "Address to listen on.", defaultValue: "127.0.0.1")
    public static let port = Setting(flag: "--port", environmentVariable: "BOXOFFICE_PORT", summary: "Port to listen on (0 picks a free one).", defaultValue: "8080")
    public static let databaseURL = Setting(
        flag: "--database-url", environmentVariable: "BOXOFFICE_DATABASE_URL",
        summary: "`postgres://user:password@host:5432/db[?sslmode=…&pool_max=…]` or `sqlite:PATH`.",
        defaultValue: "sqlite:<data-dir>/boxoffice.sqlite")
    public static let dataDirectory = Setting(
        flag: "--data-dir", environmentVariable: "BOXOFFICE_DATA_DIR",
        summary: "Where the embedded database and generated keys are kept.", defaultValue: ".boxoffice")
    public static let logLevel = Setting(
        flag: "--log-level", environmentVariable: "BOXOFFICE_LOG_LEVEL",
        summary: "trace, debug, info, notice, warning, error or critical.", defaultValue: "info")
    public static let logFormat = Setting(
        flag: "--log-format", environmentVariable: "BOXOFFICE_LOG_FORMAT",
        summary: "`json` (one object per line) or `text`.", defaultValue: "json")
    public static let maximumBodyBytes = Setting(
        flag: "--max-body-bytes", environmentVariable: "BOXOFFICE_MAX_BODY_BYTES",
        summary: "Largest request body accepted; larger ones get 413.", defaultValue: "1048576")
    public static let drainSeconds = Setting(
        flag: "--drain-seconds", environmentVariable: "BOXOFFICE_DRAIN_SECONDS",
        summary: "On SIGTERM, how long `/ready` fails before the listener closes.", defaultValue: "5")
    public static let shutdownTimeoutSeconds = Setting(
        flag: "--shutdown-timeout", environmentVariable: "BOXOFFICE_SHUTDOWN_TIMEOUT",
        summary: "How long in-flight requests may take to finish after that.", defaultValue: "30")
    public static let databasePoolSize = Setting(
        flag: "--database-pool-size", environmentVariable: "BOXOFFICE_DATABASE_POOL_SIZE",
        summary: "PostgreSQL connections per node.", defaultValue: "16")

    public static let jwtSecret = Setting(
        flag: "--jwt-secret", environmentVariable: "BOXOFFICE_JWT_SECRET",
        summary: "Signing secret (tokens, ticket codes, queue tickets), 32+ bytes; overrides the keys kept in the database.",
        defaultValue: "keys generated once in the database, shared by every node")
    public static let accessTokenMinutes = Setting(
        flag: "--access-token-minutes", environmentVariable: "BOXOFFICE_ACCESS_TOKEN_MINUTES",
        summary: "Lifetime of access tokens.", defaultValue: "15")
    public static let refreshTokenDays = Setting(
        flag: "--refresh-token-days", environmentVariable: "BOXOFFICE_REFRESH_TOKEN_DAYS",
        summary: "Lifetime of refresh tokens (each is usable once).", defaultValue: "30")
    public static let bcryptCost = Setting(
        flag: "--bcrypt-cost", environmentVariable: "BOXOFFICE_BCRYPT_COST",
        summary: "bcrypt work factor for passwords (4-16).", defaultValue: "11")

    public static let humanCheck = Setting(
        flag: "--human-check", environmentVariable: "BOXOFFICE_HUMAN_CHECK",
        summary: "What sign-up asks to prove a person is there: pow, recaptcha or off.", defaultValue: "pow")
    public static let proofOfWorkDifficulty = Setting(
        flag: "--pow-difficulty", environmentVariable: "BOXOFFICE_POW_DIFFICULTY",
        summary: "Leading zero bits a proof-of-work answer needs (each doubles the client's work).", defaultValue: "16")
    public static let recaptchaSecret = Setting(
        flag: "--recaptcha-secret", environmentVariable: "BOXOFFICE_RECAPTCHA_SECRET",
        summary: "reCAPTCHA secret key (needed with --human-check recaptcha).", defaultValue: "none")
    public static let recaptchaVerifyURL = Setting(
        flag: "--recaptcha-verify-url", environmentVariable: "BOXOFFICE_RECAPTCHA_VERIFY_URL",
        summary: "The siteverify endpoint.", defaultValue: "https://www.google.com/recaptcha/api/siteverify")
    public static let recaptchaMinimumScore = Setting(
        flag: "--recaptcha-min-score", environmentVariable: "BOXOFFICE_RECAPTCHA_MIN_SCORE",
        summary: "Lowest reCAPTCHA v3 score accepted.", defaultValue: "0.5")

    public static let publicURL = Setting(
        flag: "--public-url", environmentVariable: "BOXOFFICE_PUBLIC_URL",
        summary: "The address browsers use to reach this site (for OAuth redirect URIs).", defaultValue: "http://<host>:<port>")
    public static let oauthProviders = Setting(
        flag: "--oauth-providers", environmentVariable: "BOXOFFICE_OAUTH_PROVIDERS",
        summary: "Comma-separated sign-in providers, e.g. google,kakao,naver; each is set up by BOXOFFICE_OAUTH_<NAME>_* variables.",
        defaultValue: "none")

    public static let paymentGateway = Setting(
        flag: "--payment-gateway", environmentVariable: "BOXOFFICE_PAYMENT_GATEWAY",
        summary: "Where card payments go: sandbox (built in, offline) or portone.", defaultValue: "sandbox")
    public static let portOneAPIURL = Setting(
        flag: "--portone-api-url", environmentVariable: "BOXOFFICE_PORTONE_API_URL",
        summary: "PortOne's REST API.", defaultValue: "https://api.portone.io")
    public static let portOneAPISecret = Setting(
        flag: "--portone-api-secret", environmentVariable: "BOXOFFICE_PORTONE_API_SECRET",
        summary: "PortOne API secret (needed with --payment-gateway portone).", defaultValue: "none")
    public static let portOneStoreID = Setting(
        flag: "--portone-store-id", environmentVariable: "BOXOFFICE_PORTONE_STORE_ID",
        summary: "PortOne store ID, handed to the browser SDK.", defaultValue: "none")
    public static let portOneChannelKey = Setting(
        flag: "--portone-channel-key", environmentVariable: "BOXOFFICE_PORTONE_CHANNEL_KEY",
        summary: "PortOne channel key, handed to the browser SDK.", defaultValue: "none")
    public static let paymentWebhookSecret = Setting(
        flag: "--payment-webhook-secret", environmentVariable: "BOXOFFICE_PAYMENT_WEBHOOK_SECRET",
        summary: "Secret gateway webhooks are signed with (needed with portone).", defaultValue: "derived from the signing key (sandbox)")
    public static let gatewayHoldMinutes = Setting(
        flag: "--gateway-hold-minutes", environmentVariable: "BOXOFFICE_GATEWAY_HOLD_MINUTES",
        summary: "How long a hold is kept while its gateway payment is pending.", defaultValue: "10")

    public static let redisURL = Setting(
        flag: "--redis-url", environmentVariable: "BOXOFFICE_REDIS_URL",
        summary: "`redis://[:password@]host:6379[/db]`: share rate limits, sessions, caches and singleton jobs between nodes.",
        defaultValue: "none (one node, state in process)")
    public static let redisSentinels = Setting(
        flag: "--redis-sentinels", environmentVariable: "BOXOFFICE_REDIS_SENTINELS",
        summary: "Comma-separated `host:port` of Redis Sentinels to ask for the master (instead of --redis-url).",
        defaultValue: "none")
    public static let redisMasterName = Setting(
        flag: "--redis-master-name", environmentVariable: "BOXOFFICE_REDIS_MASTER_NAME",
        summary: "The master's name in Sentinel.", defaultValue: "boxoffice")
    public static let redisPassword = Setting(
        flag: "--redis-password", environmentVariable: "BOXOFFICE_REDIS_PASSWORD",
        summary: "Password for a Redis found through Sentinel.", defaultValue: "none")

    public static let fanRateLimit = Setting(
        flag: "--fan-rate-limit", environmentVariable: "BOXOFFICE_FAN_RATE_LIMIT",
        summary: "API requests per second a signed-in user may make, across all nodes (as many at once); 0 turns the limit off.",
        defaultValue: "10")
    public static let eventStreamMaxLength = Setting(
        flag: "--event-stream-max-length", environmentVariable: "BOXOFFICE_EVENT_STREAM_MAX_LENGTH",
        summary: "With Redis: about how many entries each event stream keeps.", defaultValue: "100000")
    public static let eventStreamMaxAgeHours = Setting(
        flag: "--event-stream-max-age-hours", environmentVariable: "BOXOFFICE_EVENT_STREAM_MAX_AGE_HOURS",
        summary: "With Redis: how long event stream entries are kept.", defaultValue: "168")

    public static let allowSandboxGateway = Setting(
        flag: "--allow-sandbox-gateway", environmentVariable: "BOXOFFICE_ALLOW_SANDBOX_GATEWAY",
        summary: "`true` lets the sandbox gateway (free points) serve beyond loopback or on PostgreSQL: demos and test clusters only.",
        defaultValue: "false")
    public static let trustedProxies = Setting(
        flag: "--trusted-proxies", environmentVariable: "BOXOFFICE_TRUSTED_PROXIES",
        summary: "Comma-separated addresses or CIDRs of load balancers whose X-Forwarded-For / X-Real-IP name the client.",
        defaultValue: "none")
    public static let corsOrigins = Setting(
        flag: "--cors-origins", environmentVariable: "BOXOFFICE_CORS_ORIGINS",
        summary: "Comma-separated origins (https://shop.example.com) whose pages may call the API with credentials; `*` lets any origin read without them.",
        defaultValue: "none")

    public static let metricsToken = Setting(
        flag: "--metrics-token", environmentVariable: "BOXOFFICE_METRICS_TOKEN",
        summary: "When set, /metrics answers only requests with 'Authorization: Bearer <token>' (16+ characters).",
        defaultValue: "none: /metrics is open")
    public static let otelEndpoint = Setting(
        flag: "--otel-endpoint", environmentVariable: "BOXOFFICE_OTEL_ENDPOINT",
        summary: "An OpenTelemetry collector's OTLP/HTTP address (`http://collector:4318`): every request is traced there, with spans for database and Redis calls, gateway calls and the event handling it causes on any node. The standard `OTEL_*` variables (protocol, sampler, headers) apply too.",
        defaultValue: "none: no tracing")
    public static let smtpURL = Setting(
        flag: "--smtp-url", environmentVariable: "BOXOFFICE_SMTP_URL",
        summary: "`smtp://[user:password@]host[:port][?starttls=true]` or `smtps://…`: where mail goes.",
        defaultValue: "none: .eml files in <data-dir>/mail")
    public static let mailFrom = Setting(
        flag: "--mail-from", environmentVariable: "BOXOFFICE_MAIL_FROM",
        summary: "The sender of every mail.", defaultValue: "Boxoffice <no-reply@boxoffice.local>")
    public static let retentionDays = Setting(
        flag: "--retention-days", environmentVariable: "BOXOFFICE_RETENTION_DAYS",
        summary: "How long delivered events, handled-event records, idempotency keys and webhook deliveries are kept.",
        defaultValue: "14")

    public static let allCases: [Setting] = [
        host, port, databaseURL, dataDirectory, logLevel, logFormat, maximumBodyBytes, drainSeconds,
        shutdownTimeoutSeconds, databasePoolSize, jwtSecret, accessTokenMinutes, refreshTokenDays, bcryptCost,
        humanCheck, proofOfWorkDifficulty, recaptchaSecret, recaptchaVerifyURL, recaptchaMinimumScore, publicURL,
        oauthProviders, paymentGateway, portOneAPIURL, portOneAPISecret, portOneStoreID, portOneChannelKey, paymentWebhookSecret,
        gatewayHoldMinutes, allowSandboxGateway, fanRateLimit, redisURL, redisSentinels, redisMasterName, redisPassword,
        eventStreamMaxLength, eventStreamMaxAgeHours, trustedProxies, corsOrigins, retentionDays, smtpURL, mailFrom, metricsToken,
        otelEndpoint,
    ]
}

/// A setting that cannot be used. `description` is the one line the CLI prints.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    /// The flag or `VARIABLE=value` the bad value came from.
    public let origin: String
    public let problem: String

    public init(origin: String, problem: String) {
        self.origin = origin
        self.problem = problem
    }

    public var description: String { "\(origin): \(problem)" }
}

struct SettingsInput {
    let flags: [Setting: String]
    let environment: [String: String]

    /// The value and where it came from (`--port` or `BOXOFFICE_PORT`), flags first.
    func value(_ setting: Setting) -> (value: String, origin: String)? {
        if let value = flags[setting] { return (value, setting.flag) }
        if let value = environment[setting.environmentVariable], !value.isEmpty {
            return (value, setting.environmentVariable)
        }
        return nil
    }

    /// One sign-in provider from `BOXOFFICE_OAUTH_<NAME>_*`: a preset's endpoints (google, kakao,
    /// naver) unless overridden, or all endpoints for any other provider.
    func oauthProvider(_ name: String) throws(ConfigurationError) -> OAuthProvider {
        let prefix = "BOXOFFICE_OAUTH_\(name.uppercased().replacingOccurrences(of: "-", with: "_"))_"
        func variable(_ suffix: String) -> String? {
            environment[prefix + suffix].flatMap { $0.isEmpty ? nil : $0 }
        }
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw ConfigurationError(origin: Setting.oauthProviders.environmentVariable, problem: "'\(name)' is not a provider name")
        }
        guard let clientID = variable("CLIENT_ID"), let clientSecret = variable("CLIENT_SECRET") else {
            throw ConfigurationError(origin: prefix + "CLIENT_ID", problem: "provider '\(name)' needs \(prefix)CLIENT_ID and \(prefix)CLIENT_SECRET")
        }
        var provider: OAuthProvider
        if let preset = OAuthProvider.preset(name, clientID: clientID, clientSecret: clientSecret) {
            provider = preset
        } else {
            guard let authorization = variable("AUTHORIZATION_URL"), let token = variable("TOKEN_URL") else {
                throw ConfigurationError(
                    origin: prefix + "AUTHORIZATION_URL",
                    problem: "provider '\(name)' has no preset; give \(prefix)AUTHORIZATION_URL, TOKEN_URL and ISSUER+JWKS_URL or USERINFO_URL")
            }
            provider = OAuthProvider(
                name: name, clientID: clientID, clientSecret: clientSecret, authorizationURL: authorization, tokenURL: token)
            provider.profile = variable("JWKS_URL") == nil ? .standardUserInfo : .idToken
        }
        if let value = variable("AUTHORIZATION_URL") { provider.authorizationURL = value }
        if let value = variable("TOKEN_URL") { provider.tokenURL = value }
        if let value = variable("ISSUER") { provider.issuer = value }
        if let value = variable("JWKS_URL") { provider.jwksURL = value }
        if let value = variable("USERINFO_URL") { provider.userInfoURL = value }
        if let value = variable("SCOPES") { provider.scopes = value.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init) }
        if provider.profile == .idToken, provider.issuer == nil || provider.jwksURL == nil {
            throw ConfigurationError(origin: prefix + "ISSUER", problem: "provider '\(name)' needs \(prefix)ISSUER and \(prefix)JWKS_URL")
        }
        if provider.profile != .idToken, provider.userInfoURL == nil {
            throw ConfigurationError(origin: prefix + "USERINFO_URL", problem: "provider '\(name)' needs \(prefix)USERINFO_URL")
        }
        return provider
    }

    /// Redis from `--redis-url`, or from `--redis-sentinels` and `--redis-master-name`; nil
    /// when neither is given.
    func redis() throws(ConfigurationError) -> RedisConfiguration? {
        let url = value(.redisURL)
        let sentinels = value(.redisSentinels)
        if let url, let sentinels {
            throw ConfigurationError(origin: sentinels.origin, problem: "give either \(url.origin) or Sentinel, not both")
        }
        if let (text, origin) = url {
            do {
                return try RedisConfiguration(url: text)
            } catch let error as RedisConfiguration.InvalidURL {
                throw ConfigurationError(origin: origin, problem: error.description)
            } catch {
                throw ConfigurationError(origin: origin, problem: String(describing: error))
            }
        }
        guard let (list, origin) = sentinels else { return nil }
        var addresses: [RedisConfiguration.HostAndPort] = []
        for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let address = RedisConfiguration.HostAndPort(item, defaultPort: 26379) else {
                throw ConfigurationError(origin: origin, problem: "'\(item)' is not host:port")
            }
            addresses.append(address)
        }
        guard !addresses.isEmpty else { throw ConfigurationError(origin: origin, problem: "no sentinel given") }
        return RedisConfiguration(
            endpoint: .sentinel(sentinels: addresses, masterName: value(.redisMasterName)?.value ?? "boxoffice"),
            password: value(.redisPassword)?.value)
    }

    /// An absolute http(s) URL, or nil when the setting is not given.
    func httpURL(_ setting: Setting) throws(ConfigurationError) -> String? {
        guard let (url, origin) = value(setting) else { return nil }
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw ConfigurationError(origin: origin, problem: "'\(url)' is not an http(s) URL")
        }
        return url
    }

    /// A number within `range`, or nil when the setting is not given.
    func number<Number: LosslessStringConvertible & Comparable>(
        _ setting: Setting, in range: ClosedRange<Number>, noun: String
    ) throws(ConfigurationError) -> Number? {
        guard let (value, origin) = value(setting) else { return nil }
        guard let number = Number(value), range.contains(number) else {
            throw ConfigurationError(origin: origin, problem: "'\(value)' is not a \(noun) (\(range.lowerBound)-\(range.upperBound))")
        }
        return number
    }
}
