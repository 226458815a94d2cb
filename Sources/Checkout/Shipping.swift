import BoxofficeKit
import Foundation
import Messaging
import Payments
import Persistence
import SQLKit

/// Orders and their delivery: Checkout tells Fulfilment of goods to send (`order.goods_paid`),
/// and hears back what became of them (`shipment.joined`, `shipment.changed`): the order's
/// status and history follow its shipment, and a shipping fee paid twice goes back.
extension CheckoutService {
    /// When an order with goods is paid: `order.goods_order_paid` when it has no tickets (its
    /// confirmation), and `order.goods_paid` when the goods go to an address (Fulfilment puts
    /// them in a shipment).
    func announcePaidGoods(orderID: String, fanID: String, hasTickets: Bool, at now: Date, in transaction: DatabaseTransaction) async throws {
        let goods = try await Self.goodsItems(orderID: orderID, in: transaction.sql).filter { $0.status == "active" }
            .map { OrderGoodsPaid.PackLine(name: $0.name, optionName: $0.optionName, quantity: $0.quantity) }
        guard !goods.isEmpty else { return }
        if !hasTickets { try await outbox.publish(GoodsOrderPaid(orderId: orderID, fanId: fanID, paidAt: now), in: transaction) }
        guard let row = try await transaction.sql.raw("""
            SELECT address_id, shipping_fee_amount FROM orders WHERE id = \(bind: orderID) AND address_id IS NOT NULL
            """).first()
        else { return }
        try await outbox.publish(
            OrderGoodsPaid(
                orderId: orderID, fanId: fanID, addressId: try row.decode(column: "address_id", as: String.self),
                shippingFee: try row.decode(column: "shipping_fee_amount", as: Int64.self), goods: goods, paidAt: now),
            in: transaction)
    }

    /// The order's goods are in a shipment (combined with other orders' when `combined`): the
    /// order is being prepared, and a fee it paid for a shipment already paid for goes back.
    func joinedShipment(orderID: String, shipmentID: String, combined: Bool, feeToRefund: Int64, at now: Date, in transaction: DatabaseTransaction)
        async throws
    {
        // An order cancelled meanwhile is leaving the shipment again (its own event follows).
        guard let status = try await lockedOrder(id: orderID, in: transaction)?.decode(column: "status", as: String.self),
              OrderStatus.live.contains(status)
        else { return }
        if status == "paid" { try await setStatus("preparing", orderID: orderID, at: now, in: transaction) }
        var note = combined
            ? "The goods ship together with your other orders to the same address (shipment \(shipmentID))."
            : "The goods are being prepared for shipping (shipment \(shipmentID))."
        if feeToRefund > 0, try await refundShippingFee(orderID: orderID, amount: feeToRefund, in: transaction) {
            note += " The shipping fee of \(feeToRefund) KRW is refunded: one fee covers the shipment."
        }
        try await recordHistory(orderID: orderID, status: status == "paid" ? "preparing" : status, note: note, at: now, in: transaction)
    }

    /// The order's shipment moved on (or was cancelled, or sent elsewhere): its status follows
    /// (shipped, delivered), with who did it, and fees named in `feeToRefund` go back.
    func shipmentChanged(
        orderID: String, status shipmentStatus: String, note: String, by: String, feeToRefund: Int64, at now: Date,
        in transaction: DatabaseTransaction
    ) async throws {
        guard let current = try await lockedOrder(id: orderID, in: transaction)?.decode(column: "status", as: String.self) else { return }
        var status = current
        if ["shipped", "delivered"].contains(shipmentStatus), OrderStatus.live.contains(current) {
            status = shipmentStatus
            try await setStatus(status, orderID: orderID, at: now, in: transaction)
        }
        var text = note + (by == "system" ? "" : " (by \(by))")
        if feeToRefund > 0, try await refundShippingFee(orderID: orderID, amount: feeToRefund, in: transaction) {
            text += " The shipping fee of \(feeToRefund) KRW is refunded."
        }
        try await recordHistory(orderID: orderID, status: status, note: text, at: now, in: transaction)
    }

    /// Gives the order's shipping fee back, once (a redelivered event finds it refunded).
    private func refundShippingFee(orderID: String, amount: Int64, in transaction: DatabaseTransaction) async throws -> Bool {
        guard try await transaction.sql.raw("""
            UPDATE orders SET shipping_fee_refunded = \(bind: amount), refunded_amount = refunded_amount + \(bind: amount)
            WHERE id = \(bind: orderID) AND shipping_fee_refunded = 0 AND shipping_fee_amount >= \(bind: amount) RETURNING id
            """).first() != nil
        else { return false }
        _ = try await payments.refund(orderID: orderID, amount: amount, reason: "combined shipping: one fee a shipment", in: transaction)
        return true
    }
}

/// Fulfilment's news of shipments, applied to their orders.
public struct ShipmentUpdates: EventSubscriber {
    public let name = "checkout.shipments"
    public let eventTypes: Set<String> = ["shipment.joined", "shipment.changed"]
    private let checkout: CheckoutService

    public init(checkout: CheckoutService) {
        self.checkout = checkout
    }

    /// The fields of Fulfilment's events this reads.
    private struct Joined: Decodable {
        let shipmentId: String
        let orderId: String
        let combined: Bool
        let feeToRefund: Int64
        let at: Date
    }

    private struct Changed: Decodable {
        let orderIds: [String]
        let status: String
        let note: String
        let by: String
        let feeToRefund: [String: Int64]
        let at: Date
    }

    public func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        if event.type == "shipment.joined" {
            let joined = try event.decodePayload(as: Joined.self)
            try await checkout.joinedShipment(
                orderID: joined.orderId, shipmentID: joined.shipmentId, combined: joined.combined, feeToRefund: joined.feeToRefund, at: joined.at,
                in: transaction)
        } else {
            let changed = try event.decodePayload(as: Changed.self)
            for orderID in changed.orderIds {
                try await checkout.shipmentChanged(
                    orderID: orderID, status: changed.status, note: changed.note, by: changed.by, feeToRefund: changed.feeToRefund[orderID] ?? 0,
                    at: changed.at, in: transaction)
            }
        }
    }
}
