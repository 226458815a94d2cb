import BoxofficeKit
import BoxofficeServer
import Foundation
import Logging
import Mail
import Persistence
import Synchronization

/// Builds the real platform over a fresh, migrated database.
public func withPlatform<Result: Sendable>(
    _ dialect: DatabaseDialect = .sqlite,
    logger: Logger = TestDatabases.logger,
    clock: any WallClock = SystemClock(),
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (BoxofficePlatform) async throws -> Result
) async throws -> Result {
    try await TestDatabases.withDatabase(dialect, migrations: BoxofficePlatform.migrationGroups) { database in
        var configuration = ServerConfiguration(database: database.configuration)
        // Mail files and anything else a node keeps on disk go to a directory of this test's own.
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("boxoffice-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        configuration.dataDirectory = dataDirectory.path
        configuration.port = 0
        configuration.jwtSecret = String(repeating: "test-signing-secret-", count: 2)
        configuration.bcryptCost = 4  // the minimum: tests hash many passwords
        configuration.humanCheck = .off  // the human-check tests turn it on
        configuration.fanRequestsPerSecond = 0  // tests fire many requests as one fan; the rate-limit tests turn it on
        configuration.publishWaitSeconds = 0  // no relay runs behind `.router` tests; they deliver events themselves
        configure(&configuration)
        return try await body(try await BoxofficePlatform(configuration: configuration, database: database, logger: logger, clock: clock))
    }
}

/// Keeps every log record, so tests can assert on what operators would see.
public final class LogRecorder: Sendable {
    public init() {}

    public struct Record: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]
    }

    private let records = Mutex<[Record]>([])

    public var all: [Record] { records.withLock { $0 } }

    func append(_ record: Record) { records.withLock { $0.append(record) } }

    public var logger: Logger {
        var logger = Logger(label: "boxoffice.test") { _ in RecordingHandler(recorder: self) }
        logger.logLevel = .info
        return logger
    }

    private struct RecordingHandler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            recorder.append(Record(level: event.level, message: event.message.description, metadata: merged.mapValues(\.description)))
        }
    }
}


extension BoxofficePlatform {
    /// The mails sent so far (the embedded mailer writes files), as raw text, oldest first.
    /// Mail still in the queue is sent first, as the sender would within a second.
    public func sentMail() async throws -> [String] {
        while try await mailSender.sendDue() > 0 {}
        guard let files = mailer as? FileMailer else { return [] }
        return try files.sent()
    }

    /// The link in the latest mail to `address`, for the path given.
    public func link(inMailTo address: String, path: String) async throws -> String? {
        for raw in try await sentMail().reversed() where raw.contains("To: \(address)") {
            guard let text = MailMessage.decodedText(ofRaw: raw), let range = text.range(of: #"https?://\S+"# , options: .regularExpression)
            else { continue }
            let url = String(text[range])
            if let components = URLComponents(string: url), components.path == path {
                return components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
            }
        }
        return nil
    }
}
