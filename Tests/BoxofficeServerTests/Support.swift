import BoxofficeServer
import Foundation
import Logging
import Persistence
import Synchronization
import TestSupport

/// Builds the real platform over a fresh, migrated database.
func withPlatform<Result: Sendable>(
    _ dialect: DatabaseDialect = .sqlite,
    logger: Logger = TestDatabases.logger,
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (BoxofficePlatform) async throws -> Result
) async throws -> Result {
    try await TestDatabases.withDatabase(dialect, migrations: BoxofficePlatform.migrationGroups) { database in
        var configuration = ServerConfiguration(database: database.configuration)
        configuration.port = 0
        configure(&configuration)
        return try await body(BoxofficePlatform(configuration: configuration, database: database, logger: logger))
    }
}

/// Keeps every log record, so tests can assert on what operators would see.
final class LogRecorder: Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let records = Mutex<[Record]>([])

    var all: [Record] { records.withLock { $0 } }

    func append(_ record: Record) { records.withLock { $0.append(record) } }

    var logger: Logger {
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

/// Runs the built `boxoffice` executable, which sits beside the test bundle.
enum BoxofficeExecutable {
    static var url: URL {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleDirectory, bundleDirectory.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("boxoffice")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return bundleDirectory.appendingPathComponent("boxoffice")
    }

    struct Outcome: Sendable {
        let status: Int32
        let standardOutput: String
        let standardError: String
    }

    /// Runs to completion (killed after `timeout`) with a clean `BOXOFFICE_*` environment.
    static func run(_ arguments: [String], environment extra: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> Outcome {
        let process = try start(arguments, environment: extra)
        let killer = Task {
            try await Task.sleep(for: timeout)
            process.process.terminate()
        }
        defer { killer.cancel() }
        return await process.finish()
    }

    static func start(_ arguments: [String], environment extra: [String: String] = [:]) throws -> RunningProcess {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("BOXOFFICE_") }
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        let running = RunningProcess(process: process, output: output, error: error)
        try process.run()
        return running
    }

    /// A started `boxoffice` whose output is collected as it arrives.
    final class RunningProcess: @unchecked Sendable {
        // Process and Pipe are thread-safe for these uses; the collected text is behind a lock.
        let process: Process
        private let collected = Mutex<(output: String, error: String)>(("", ""))

        init(process: Process, output: Pipe, error: Pipe) {
            self.process = process
            output.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let text = String(decoding: handle.availableData, as: UTF8.self)
                self?.collected.withLock { $0.output += text }
            }
            error.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let text = String(decoding: handle.availableData, as: UTF8.self)
                self?.collected.withLock { $0.error += text }
            }
        }

        var standardOutput: String { collected.withLock { $0.output } }

        /// Waits for the process to end and returns its exit status and output.
        func finish() async -> Outcome {
            while process.isRunning {
                try? await Task.sleep(for: .milliseconds(20))
            }
            try? await Task.sleep(for: .milliseconds(50))  // let the last output arrive
            let (output, error) = collected.withLock { $0 }
            return Outcome(status: process.terminationStatus, standardOutput: output, standardError: error)
        }
    }
}
