import BoxofficeKit
import Catalog
import Checkout
import Foundation
import Mail
import Messaging
import Persistence
import Reservations
import WaitingRoom
import WebApp

extension MailQueue: MailOutbox {}

/// The mails fans get from what happened: the order confirmation with its tickets, the ticket
/// someone gave them, and their turn in a waiting room they were not watching. Each is queued
/// in the event's own delivery transaction, once per thing it is about, and sent by
/// `MailSender` afterwards; the facts come from the contexts that own them, the words from
/// the web app's `FanMail`.
struct FanNotifications: EventSubscriber {
    let name = "mail.fan-notifications"
    let eventTypes: Set<String> = [ReservationConfirmed.eventType, GoodsOrderPaid.eventType, TicketTransferred.eventType, QueueAdmitted.eventType]
    let catalog: CatalogService
    let checkout: CheckoutService
    let tickets: TicketService
    let fans: any FanDirectory
    let mail: any MailOutbox
    let publicURL: String
    let clock: any WallClock

    /// Reads every context's view (drafts, other fans' orders) on the fans' behalf.
    private let system = Principal(userID: "mail", roles: [.admin])
    /// News older than this is not worth a mail: a consumer group made later replays its
    /// stream's history, and nobody wants last month's confirmations again.
    static let staleAfter: TimeInterval = 24 * 3600

    func accepts(_ event: EventEnvelope) -> Bool {
        clock.now().timeIntervalSince(event.occurredAt) < Self.staleAfter
    }

    /// At an on-sale the relay hands over hundreds of confirmations at once: their fans, orders,
    /// shows and refund policies are read a few queries per batch, not a dozen per order.
    var handlesBatches: Bool { true }

    func handle(batch events: [EventEnvelope], in transaction: DatabaseTransaction) async throws {
        var paid: [PaidOrder] = []
        var others: [EventEnvelope] = []
        for event in events {
            if let order = try PaidOrder(event) { paid.append(order) } else { others.append(event) }
        }
        try await ordersPaid(paid, in: transaction)
        for event in others { try await handle(event, in: transaction) }
    }

