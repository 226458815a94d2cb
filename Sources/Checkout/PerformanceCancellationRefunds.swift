import Messaging
import Persistence

/// When the catalog cancels an event or one performance, every paid order of the performances
/// called off is cancelled with a full refund, in the relay's transaction (once per event,
/// through the inbox).
public struct PerformanceCancellationRefunds: EventSubscriber {
    public let name = "checkout.cancellation-refunds"
    public let eventTypes: Set<String> = ["event.cancelled", "performance.cancelled"]
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

/// The gateway-checkout saga's second half: when a gateway payment for an order is settled,
/// the order gets its tickets, or is refunded (the hold ended first), or is marked failed.
public struct GatewayPaymentSaga: EventSubscriber {
    public let name = "checkout.gateway-payments"
    public let eventTypes: Set<String> = ["payment.completed", "payment.failed"]
    private let checkout: CheckoutService

    public init(checkout: CheckoutService) {
        self.checkout = checkout
    }

    /// The fields of Payments' events this reads.
    private struct Settled: Decodable {
        let orderId: String?
        let purpose: String
        let method: String?
        let reason: String?
    }

    /// Only gateway payments of orders: wallet payments complete inside their checkout's own
    /// transaction and top-ups are not orders, so the relay never hands those over. (A payload
    /// that does not decode is accepted, to fail in `handle` where it is seen.)
    public func accepts(_ event: EventEnvelope) -> Bool {
        guard let settled = try? event.decodePayload(as: Settled.self) else { return true }
        return settled.purpose == "order" && settled.orderId != nil && (event.type == "payment.failed" || settled.method == "gateway")
    }

    public func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        let settled = try event.decodePayload(as: Settled.self)
        guard accepts(event), let orderID = settled.orderId else { return }
        try await checkout.settleGatewayPayment(orderID: orderID, paid: event.type == "payment.completed", reason: settled.reason, in: transaction)
    }
}
