import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program the tests start (the `boxoffice` binary, `redis-server`), launched with
/// `posix_spawn`: its standard output and error go to files and its input comes from one, so no
/// pipe, no dispatch source and no Foundation `Process` is involved. (On Linux, Foundation's
/// `Process` and pipe readability handlers run on libdispatch's event loop, which crashed the
/// whole test process under the parallel suite.)
public final class ChildProcess: @unchecked Sendable {
    public let processIdentifier: pid_t
    private let directory: URL
    /// The exit status once reaped; behind the lock, as `waitpid` may be called from any task.
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments` and exactly `environment`; `input` is its standard input.
    public init(executable: String, arguments: [String], environment: [String: String], input: String? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("boxoffice-child-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let inputPath = directory.appendingPathComponent("input").path
        try Data((input ?? "").utf8).write(to: URL(fileURLWithPath: inputPath))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inputPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory.appendingPathComponent("output").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, directory.appendingPathComponent("error").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Nothing else of the test process: a server it starts (redis-server) must not keep the
        // tests' database connections, or the test runner's output pipe, open after they close.
        // (glibc 2.34's closefrom action; Swift's Glibc module does not declare it.)
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else {
            throw NSError(domain: NSPOSIXErrorDomain, code: Int(result), userInfo: [NSLocalizedDescriptionKey: "cannot start \(executable)"])
        }
        processIdentifier = pid
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Reaps the child if it has ended (without blocking unless `blocking`).
    private func reap(blocking: Bool) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let reaped = waitpid(processIdentifier, &status, blocking ? 0 : WNOHANG)
        guard reaped == processIdentifier else { return nil }
        // As Foundation reports it: the exit code, or the number of the signal that ended it.
        let signal = status & 0x7f
        exitStatus = signal == 0 ? (status >> 8) & 0xff : signal
        return exitStatus
    }

    public var isRunning: Bool { reap(blocking: false) == nil }

    /// SIGTERM.
    public func terminate() { if isRunning { Glibc.kill(processIdentifier, SIGTERM) } }

    /// SIGKILL, then waits for it to be gone.
    public func kill() {
        if isRunning { Glibc.kill(processIdentifier, SIGKILL) }
        waitUntilExit()
    }

    /// Blocks the calling thread until the child has ended.
    public func waitUntilExit() { _ = reap(blocking: true) }

    /// Waits, without blocking a thread, until the child has ended; answers its status.
    public func exit() async -> Int32 {
        while true {
            if let status = reap(blocking: false) { return status }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    public var terminationStatus: Int32 { reap(blocking: false) ?? -1 }

    /// What it has written so far.
    public var standardOutput: String { read("output") }
    public var standardError: String { read("error") }

    private func read(_ name: String) -> String {
        (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }
}
