import BoxofficeKit
import Foundation
import Logging
import Persistence
import SQLKit
import ServiceLifecycle

/// Mail decided inside a transaction and sent after it: an event handler queues the message in
/// its own transaction (so a redelivered event queues nothing twice, keyed by what the mail is
/// about), and `MailSender` sends it later. A slow or dead mail server then holds up nothing —
/// not the payment, not the event relay, not SQLite's single writer.
public struct MailQueue: Sendable {
    let database: Database
    let clock: any WallClock

    /// A claimed message not sent within this long (its sender died) is offered again.
    static let claimSeconds: TimeInterval = 120
    /// Tries before a message that keeps meeting an unavailable server is given up.
    static let maximumAttempts = 8

    public init(database: Database, clock: any WallClock) {
        self.database = database
        self.clock = clock
    }

    public static let migrations = MigrationGroup(module: "mail", migrations: [
        Migration("0001_create_mail_queue", sql: [
            """
            CREATE TABLE mail_queue (
                id TEXT PRIMARY KEY,
                recipient TEXT NOT NULL,
                subject TEXT NOT NULL,
                text_body TEXT NOT NULL,
                html_body TEXT,
                queued_at TIMESTAMPTZ NOT NULL,
                next_attempt_at TIMESTAMPTZ,
                attempts INTEGER NOT NULL DEFAULT 0,
                sent_at TIMESTAMPTZ,
                failed_at TIMESTAMPTZ,
                last_error TEXT
            )
            """,
            // The sender only ever looks at what is still to send.
            "CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at) WHERE next_attempt_at IS NOT NULL",
            "CREATE INDEX mail_queue_queued ON mail_queue (queued_at)",
        ]),
    ])

    /// Queues `message` once under `key` (what it is about, e.g. `order-confirmed:<order>`):
    /// queuing the same key again changes nothing. Returns whether it was queued now.
    @discardableResult
    public func enqueue(_ message: MailMessage, key: String, in transaction: DatabaseTransaction) async throws -> Bool {
        let now = clock.now()
        return try await transaction.sql.raw("""
            INSERT INTO mail_queue (id, recipient, subject, text_body, html_body, queued_at, next_attempt_at)
            VALUES (\(bind: key), \(bind: message.to), \(bind: message.subject), \(bind: message.text), \(bind: message.html), \(bind: now), \(bind: now))
            ON CONFLICT (id) DO NOTHING RETURNING id
            """).first() != nil
    }

    struct Claimed: Sendable {
        let key: String
        let message: MailMessage
        let attempt: Int
    }

