import BoxofficeKit
import Catalog
import Checkout
import Commerce
import Fulfilment
import Coordination
import Foundation
import HTTPKit
import Hummingbird
import Identity
import Logging
import Mail
import Messaging
import Metrics
import NIOCore
import Payments
import Persistence
import Prometheus
import RedisClient
import Reservations
import ServiceLifecycle
import UnixSignals
import WaitingRoom
import WebApp

/// The composition root: the one place that knows every module and wires them together.
///
/// `boxoffice serve` and the tests build the application the same way, through this type, so
/// what the tests exercise is what runs.
public final class BoxofficePlatform: Sendable {
    public let configuration: ServerConfiguration
    public let database: Database
    public let logger: Logger
    public let clock: any WallClock
    public let drain = DrainState()
    public let routes = RouteTable()
    /// This application's metrics; a per-instance registry keeps tests' apps apart.
    public let metricsRegistry = PrometheusCollectorRegistry()
    public let metrics: PrometheusMetricsFactory
    public let outbox: Outbox
    public let relay: OutboxRelay
    public let rateLimiter: any RateLimiter
    public let identity: IdentityService
    public let browserSessions: BrowserSessions
    public let oauth: OAuthSignIn
    public let catalog: CatalogService
    public let reservations: ReservationService
    public let availability: AvailabilityReader
    public let tickets: TicketService
    public let payments: PaymentService
    /// The built-in gateway when payments go to the sandbox (tests drive it directly).
    public let sandboxGateway: SandboxGateway?
    public let checkout: CheckoutService
    /// Merchandise: products, options and their stock; coupons off them.
    public let products: ProductService
    public let coupons: CouponService
    /// Delivery: addresses and shipments.
    public let fulfilment: FulfilmentService
    public let waitingRoom: WaitingRoomService
    /// Shared state for several nodes; nil when this node keeps it all in process.
    public let redis: RedisClient?
    /// What tokens, ticket codes and queue tickets are signed with, shared by every node.
    public let signingKeys: SigningKeys
    /// Where they are kept; nil when a configured secret stands in for them.
    let signingKeyStore: SigningKeyStore?
    /// Singleton jobs (the relay, the hold sweeper) run where this store says.
    public let leases: any LeaseStore
    /// This node's name as a lease holder and stream consumer: host, process and a random part.
    public let nodeID: String
    /// With Redis: one consumer group per subscriber, read from the topics' streams.
    public let streamConsumers: [RedisStreamConsumer]
    /// Events set aside after repeated failures: dead outbox rows, or the `dlq.*` streams.
    public let deadLetters: any DeadLetterStore
    /// What `/metrics` reads at each scrape.
    let scrapeGauges: ScrapeGauges
    /// Keeps the tables that only grow (outbox, inbox, idempotency keys, sessions…) bounded.
    public let retention: RetentionJob
    /// Finishes orders, payments and refunds stuck between states, from the gateway's truth.
    public let reconciler: CheckoutReconciler
    /// Where mail goes: SMTP, or files under `<data-dir>/mail` (tests read them there).
    public let mailer: any Mailer
    /// Mail that event handlers decided on, waiting for `mailSender`.
    public let mailQueue: MailQueue
    public let mailSender: MailSender

    /// Every module's migrations, in the order they apply.
    public static let migrationGroups: [MigrationGroup] = [
        SigningKeyStore.migrations,
        Outbox.migrations,
        IdempotencyKeys.migrations,
        SQLSessionStore.migrations,
        IdentityService.migrations,
        CatalogService.migrations,
        ReservationService.migrations,
        PaymentService.migrations,
        ProductService.migrations,
        FulfilmentService.migrations,
        CheckoutService.migrations,
        SQLQueueStore.migrations,
        MailQueue.migrations,
    ]

