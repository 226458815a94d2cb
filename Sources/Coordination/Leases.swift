import BoxofficeKit
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Time-bound exclusive ownership of a name, for jobs that must run on one node at a time.
/// A holder that stops renewing (its node died) loses the lease when it runs out, and another
/// node takes over.
public protocol LeaseStore: Sendable {
    /// Takes `name` for `holder`, or extends it when `holder` already has it. True when
    /// `holder` holds the lease for `duration` from now.
    func acquire(_ name: String, holder: String, duration: TimeInterval) async throws -> Bool
    /// Gives the lease up if `holder` has it, so another node need not wait for it to run out.
    func release(_ name: String, holder: String) async throws
}

/// Leases within one process: right for one node.
public final class InMemoryLeaseStore: LeaseStore {
    private let clock: any WallClock
    private let leases = Mutex<[String: (holder: String, until: Date)]>([:])

    public init(clock: any WallClock = SystemClock()) {
        self.clock = clock
    }

    public func acquire(_ name: String, holder: String, duration: TimeInterval) async throws -> Bool {
        let now = clock.now()
        return leases.withLock { leases in
            if let current = leases[name], current.holder != holder, current.until > now { return false }
            leases[name] = (holder, now.addingTimeInterval(duration))
            return true
        }
    }

    public func release(_ name: String, holder: String) async throws {
        leases.withLock { leases in
            if leases[name]?.holder == holder { leases[name] = nil }
        }
    }
}

/// Runs `job` only while this node holds the lease `name`: tries to take it every
/// `retryInterval`, renews it every third of `duration` while running, and cancels the job the
/// moment a renewal fails, so two nodes never run it for longer than the lease overlaps.
public struct LeasedService: Service {
    /// Short, so a dead node's jobs move within about 3 s: the lease runs out at most this long
    /// after the last renewal, and another node tries every `defaultRetryInterval`. Renewing
    /// every 0.7 s costs a Redis call per job per node; a stalled node that misses two renewals
    /// hands the job over, which the jobs are built to survive.
    public static let defaultDuration: TimeInterval = 2.1
    public static let defaultRetryInterval: Duration = .milliseconds(500)

    public let name: String
    private let leases: any LeaseStore
    private let holder: String
    private let duration: TimeInterval
    private let retryInterval: Duration
    private let job: @Sendable () async throws -> Void
    private let logger: Logger

    public init(
        name: String, leases: any LeaseStore, holder: String, duration: TimeInterval = LeasedService.defaultDuration,
        retryInterval: Duration = LeasedService.defaultRetryInterval,
        logger: Logger, job: @escaping @Sendable () async throws -> Void
    ) {
        self.name = name
        self.leases = leases
        self.holder = holder
        self.duration = duration
        self.retryInterval = retryInterval
        self.logger = logger
        self.job = job
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if (try? await leases.acquire(name, holder: holder, duration: duration)) == true {
                    logger.info("took the lease; running", metadata: ["lease": .string(name), "holder": .string(holder)])
                    await runWhileHeld()
                    try? await leases.release(name, holder: holder)
                    if !Task.isCancelled {
                        logger.warning("lost the lease; stopped", metadata: ["lease": .string(name), "holder": .string(holder)])
                    }
                }
                try? await Task.sleep(for: retryInterval)
            }
        }
    }

    /// Runs the job beside a renewal loop; whichever ends first ends both.
    private func runWhileHeld() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await job()
                } catch where !Task.isCancelled {
                    logger.error("leased job failed", metadata: ["lease": .string(name), "error": .string(String(describing: error))])
                } catch {}
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(duration / 3))
                    if Task.isCancelled { return }
                    let renewed = (try? await leases.acquire(name, holder: holder, duration: duration)) ?? false
                    if !renewed { return }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
}