    /// Takes up to `limit` messages that are due, pushing each one's next attempt past the claim
    /// period, so another sender (or this one, later) leaves them alone while they are sent.
    func claimDue(limit: Int) async throws -> [Claimed] {
        let now = clock.now()
        let lock = database.dialect == .postgres ? "FOR UPDATE SKIP LOCKED" : ""
        return try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                UPDATE mail_queue SET next_attempt_at = \(bind: now.addingTimeInterval(Self.claimSeconds)), attempts = attempts + 1
                WHERE id IN (
                    SELECT id FROM mail_queue WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= \(bind: now)
                    ORDER BY next_attempt_at LIMIT \(bind: limit) \(unsafeRaw: lock))
                RETURNING id, recipient, subject, text_body, html_body, attempts
                """).all().map { row in
                Claimed(
                    key: try row.decode(column: "id", as: String.self),
                    message: MailMessage(
                        to: try row.decode(column: "recipient", as: String.self),
                        subject: try row.decode(column: "subject", as: String.self),
                        text: try row.decode(column: "text_body", as: String.self),
                        html: try row.decode(column: "html_body", as: String?.self)),
                    attempt: try row.decode(column: "attempts", as: Int.self))
            }
        }
    }

    /// Marks messages sent, in one transaction however many there are.
    func markSent(_ keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                UPDATE mail_queue SET sent_at = \(bind: clock.now()), next_attempt_at = NULL, last_error = NULL
                WHERE id IN \(SQLQueryString.list(keys))
                """).run()
        }
    }

    /// A try failed: retried later with a growing pause (30 s, 1 min, 2 min … up to an hour),
    /// unless retrying cannot help or it has been tried too often.
    func markFailed(_ key: String, attempt: Int, error: any Error) async throws {
        let why = String(String(describing: error).prefix(500))
        let permanent: Bool
        if case MailError.refused = error { permanent = true } else { permanent = attempt >= Self.maximumAttempts }
        if permanent {
            try await update(key, "failed_at = \(bind: clock.now()), next_attempt_at = NULL, last_error = \(bind: why)")
        } else {
            let pause = min(3600, 30 * pow(2, Double(attempt - 1)))
            try await update(key, "next_attempt_at = \(bind: clock.now().addingTimeInterval(pause)), last_error = \(bind: why)")
        }
    }

    private func update(_ key: String, _ assignments: SQLQueryString) async throws {
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("UPDATE mail_queue SET \(assignments) WHERE id = \(bind: key)").run()
        }
    }

    /// What is waiting, sent and given up, for operators and tests.
    public struct Figures: Sendable, Equatable {
        public let waiting: Int
        public let sent: Int
        public let failed: Int

        public init(waiting: Int, sent: Int, failed: Int) {
            self.waiting = waiting
            self.sent = sent
            self.failed = failed
        }
    }

    public func figures() async throws -> Figures {
        try await database.read { sql in
            let row = try await sql.raw("""
                SELECT
                    (SELECT COUNT(*) FROM mail_queue WHERE next_attempt_at IS NOT NULL) AS waiting,
                    (SELECT COUNT(*) FROM mail_queue WHERE sent_at IS NOT NULL) AS sent,
                    (SELECT COUNT(*) FROM mail_queue WHERE failed_at IS NOT NULL) AS failed
                """).first()
            return Figures(
                waiting: try row?.decode(column: "waiting", as: Int.self) ?? 0,
                sent: try row?.decode(column: "sent", as: Int.self) ?? 0,
                failed: try row?.decode(column: "failed", as: Int.self) ?? 0)
        }
    }

    /// Sent and given-up messages are kept `retention` seconds after they were queued.
    public func retentionRule(retention: TimeInterval) -> RetentionRule {
        RetentionRule(name: "mail_queue") { now, limit in
            try await database.withTransaction { transaction in
                try await transaction.sql.raw("""
                    DELETE FROM mail_queue WHERE id IN (
                        SELECT id FROM mail_queue WHERE queued_at < \(bind: now.addingTimeInterval(-retention)) AND next_attempt_at IS NULL
                        ORDER BY queued_at LIMIT \(bind: limit))
                    RETURNING 1 AS deleted
                    """).all().count
            }
        }
    }
}

/// Sends what the mail queue holds, a batch at a time, about once a second. Safe on any number
/// of nodes at once: each message is claimed before it is sent.
public struct MailSender: Service {
    let queue: MailQueue
    let mailer: any Mailer
    let interval: Duration
    let logger: Logger

    public init(queue: MailQueue, mailer: any Mailer, interval: Duration = .seconds(1), logger: Logger) {
        self.queue = queue
        self.mailer = mailer
        self.interval = interval
        self.logger = logger
    }

    static let batchSize = 20

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    while try await sendDue() == Self.batchSize {}
                } catch where Task.isCancelled {
                    return
                } catch {
                    logger.error("mail queue unreadable", metadata: ["error": .string(String(describing: error))])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Sends one batch of due messages; returns how many it took. The sent ones are marked in
    /// one transaction after the batch (at an on-sale that is one write per batch instead of
    /// one per mail); a sender that dies before then leaves them claimed, and they go out again
    /// when the claim runs out, as a mail whose sender died mid-send always has.
    @discardableResult
    public func sendDue() async throws -> Int {
        let claimed = try await queue.claimDue(limit: Self.batchSize)
        var sent: [String] = []
        for mail in claimed {
            do {
                try await mailer.send(mail.message)
                sent.append(mail.key)
            } catch {
                logger.warning("mail not sent", metadata: [
                    "mail": .string(mail.key), "attempt": .stringConvertible(mail.attempt), "error": .string(String(describing: error)),
                ])
                try await queue.markFailed(mail.key, attempt: mail.attempt, error: error)
            }
        }
        try await queue.markSent(sent)
        return claimed.count
    }
}
