import Messaging
import Persistence

/// Checkout's news of orders with goods to deliver: paid ones go into a shipment (combined
/// with the fan's others to the same address that have not left), and ones whose goods were all
/// cancelled leave theirs. In the relay's transaction, once per event.
public struct OrderShipping: EventSubscriber {
    public let name = "fulfilment.orders"
    public let eventTypes: Set<String> = ["order.goods_paid", "order.goods_cancelled"]
    private let fulfilment: FulfilmentService

    public init(fulfilment: FulfilmentService) {
        self.fulfilment = fulfilment
    }

    /// The fields of Checkout's events this reads.
    private struct Paid: Decodable {
        let orderId: String
        let fanId: String
        let addressId: String
        let shippingFee: Int64
        let goods: [GoodsToPack]?
    }

    private struct Cancelled: Decodable {
        let orderId: String
        let goodsLeft: Int
    }

    public func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        if event.type == "order.goods_paid" {
            let paid = try event.decodePayload(as: Paid.self)
            try await fulfilment.place(orderID: paid.orderId, fanID: paid.fanId, addressID: paid.addressId, fee: paid.shippingFee, goods: paid.goods ?? [], in: transaction)
        } else {
            let cancelled = try event.decodePayload(as: Cancelled.self)
            if cancelled.goodsLeft == 0 { try await fulfilment.withdraw(orderID: cancelled.orderId, in: transaction) }
        }
    }
}
