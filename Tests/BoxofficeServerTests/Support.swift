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

    static func start(_ arguments: [String], environment extra: [String: String] = [:], input: String? = nil) throws -> RunningProcess {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("BOXOFFICE_") }
        environment.merge(extra) { _, new in new }
        return RunningProcess(process: try ChildProcess(executable: url.path, arguments: arguments, environment: environment, input: input))
    }

    /// A started `boxoffice`; its output is read from the files it writes to.
    struct RunningProcess: Sendable {
        let process: ChildProcess

        var standardOutput: String { process.standardOutput }

        /// Waits for the process to end and returns its exit status and output.
        func finish() async -> Outcome {
            let status = await process.exit()
            return Outcome(status: status, standardOutput: process.standardOutput, standardError: process.standardError)
        }
    }
}
