import Logging
import ServiceLifecycle

/// Runs a sweep (expire holds that ran out, release goods whose payment never came) about every
/// `interval`, at once again while full batches come back, until shutdown. A failed round is
/// logged and the next one tries again.
public struct RepeatingSweep: Service {
    private let name: String
    private let batchSize: Int
    private let interval: Duration
    private let logger: Logger
    private let sweep: @Sendable () async throws -> Int

    /// `sweep` answers how many it handled; `batchSize` is the most it handles in one go.
    public init(
        name: String, batchSize: Int, interval: Duration = .seconds(1), logger: Logger, sweep: @escaping @Sendable () async throws -> Int
    ) {
        self.name = name
        self.batchSize = batchSize
        self.interval = interval
        self.logger = logger
        self.sweep = sweep
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    while try await sweep() >= batchSize {}
                } catch where Task.isCancelled {
                    return
                } catch {
                    logger.error("sweep failed", metadata: ["sweep": .string(name), "error": .string(String(describing: error))])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