    public init(
        configuration: ServerConfiguration,
        database: Database,
        logger: Logger,
        clock: any WallClock = SystemClock(),
        subscribers: [any EventSubscriber] = []
    ) async throws {
        self.configuration = configuration
        self.database = database
        self.logger = logger
        self.clock = clock
        var metrics = PrometheusMetricsFactory(registry: metricsRegistry)
        metrics.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2.5), .seconds(5), .seconds(10),
        ]
        self.metrics = metrics
        let outbox = Outbox(clock: clock)
        self.outbox = outbox
        // Holds and checkout ask the waiting room, which is built later (it asks reservations how
        // much is left): the admission is wired once it exists.
        let admission = DeferredAdmission()
        self.reservations = ReservationService(
            database: database, outbox: outbox, clock: clock, logger: logger.with(component: "reservations"), admission: admission)
        self.nodeID = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(UUID().uuidString.prefix(8))"
        let redis = configuration.redis.map { RedisClient(configuration: $0, logger: logger.with(component: "redis")) }
        self.redis = redis
        let sharedCache: any Cache
        if let redis {
            logger.info("sharing state through Redis", metadata: ["redis": .string(redis.configuration.redactedDescription)])
            self.rateLimiter = RedisRateLimiter(redis: redis, clock: clock)
            self.leases = RedisLeaseStore(redis: redis)
            sharedCache = RedisCache(redis: redis, clock: clock)
        } else {
            self.rateLimiter = InMemoryRateLimiter(clock: clock)
            self.leases = InMemoryLeaseStore(clock: clock)
            sharedCache = InMemoryCache(clock: clock)
        }
        self.availability = AvailabilityReader(database: database, sharedCache: sharedCache)
        let catalog = CatalogService(
            database: database, outbox: outbox, clock: clock, logger: logger.with(component: "catalog"), cache: sharedCache,
            sales: ReservationSalesOpening(reservations: reservations), publishWait: .milliseconds(Int(configuration.publishWaitSeconds * 1000)))
        self.catalog = catalog
        var identityConfiguration = IdentityService.Configuration()
        identityConfiguration.accessTokenLifetime = configuration.accessTokenMinutes * 60
        identityConfiguration.refreshTokenLifetime = configuration.refreshTokenDays * 24 * 3600
        identityConfiguration.bcryptCost = UInt8(configuration.bcryptCost)
        let keyStore = SigningKeyStore(database: database, clock: clock)
        let signingKeys = try await SigningKey.load(configuration, store: keyStore)
        self.signingKeys = signingKeys
        self.signingKeyStore = configuration.jwtSecret == nil ? keyStore : nil
        let publicURL = configuration.publicURL ?? "http://\(configuration.host):\(configuration.port)"
        identityConfiguration.signingKeys = signingKeys
        let accessTokens = AccessTokens(keys: signingKeys, lifetime: identityConfiguration.accessTokenLifetime, clock: clock)
        let humanCheck: any HumanCheck =
            switch configuration.humanCheck {
            case .proofOfWork:
                ProofOfWorkCheck(
                    keys: signingKeys, difficulty: configuration.proofOfWorkDifficulty, database: database, clock: clock)
            case .recaptcha:
                RecaptchaCheck(
                    configuration: .init(
                        verifyURL: configuration.recaptchaVerifyURL, secret: configuration.recaptchaSecret ?? "",
                        minimumScore: configuration.recaptchaMinimumScore),
                    logger: logger.with(component: "identity"))
            case .off:
                NoHumanCheck()
            }
        self.identity = IdentityService(
            database: database, outbox: outbox, accessTokens: accessTokens, humanCheck: humanCheck,
            rateLimiter: rateLimiter, clock: clock, configuration: identityConfiguration,
            logger: logger.with(component: "identity"))
        let tickets = TicketService(
            database: database, outbox: outbox, codes: TicketCodes(keys: signingKeys), recipients: IdentityRecipients(identity: identity),
            doors: CatalogDoorAccess(catalog: catalog), clock: clock, logger: logger.with(component: "tickets"))
        self.tickets = tickets
        // The sandbox delivers its webhooks within this process, so the key of the moment will do.
        let webhookSecret = configuration.paymentWebhookSecret ?? WebhookSignature.derivedSecret(from: signingKeys.signing.secret)
        let gateway: any PaymentGateway
        switch configuration.paymentGateway {
        case .sandbox:
            let sandbox = SandboxGateway(
                apiSecret: configuration.portOneAPISecret ?? "sandbox", webhookSecret: webhookSecret,
                publicURL: publicURL, clock: clock,
                logger: logger.with(component: "sandbox-gateway"))
            self.sandboxGateway = sandbox
            gateway = sandbox
            if configuration.database.dialect == .postgres {
                logger.warning(
                    "payments go to the built-in sandbox gateway, where anyone can pay; set BOXOFFICE_PAYMENT_GATEWAY=portone for real payments")
            }
        case .portone:
            self.sandboxGateway = nil
            gateway = PortOneGateway(
                configuration: .init(
                    apiURL: configuration.portOneAPIURL, apiSecret: configuration.portOneAPISecret ?? "",
                    storeID: configuration.portOneStoreID, channelKey: configuration.portOneChannelKey, webhookSecret: webhookSecret),
                clock: clock, logger: logger.with(component: "payments"))
        }
        let payments = PaymentService(
            database: database, outbox: outbox, gateway: TracedGateway(gateway: gateway), clock: clock,
            logger: logger.with(component: "payments"))
        self.payments = payments
        sandboxGateway?.deliverWebhooks { body, headers in
            try await payments.receiveWebhook(provider: "sandbox", body: body, headers: headers)
        }
        let products = ProductService(
            database: database, outbox: outbox, clock: clock, logger: logger.with(component: "commerce"), organizers: CatalogOrganizers(catalog: catalog),
            cache: sharedCache)
        self.products = products
        let coupons = CouponService(
            database: database, clock: clock, logger: logger.with(component: "commerce"), organizers: CatalogOrganizers(catalog: catalog))
        self.coupons = coupons
        let fulfilment = FulfilmentService(database: database, outbox: outbox, clock: clock, logger: logger.with(component: "fulfilment"))
        self.fulfilment = fulfilment
        let checkout = CheckoutService(
            database: database, tickets: tickets, payments: payments, products: products, coupons: coupons, outbox: outbox,
            deliveries: FulfilmentDeliveries(fulfilment: fulfilment), gatewayHoldMinutes: configuration.gatewayHoldMinutes,
            clock: clock, logger: logger.with(component: "checkout"), admission: admission)
        self.checkout = checkout
        self.reconciler = CheckoutReconciler(
            checkout: checkout, payments: payments, database: database, clock: clock, logger: logger.with(component: "checkout"))
        let waitingRoom = await WaitingRoomService(
            store: redis.map { RedisQueueStore(redis: $0) } ?? SQLQueueStore(database: database), keys: signingKeys, organizers: CatalogOrganizers(catalog: catalog),
            stock: ReservationStock(reservations: reservations), verifier: IdentityJoinVerifier(identity: identity),
            rateLimiter: rateLimiter, database: database, outbox: outbox, clock: clock, logger: logger.with(component: "waiting-room"))
        self.waitingRoom = waitingRoom
        admission.use(waitingRoom)
        let mailer: any Mailer = configuration.smtp.map { SMTPMailer(configuration: $0, logger: logger.with(component: "mail")) }
            ?? FileMailer(
                directory: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("mail"), from: configuration.mailFrom,
                logger: logger.with(component: "mail"))
        self.mailer = mailer
        let mailQueue = MailQueue(database: database, clock: clock)
        self.mailQueue = mailQueue
        self.mailSender = MailSender(queue: mailQueue, mailer: mailer, logger: logger.with(component: "mail"))
        // How contexts hear of each other: subscribers, wired here and nowhere else.
        let seatMaps = CatalogSeatMaps(catalog: catalog)
        let contextSubscribers: [any EventSubscriber] = [
            InventoryBuilder(seatMaps: seatMaps), AvailabilityProjection(seatMaps: seatMaps), StockProjection(catalog: catalog),
            PerformanceCancellationRefunds(checkout: checkout), GatewayPaymentSaga(checkout: checkout), GatewayRefunds(payments: payments),
            OrderShipping(fulfilment: fulfilment), ShipmentUpdates(checkout: checkout), ProductSalesProjection(),
            FinishedShopping(service: waitingRoom), VerificationMail(identity: identity, mail: mailQueue, publicURL: publicURL),
            FanNotifications(
                catalog: catalog, checkout: checkout, tickets: tickets, fans: IdentityFans(identity: identity), mail: mailQueue,
                publicURL: publicURL, clock: clock),
        ]
        let allSubscribers = contextSubscribers + subscribers
        // Event delivery keeps the read models current, and must not queue behind requests for
        // connections at an on-sale: it has a pool of its own.
        let delivery = database.background
        if let redis {
            // Several nodes: the relay publishes to one stream per topic; each subscriber is a
            // consumer group that every node joins (see `makeServiceGroup`).
            let streams = Server.streamSettings(configuration)
            self.relay = OutboxRelay(
                database: delivery, outbox: outbox, publisher: RedisStreamPublisher(redis: redis, settings: streams), clock: clock,
                logger: logger.with(component: "outbox"), metrics: metrics)
            let nodeID = self.nodeID
            self.streamConsumers = allSubscribers.map { subscriber in
                RedisStreamConsumer(
                    redis: redis, subscriber: subscriber, database: delivery, consumerName: nodeID, settings: streams, clock: clock,
                    logger: logger.with(component: "events"), metrics: metrics)
            }
            self.deadLetters = RedisDeadLetters(redis: redis, settings: streams)
            let topics = EventTopics.topics(for: Set(allSubscribers.flatMap(\.eventTypes)))
            self.scrapeGauges = ScrapeGauges(
                outbox: OutboxDeadLetters(database: database, clock: clock), streams: (RedisDeadLetters(redis: redis, settings: streams), topics),
                redis: redis, metrics: metrics, logger: logger.with(component: "metrics"))
        } else {
            self.relay = OutboxRelay(
                database: delivery, outbox: outbox, subscribers: allSubscribers, clock: clock,
                logger: logger.with(component: "outbox"), metrics: metrics)
            self.streamConsumers = []
            self.deadLetters = OutboxDeadLetters(database: database, clock: clock)
            self.scrapeGauges = ScrapeGauges(
                outbox: OutboxDeadLetters(database: database, clock: clock), streams: nil, redis: nil, metrics: metrics,
                logger: logger.with(component: "metrics"))
        }
        let sqlSessions = redis == nil ? SQLSessionStore(database: database, clock: clock) : nil
        let sessionStore: any SessionStore = redis.map { RedisSessionStore(redis: $0, clock: clock) } ?? sqlSessions!
        let keep = configuration.retentionDays * 24 * 3600
        self.retention = RetentionJob(
            rules: Outbox.retentionRules(database: database, retention: keep) + [IdempotencyKeys.retentionRule(database: database, retention: keep)]
                + identity.retentionRules(retention: keep) + payments.retentionRules(retention: keep) + [mailQueue.retentionRule(retention: keep)] + (sqlSessions.map { [$0.retentionRule()] } ?? []),
            clock: clock, logger: logger.with(component: "retention"))
        self.browserSessions = BrowserSessions(
            identity: identity, store: sessionStore, clock: clock, logger: logger.with(component: "identity"))
        self.oauth = OAuthSignIn(
            providers: configuration.oauthProviders,
            publicURL: publicURL,
            identity: identity, store: sessionStore, clock: clock, logger: logger.with(component: "identity"))
    }

    /// The router with every module's routes behind the shared middleware.
    ///
    /// `additionalRoutes` lets tests mount routes of their own behind the same middleware.
    public func buildRouter(
        additionalRoutes: (RouteRegistrar<AppRequestContext>) -> Void = { _ in }
    ) throws -> Router<AppRequestContext> {
        let router = Router(context: AppRequestContext.self)
        // Order matters: the request ID first, so every later log line and problem carries it;
        // the access log next, so it sees the final status of every response, problems included.
        router.add(middleware: RequestIDMiddleware())
        // A span per request (a child of the caller's `traceparent`, if any) when tracing is on.
        router.add(middleware: TracingMiddleware(redactingQueryParameters: ["code", "state", "token"]))
        // Before anything that counts per address or answers with a problem: problems need the
        // CORS headers too, or a page on another origin cannot read why it was refused.
        router.add(middleware: ClientAddressMiddleware(proxies: configuration.trustedProxies))
        router.add(middleware: CORSMiddleware(policy: configuration.corsOrigins))
        router.add(middleware: AccessLogMiddleware(metrics: metrics))
        let webApp = try WebApp(
            showcase: CatalogShowcase(catalog: catalog, availability: availability, clock: clock), clock: clock,
            cardPayments: sandboxGateway != nil)
        // Outside the problem middleware: a browser asking for an unknown page gets a page.
        router.add(middleware: webApp.notFoundPages)
        router.add(middleware: ProblemMiddleware(routes: routes))
        router.add(middleware: DrainMiddleware(state: drain, exemptPaths: OperationsController.paths))
        router.add(middleware: BodyLimitMiddleware(maximumBytes: configuration.maximumBodyBytes))
        router.add(middleware: AuthenticationMiddleware(
            verifier: identity.accessTokenVerifier, cookies: browserSessions, exemptPaths: ["/metrics"]))
        if configuration.fanRequestsPerSecond > 0 {
            router.add(middleware: FanRateLimitMiddleware(
                limiter: rateLimiter, limit: .perPeriod(configuration.fanRequestsPerSecond, 1), logger: logger.with(component: "http")))
        }
        let registrar = RouteRegistrar(router: router, table: routes)
        OperationsController(
            database: database, redis: redis, drain: drain, registry: metricsRegistry, metrics: metrics, scrapeGauges: scrapeGauges,
            openAPIJSON: try OpenAPIDocument.json(), metricsToken: configuration.metricsToken
        ).addRoutes(to: registrar)
        IdentityController(service: identity, browserSessions: browserSessions, oauth: oauth).addRoutes(to: registrar)
        CatalogController(service: catalog).addRoutes(to: registrar)
        ReservationController(service: reservations, availability: availability).addRoutes(to: registrar)
        TicketController(service: tickets).addRoutes(to: registrar)
        CommerceController(products: products, coupons: coupons).addRoutes(to: registrar)
        FulfilmentController(service: fulfilment).addRoutes(to: registrar)
        PaymentsController(service: payments, sandbox: sandboxGateway).addRoutes(to: registrar)
        CheckoutController(
            service: checkout,
            sales: SalesDesk(database: database, organizers: CatalogOrganizers(catalog: catalog), fans: IdentityFans(identity: identity))
        ).addRoutes(to: registrar)
        WaitingRoomController(service: waitingRoom).addRoutes(to: registrar)
        additionalRoutes(registrar)
        // Pages are not part of the JSON API (openapi.yaml), so they are mounted beside it.
        webApp.addRoutes(to: router)
        return router
    }

    /// The HTTP application on the configured address.
    public func buildApplication(
        additionalRoutes: (RouteRegistrar<AppRequestContext>) -> Void = { _ in },
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let logger = self.logger
        return Application(
            router: try buildRouter(additionalRoutes: additionalRoutes),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                if let address = channel.localAddress {
                    logger.notice("listening", metadata: ["address": .string("http://\(address.ipAddress ?? "?"):\(address.port ?? 0)")])
                }
                await onServerRunning(channel)
            },
            logger: logger.with(component: "http"))
    }

    /// Runs the application and the background services until shutdown.
    ///
    /// On graceful shutdown (SIGTERM/SIGINT when `signals` lists them): `/ready` fails and new
    /// requests are refused at once; after `drainSeconds` the listener closes; in-flight requests
    /// then get `shutdownTimeoutSeconds` to finish before everything is cancelled.
    /// `observability` (the span exporter) starts first and stops last, so the spans of the
    /// shutdown itself are sent too.
    public func run(_ application: some ApplicationProtocol, signals: [UnixSignal] = [], observability: (any Service)? = nil) async throws {
        try await makeServiceGroup(application, signals: signals, observability: observability).run()
    }

    /// The service group `run` runs; tests trigger its graceful shutdown themselves.
    public func makeServiceGroup(
        _ application: some ApplicationProtocol, signals: [UnixSignal] = [], observability: (any Service)? = nil
    ) -> ServiceGroup {
        // ServiceGroup stops services in reverse order, each after the one before has ended:
        // drain, then the HTTP server (which waits for in-flight requests); the leased jobs
        // before or after those (see `services`).
        // One node at a time runs each singleton job; another takes over within a lease's
        // length when that node dies. (Both would be safe on several nodes at once, but would
        // only compete for the same rows.)
        let reservations = self.reservations
        let sweeper = RepeatingSweep(name: "holds", batchSize: ReservationService.sweepBatchSize, logger: logger.with(component: "reservations")) {
            try await reservations.expireDueHolds()
        }
        let products = self.products
        let goodsSweeper = RepeatingSweep(name: "goods", batchSize: ProductService.sweepBatchSize, logger: logger.with(component: "commerce")) {
            try await products.releaseLapsed()
        }
        let relay = self.relay
        let gate = QueueGate(service: waitingRoom, metrics: metrics)
        let retention = self.retention
        let reconciler = self.reconciler
        let mailSender = self.mailSender
        // A consumer group's events are handled in order by one node at a time, the group's
        // lease holder; groups are spread over the nodes by whoever takes each lease first.
        let consumers: [any Service] = streamConsumers.map { consumer in
            LeasedService(name: "consumer:\(consumer.group)", leases: leases, holder: nodeID, logger: logger.with(component: "events")) {
                try await consumer.run()
            }
        }
        let signingKeyRefresh: [any Service] = signingKeyStore.map {
            [SigningKeyRefresh(keys: signingKeys, store: $0, logger: logger.with(component: "keys"))]
        } ?? []
        let leased: [any Service] = [
            LeasedService(name: "outbox-relay", leases: leases, holder: nodeID, logger: logger.with(component: "outbox")) {
                try await relay.run()
            },
            LeasedService(name: "hold-sweeper", leases: leases, holder: nodeID, logger: logger.with(component: "reservations")) {
                try await sweeper.run()
            },
            LeasedService(name: "goods-sweeper", leases: leases, holder: nodeID, logger: logger.with(component: "commerce")) {
                try await goodsSweeper.run()
            },
            LeasedService(name: "queue-gate", leases: leases, holder: nodeID, logger: logger.with(component: "waiting-room")) {
                try await gate.run()
            },
            LeasedService(name: "retention", leases: leases, holder: nodeID, logger: logger.with(component: "retention")) {
                try await retention.run()
            },
            LeasedService(name: "reconciler", leases: leases, holder: nodeID, logger: logger.with(component: "checkout")) {
                try await reconciler.run()
            },
            LeasedService(name: "mail-sender", leases: leases, holder: nodeID, logger: logger.with(component: "mail")) {
                try await mailSender.run()
            },
        ] + consumers
        let serving: [any Service] = [WaitingRoomNode(service: waitingRoom)] + signingKeyRefresh + [
            application, DrainOnShutdown(drain: drain, seconds: configuration.drainSeconds, logger: logger),
        ]
        // Shut down last-listed first. Alone, this node keeps its jobs (the relay above all)
        // until its last request has finished. With other nodes it hands them over the moment
        // shutdown begins, so another node carries on while this one drains.
        // The jobs stop side by side: one waiting on a blocking read must not hold up the rest.
        let jobs = ConcurrentServices(services: leased)
        let services: [any Service] = (observability.map { [$0] } ?? []) + (redis == nil ? [jobs] + serving : serving + [jobs])
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: signals,
            logger: logger.with(component: "lifecycle"))
        groupConfiguration.maximumGracefulShutdownDuration = Duration.seconds(configuration.drainSeconds + configuration.shutdownTimeoutSeconds)
        return ServiceGroup(configuration: groupConfiguration)
    }
}

/// The first service to hear of shutdown: marks the node draining and holds the rest of the
/// shutdown back for the drain period, so load balancers see `/ready` fail before the
/// listener closes.
/// Services run as one: a graceful shutdown reaches them all at once, not one after another.
struct ConcurrentServices: Service {
    let services: [any Service]

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services {
                group.addTask { try await service.run() }
            }
            try await group.waitForAll()
        }
    }
}

struct DrainOnShutdown: Service {
    let drain: DrainState
    let seconds: Double
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        drain.beginDraining()
        logger.notice("draining", metadata: ["seconds": .stringConvertible(seconds)])
        try? await Task.sleep(for: .seconds(seconds))
    }
}

extension Logger {
    /// The same logger (handler, level, metadata) tagged with the part of the system speaking.
    func with(component: String) -> Logger {
        var copy = self
        copy[metadataKey: "component"] = .string(component)
        return copy
    }
}
