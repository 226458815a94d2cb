import Logging
import ServiceLifecycle

/// Expires holds that ran out, so their `reservation.expired` events go out even when nobody
/// tries to take the seats. Seats are free at expiry regardless: holds expire lazily too.
/// Every node may run it; each hold is expired once.
public struct HoldExpirySweeper: Service {
    private let reservations: ReservationService
    private let interval: Duration
    private let logger: Logger

    public init(reservations: ReservationService, interval: Duration = .seconds(1), logger: Logger) {
        self.reservations = reservations
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    // Keep going while full batches come back; otherwise wait for the next round.
                    while try await reservations.expireDueHolds() == ReservationService.sweepBatchSize {}
                } catch where Task.isCancelled {
                    return
                } catch {
                    logger.error("hold sweep failed", metadata: ["error": .string(String(describing: error))])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
