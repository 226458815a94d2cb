import BoxofficeServer
import Foundation
import Logging
import Persistence
import Synchronization
import TestSupport

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
    static func run(
        _ arguments: [String], environment extra: [String: String] = [:], input: String? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> Outcome {
        let process = try start(arguments, environment: extra, input: input)
        let killer = Task {
            try await Task.sleep(for: timeout)
            process.process.terminate()
        }
        defer { killer.cancel() }
        return await process.finish()
    }

    /// One launch at a time: Foundation's `Process.run()` crashed (a bad memmove inside it) when
    /// parallel tests started processes at the same moment.
    private static let launching = Mutex(())
    private static func launch(_ process: Process) throws {
        try launching.withLock { _ in try process.run() }
    }

    static func start(_ arguments: [String], environment extra: [String: String] = [:], input: String? = nil) throws -> RunningProcess {
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
        let running = RunningProcess(process: process, output: output, error: error)
        if let input {
            let pipe = Pipe()
            process.standardInput = pipe
            try launch(process)
            pipe.fileHandleForWriting.write(Data(input.utf8))
            try pipe.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try launch(process)
        }
        return running
    }

    /// A started `boxoffice` whose output is collected as it arrives.
    final class RunningProcess: @unchecked Sendable {
        // Process and Pipe are thread-safe for these uses; the collected text is behind a lock.
        let process: Process
        /// Kept until both reach end of file: a pipe freed (its descriptor closed) while its
        /// readability source is still registered crashes libdispatch's event loop.
        private let pipes: (output: Pipe, error: Pipe)
        private let collected = Mutex<(output: String, error: String, open: Int)>(("", "", 2))

        init(process: Process, output: Pipe, error: Pipe) {
            self.process = process
            self.pipes = (output, error)
            output.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil }
                self?.collected.withLock {
                    $0.output += String(decoding: data, as: UTF8.self)
                    if data.isEmpty { $0.open -= 1 }
                }
            }
            error.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil }
                self?.collected.withLock {
                    $0.error += String(decoding: data, as: UTF8.self)
                    if data.isEmpty { $0.open -= 1 }
                }
            }
        }

        var standardOutput: String { collected.withLock { $0.output } }

        /// Waits for the process to end and returns its exit status and output.
        func finish() async -> Outcome {
            while process.isRunning {
                try? await Task.sleep(for: .milliseconds(20))
            }
            // The last output, up to both ends of file.
            let deadline = ContinuousClock.now + .seconds(5)
            while collected.withLock({ $0.open > 0 }), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
            for handle in [pipes.output.fileHandleForReading, pipes.error.fileHandleForReading] { handle.readabilityHandler = nil }
            let (output, error, _) = collected.withLock { $0 }
            return Outcome(status: process.terminationStatus, standardOutput: output, standardError: error)
        }
    }
}
