import Messaging
import Persistence

/// When the catalog cancels an event, every paid order of its performances is cancelled with a
/// full refund, in the relay's transaction (once per event, through the inbox).
public struct PerformanceCancellationRefunds: EventSubscriber {
    public let name = "checkout.cancellation-refunds"
    public let eventTypes: Set<String> = ["event.cancelled"]
    private let checkout: CheckoutService

    public init(checkout: CheckoutService) {
        self.checkout = checkout
    }

    /// The fields of the catalog's `event.cancelled` this reads.
    private struct CancelledEvent: Decodable {
        let performanceIds: [String]
    }

    public func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        try await checkout.refundEveryOrder(ofPerformances: try event.decodePayload(as: CancelledEvent.self).performanceIds, in: transaction)
    }
}