    func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        if let paid = try PaidOrder(event) { return try await ordersPaid([paid], in: transaction) }
        switch event.type {
        case TicketTransferred.eventType:
            try await ticketReceived(try event.decode(as: TicketTransferred.self), eventID: event.id, in: transaction)
        case QueueAdmitted.eventType:
            try await admitted(try event.decode(as: QueueAdmitted.self), in: transaction)
        default:
            return
        }
    }

    /// An order whose confirmation is due, from the event that says it is paid: its tickets are
    /// issued (`reservation.confirmed`, goods in the same order included), or it is goods alone.
    private struct PaidOrder {
        let orderID: String
        let fanID: String
        /// The performance its tickets are for; nil for goods alone.
        let performanceID: String?
        let ticketIDs: [String]

        init?(_ event: EventEnvelope) throws {
            switch event.type {
            case ReservationConfirmed.eventType:
                let confirmed = try event.decode(as: ReservationConfirmed.self)
                (orderID, fanID, performanceID, ticketIDs) = (confirmed.orderId, confirmed.fanId, confirmed.performanceId, confirmed.ticketIds)
            case GoodsOrderPaid.eventType:
                let paid = try event.decode(as: GoodsOrderPaid.self)
                (orderID, fanID, performanceID, ticketIDs) = (paid.orderId, paid.fanId, nil, [])
            default:
                return nil
            }
        }
    }

    private func ordersPaid(_ orders: [PaidOrder], in transaction: DatabaseTransaction) async throws {
        guard !orders.isEmpty else { return }
        let contacts = try await fans.contacts(of: orders.map(\.fanID))
        let receipts = try await checkout.receipts(orderIDs: orders.map(\.orderID))
        var shows = PerPerformance<FanMail.Show?> { try await show(performanceID: $0) }
        var policies = PerPerformance { try await tickets.refundPolicy(performanceID: $0, in: transaction) }
        for paid in orders {
            guard let fan = contacts[paid.fanID] else { continue }
            guard let order = receipts[paid.orderID] else { throw Problem.notFound(detail: "No order \(paid.orderID).") }
            let goods = order.goods.filter { $0.status == "active" }
                .map { FanMail.GoodsLine(name: $0.name, option: $0.optionName, quantity: $0.quantity, total: $0.total) }
            let message: MailMessage
            if let performanceID = paid.performanceID {
                guard let show = try await shows.value(for: performanceID) else { continue }
                let policy = try await policies.value(for: performanceID)
                let deadline = policy.deadline.flatMap { $0 > clock.now() ? $0 : nil }
                let lines = order.items.filter { paid.ticketIDs.contains($0.ticketId) }
                    .map { FanMail.TicketLine(seat: $0.label, tier: $0.tier, price: $0.price) }
                message = FanMail.orderConfirmed(
                    .init(
                        orderID: order.orderId, show: show, tickets: lines, goods: goods, delivered: order.addressId != nil, total: order.total,
                        discount: order.discount, method: order.method, cancelUntil: deadline, feePercent: policy.feePercent),
                    to: fan, publicURL: publicURL)
            } else {
                message = FanMail.goodsOrderConfirmed(
                    .init(
                        orderID: order.orderId, goods: goods, delivered: order.addressId != nil, total: order.total, discount: order.discount,
                        method: order.method),
                    to: fan, publicURL: publicURL)
            }
            _ = try await mail.enqueue(message, key: "order-confirmed:\(paid.orderID)", in: transaction)
        }
    }

    private func ticketReceived(_ transfer: TicketTransferred, eventID: String, in transaction: DatabaseTransaction) async throws {
        let people = try await fans.contacts(of: [transfer.fromUserId, transfer.toUserId])
        guard let receiver = people[transfer.toUserId], let ticket = try await tickets.ticket(id: transfer.ticketId),
              let show = try await show(performanceID: ticket.performanceId)
        else { return }
        let message = FanMail.ticketReceived(
            show: show, ticket: .init(seat: ticket.seat?.label, tier: ticket.tier, price: ticket.price), from: people[transfer.fromUserId],
            to: receiver, publicURL: publicURL)
        // One mail per transfer: a ticket passed on twice is news twice.
        _ = try await mail.enqueue(message, key: "ticket-received:\(eventID)", in: transaction)
    }

    private func admitted(_ admission: QueueAdmitted, in transaction: DatabaseTransaction) async throws {
        let away = admission.awayFanIds ?? []
        guard !away.isEmpty, let show = try await show(performanceID: admission.performanceId) else { return }
        let contacts = try await fans.contacts(of: away)
        for fanID in away {
            guard let fan = contacts[fanID] else { continue }
            let message = FanMail.admitted(
                show: show, performanceID: admission.performanceId, shopUntil: admission.sessionEndsAt, to: fan, publicURL: publicURL)
            _ = try await mail.enqueue(message, key: "admitted:\(admission.performanceId):\(fanID):\(admission.admittedThrough)", in: transaction)
        }
    }

    /// The title, venue and start of a performance; nil when it is gone.
    private func show(performanceID: String) async throws -> FanMail.Show? {
        let performance: Performance
        do {
            performance = try await catalog.performance(id: performanceID, viewer: system)
        } catch let problem as Problem where problem.status == 404 {
            return nil
        }
        let event = try await catalog.event(id: performance.eventId, viewer: system)
        let venue = try await catalog.venue(id: event.venueId)
        return FanMail.Show(title: event.title, venue: venue.name, startsAt: performance.startsAt)
    }
}

/// What a batch of mails needs to know about each performance, read once per performance.
private struct PerPerformance<Value> {
    let read: (String) async throws -> Value
    private var known: [String: Value] = [:]

    init(_ read: @escaping (String) async throws -> Value) {
        self.read = read
    }

    mutating func value(for performanceID: String) async throws -> Value {
        if let value = known[performanceID] { return value }
        let value = try await read(performanceID)
        known[performanceID] = value
        return value
    }
}
