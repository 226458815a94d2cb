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
    let eventTypes: Set<String> = [ReservationConfirmed.eventType, TicketTransferred.eventType, QueueAdmitted.eventType]
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
        let confirmations = try events.filter { $0.type == ReservationConfirmed.eventType }.map { try $0.decode(as: ReservationConfirmed.self) }
        try await ordersConfirmed(confirmations, in: transaction)
        for event in events where event.type != ReservationConfirmed.eventType { try await handle(event, in: transaction) }
    }

    func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        switch event.type {
        case ReservationConfirmed.eventType:
            try await ordersConfirmed([try event.decode(as: ReservationConfirmed.self)], in: transaction)
        case TicketTransferred.eventType:
            try await ticketReceived(try event.decode(as: TicketTransferred.self), eventID: event.id, in: transaction)
        case QueueAdmitted.eventType:
            try await admitted(try event.decode(as: QueueAdmitted.self), in: transaction)
        default:
            return
        }
    }

    private func ordersConfirmed(_ confirmations: [ReservationConfirmed], in transaction: DatabaseTransaction) async throws {
        guard !confirmations.isEmpty else { return }
        let contacts = try await fans.contacts(of: confirmations.map(\.fanId))
        let receipts = try await checkout.receipts(orderIDs: confirmations.map(\.orderId))
        var shows = PerPerformance<FanMail.Show?> { try await show(performanceID: $0) }
        var policies = PerPerformance { try await tickets.refundPolicy(performanceID: $0, in: transaction) }
        for confirmed in confirmations {
            guard let fan = contacts[confirmed.fanId], let show = try await shows.value(for: confirmed.performanceId) else { continue }
            guard let order = receipts[confirmed.orderId] else { throw Problem.notFound(detail: "No order \(confirmed.orderId).") }
            let policy = try await policies.value(for: confirmed.performanceId)
            let deadline = policy.deadline.flatMap { $0 > clock.now() ? $0 : nil }
            let lines = order.items.filter { confirmed.ticketIds.contains($0.ticketId) }
                .map { FanMail.TicketLine(seat: $0.label, tier: $0.tier, price: $0.price) }
            let message = FanMail.orderConfirmed(
                .init(
                    orderID: order.orderId, show: show, tickets: lines, total: order.total, method: order.method, cancelUntil: deadline,
                    feePercent: policy.feePercent),
                to: fan, publicURL: publicURL)
            _ = try await mail.enqueue(message, key: "order-confirmed:\(confirmed.orderId)", in: transaction)
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
