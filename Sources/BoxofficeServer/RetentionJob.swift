import BoxofficeKit
import Foundation
import Logging
import Persistence
import ServiceLifecycle

/// Deletes what every module keeps only for a while (delivered events, the inbox, idempotency
/// keys, expired sessions and tokens, old webhook deliveries), a small batch per transaction
/// with a pause between batches, so the tables stay bounded without ever holding a hot table's
/// locks for long. Runs on one node (a lease).
public struct RetentionJob: Sendable {
    let rules: [RetentionRule]
    let clock: any WallClock
    let logger: Logger
    public var batchSize = 500
    public var interval: Duration = .seconds(60)
    public var pauseBetweenBatches: Duration = .milliseconds(20)

    /// One pass over every rule, until each has nothing left past its time; returns the rows
    /// deleted per rule.
    @discardableResult
    public func prunePass() async throws -> [String: Int] {
        var deleted: [String: Int] = [:]
        for rule in rules {
            var total = 0
            while !Task.isCancelled {
                let count = try await rule.pruneBatch(clock.now(), batchSize)
                total += count
                guard count == batchSize else { break }
                try? await Task.sleep(for: pauseBetweenBatches)
            }
            deleted[rule.name] = total
        }
        let pruned = deleted.filter { $0.value > 0 }
        if !pruned.isEmpty {
            logger.info("pruned", metadata: pruned.mapValues { .stringConvertible($0) })
        }
        return deleted
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await prunePass()
                } catch where Task.isCancelled {
                    return
                } catch {
                    logger.error("pruning failed", metadata: ["error": .string(String(describing: error))])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
