import BoxofficeKit
import Commerce
import Foundation
import HTTPKit
import Logging
import Messaging
import Payments
import Persistence
import Reservations
import SQLKit

/// The workflow from a hold to paid tickets, and back to a refund.
///
/// It owns orders and nothing else: the money is Payments', the seats and tickets are
/// Reservations'. A wallet checkout runs their in-transaction operations inside one database
/// transaction — claim the idempotency key, price and lock the hold, debit, issue tickets,
/// record the order — so it either happens whole or not at all.
public final class CheckoutService: Sendable {
    let database: Database
    let tickets: TicketService
    let payments: PaymentService
    /// The goods an order may carry beside (or instead of) tickets, and the coupons off them.
    let products: ProductService
    let coupons: CouponService
    /// Where goods are delivered (Fulfilment), and the events that tell it.
    let deliveries: any Deliveries
    let outbox: Outbox
    let clock: any WallClock
    let ids: IDGenerator
    let logger: Logger

    /// How long a pending gateway payment keeps its hold (from when checkout starts).
    let gatewayHoldMinutes: Double

    /// When a performance sells through a waiting room, paying needs its admission token too:
    /// checked here, in the service, so no caller can skip it.
    let admission: any ShopperAdmission

    public init(
        database: Database, tickets: TicketService, payments: PaymentService, products: ProductService, coupons: CouponService,
        outbox: Outbox, deliveries: any Deliveries = NoDeliveries(), gatewayHoldMinutes: Double = 10,
        clock: any WallClock, logger: Logger, admission: any ShopperAdmission = OpenAdmission()
    ) {
        self.outbox = outbox
        self.deliveries = deliveries
        self.admission = admission
        self.products = products
        self.coupons = coupons
        self.gatewayHoldMinutes = gatewayHoldMinutes
        self.database = database
        self.tickets = tickets
        self.payments = payments
        self.clock = clock
        self.ids = IDGenerator(clock: clock)
        self.logger = logger
    }

    public enum Method: String, Codable, Sendable {
        case wallet
        case gateway
    }

    /// What makes two checkout requests "the same" for their Idempotency-Key.
    struct CheckoutFingerprint: Encodable {
        let holdId: String
        let method: String
    }

    /// The same for a checkout with goods (`holdId` may then be absent).
    struct BasketFingerprint: Encodable {
        let holdId: String?
        let items: [GoodsRequest]
        let couponId: String?
        let addressId: String?
        let method: String
    }

    /// What delivering an order's goods to an address costs; one fee a shipment (an order that
    /// ships with another's gets it back). Picking them up at the venue costs nothing.
    public static let shippingFee = Money(amount: 3_000, currency: .krw)

    /// Pays for a hold, goods, or both in one order. Without goods it is `checkout(holdID:…)`.
    public func checkout(
        holdID: String?, items: [GoodsRequest], couponID: String? = nil, addressID: String? = nil, method: Method, idempotencyKey: String,
        fan: Principal, accessToken: String? = nil
    ) async throws -> (status: Int, body: String) {
        guard !items.isEmpty else {
            if couponID != nil { throw Problem.validation([.init(field: "couponId", message: "applies to goods; there are no items")]) }
            if addressID != nil { throw Problem.validation([.init(field: "addressId", message: "is where goods go; there are no items")]) }
            guard let holdID else { throw Problem.validation([.init(field: "holdId", message: "is required when there are no items")]) }
            return try await checkout(holdID: holdID, method: method, idempotencyKey: idempotencyKey, fan: fan, accessToken: accessToken)
        }
        if let addressID, try await !deliveries.isAddress(addressID, ofFan: fan.userID) {
            throw Problem.validation([.init(field: "addressId", message: "is not one of your addresses")])
        }
        let basket = Basket(holdID: holdID, items: items, couponID: couponID, addressID: addressID)
        let result =
            switch method {
            case .wallet: try await walletCheckout(basket, key: idempotencyKey, fan: fan, accessToken: accessToken)
            case .gateway: try await gatewayCheckout(basket, key: idempotencyKey, fan: fan, accessToken: accessToken)
            }
        logger.info("checkout", metadata: [
            "hold_id": .string(holdID ?? "-"), "goods_lines": .stringConvertible(items.count), "fan_id": .string(fan.userID),
            "method": .string(method.rawValue), "status": .stringConvertible(result.status),
        ])
        return result
    }

    /// Pays for a hold; returns the HTTP status and JSON body, which a retry with the same
    /// `idempotencyKey` gets back byte for byte.
    /// `accessToken` is the waiting room's admission (`Queue-Access`), when the performance has one.
    public func checkout(
        holdID: String, method: Method, idempotencyKey: String, fan: Principal, accessToken: String? = nil
    ) async throws -> (status: Int, body: String) {
        let scope = "checkout/\(fan.userID)"
        let fingerprint = CheckoutFingerprint(holdId: holdID, method: method.rawValue)
        let result =
            switch method {
            case .wallet:
                try await walletCheckout(holdID: holdID, scope: scope, key: idempotencyKey, fingerprint: fingerprint, fan: fan, accessToken: accessToken)
            case .gateway:
                try await gatewayCheckout(holdID: holdID, scope: scope, key: idempotencyKey, fingerprint: fingerprint, fan: fan, accessToken: accessToken)
            }
        logger.info("checkout", metadata: [
            "hold_id": .string(holdID), "fan_id": .string(fan.userID), "method": .string(method.rawValue),
            "status": .stringConvertible(result.status),
        ])
        return result
    }

    /// One transaction: the key claimed, the hold priced and locked, tickets, debit, order — and
    /// the answer built from what it wrote (nothing is read back).
    private func walletCheckout(
        holdID: String, scope: String, key: String, fingerprint: CheckoutFingerprint, fan: Principal, accessToken: String?
    ) async throws -> (status: Int, body: String) {
        let now = clock.now()
        return try await database.withTransaction { transaction -> (status: Int, body: String) in
            if let replay = try await IdempotencyKeys.claim(scope: scope, key: key, request: fingerprint, now: now, in: transaction) {
                return (replay.status, replay.body)
            }
            let hold = try await self.tickets.pricedHold(id: holdID, fan: fan, in: transaction)
            try await self.requireAdmission(to: hold, fan: fan, accessToken: accessToken)
            let orderID = self.ids.next()
            let issued = try await self.tickets.issueTickets(for: hold, orderID: orderID, in: transaction)
            // The order before the debit: a hold already being paid at the gateway is a 409, whatever the wallet holds.
            let opened = try await self.openOrder(
                id: orderID, for: hold, method: .wallet, status: "paid", tickets: issued, payments: [],
                note: "Paid \(hold.total.amount) \(hold.total.currency.rawValue) from the wallet.", at: now, in: transaction)
            let payment = try await self.payments.payWithWallet(userID: fan.userID, amount: hold.total, orderID: orderID, in: transaction)
            let order = opened.paid(by: payment)
            let body = String(decoding: try JSONCoding.encoder.encode(CheckoutResult(order: order, tickets: issued)), as: UTF8.self)
            try await IdempotencyKeys.record(scope: scope, key: key, status: 201, body: body, in: transaction)
            return (201, body)
        }
    }

    /// A valid Queue-Access token when the performance sells through a waiting room; not a
    /// running session: paying ends the session, and a retried checkout must still get its first answer.
    func requireAdmission(to hold: PricedHold, fan: Principal, accessToken: String?) async throws {
        try await admission.requireAdmission(
            performanceID: hold.performanceID, fanID: fan.userID, accessToken: accessToken, sessionMustBeRunning: false)
    }

    /// Registers the payment at the gateway (outside any transaction: it is a network call),
    /// then records the pending order and keeps the hold while the fan pays. The gateway's
    /// confirmation finishes the order (`settleGatewayPayment`).
    private func gatewayCheckout(
        holdID: String, scope: String, key: String, fingerprint: CheckoutFingerprint, fan: Principal, accessToken: String?
    ) async throws -> (status: Int, body: String) {
        if let replay = try await database.read({ sql in
            try await IdempotencyKeys.recorded(scope: scope, key: key, request: fingerprint, in: sql)
        }) {
            return (replay.status, replay.body)
        }
        let quote = try await database.withTransaction { transaction in
            let hold = try await self.tickets.pricedHold(id: holdID, fan: fan, in: transaction)
            try await self.requireAdmission(to: hold, fan: fan, accessToken: accessToken)
            try await self.requireNoLiveOrder(holdID: holdID, in: transaction)
            return hold
        }
        let paymentID = ids.next()
        let intent = try await payments.prepareAtGateway(
            paymentID: paymentID, amount: quote.total, orderName: "\(quote.items.count) ticket\(quote.items.count == 1 ? "" : "s")",
            userID: fan.userID)
        let now = clock.now()
        return try await database.withTransaction { transaction -> (status: Int, body: String) in
            if let replay = try await IdempotencyKeys.claim(scope: scope, key: key, request: fingerprint, now: now, in: transaction) {
                return (replay.status, replay.body)
            }
            let hold = try await self.tickets.pricedHold(id: holdID, fan: fan, in: transaction)
            guard hold.total == quote.total else {
                throw Problem.conflict(detail: "The price changed while the payment was being set up; try again.", slug: "price-changed")
            }
            let orderID = self.ids.next()
            let payment = try await self.payments.recordPendingGatewayPayment(
                id: paymentID, userID: fan.userID, orderID: orderID, purpose: "order", amount: hold.total, in: transaction)
            // Kept while the fan pays, but bounded: failed attempts cannot keep seats forever.
            let keepFor = self.gatewayHoldMinutes * 60
            try await self.tickets.keepHoldForPayment(
                holdID: holdID, until: min(now.addingTimeInterval(keepFor), hold.createdAt.addingTimeInterval(2 * keepFor)), in: transaction)
            let order = try await self.openOrder(
                id: orderID, for: hold, method: .gateway, status: "pending_payment", tickets: [], payments: [payment],
                note: "Waiting for \(hold.total.amount) \(hold.total.currency.rawValue) at the payment gateway.", at: now, in: transaction)
            let body = String(decoding: try JSONCoding.encoder.encode(GatewayCheckoutStarted(order: order, paymentIntent: intent)), as: UTF8.self)
            try await IdempotencyKeys.record(scope: scope, key: key, status: 202, body: body, in: transaction)
            return (202, body)
        }
    }

    /// Finishes a gateway order once its payment is settled (from `payment.completed` or
    /// `payment.failed`, in the relay's transaction). Paid while the hold is still active:
    /// tickets. Paid after the hold ended: the order is cancelled and the money given back
    /// (compensation), and its history says why. Failed: the order says so; the hold stays
    /// until it runs out, so the fan can pay again.
    /// `reconciled` says the reconciler found the order stuck (its payment's event never came);
    /// the history says so. Returns whether this call moved the order on.
    @discardableResult
    func settleGatewayPayment(
        orderID: String, paid: Bool, reason: String?, reconciled: Bool = false, in transaction: DatabaseTransaction
    ) async throws -> Bool {
        guard let row = try await lockedOrder(id: orderID, in: transaction),
              try row.decode(column: "status", as: String.self) == "pending_payment"
        else { return false }
        let now = clock.now()
        if reconciled {
            try await recordHistory(
                orderID: orderID, status: "pending_payment",
                note: "Checked with the payment gateway after the payment's confirmation did not arrive: it is \(paid ? "paid" : "not paid").",
                at: now, in: transaction)
        }
        let fan = Principal(userID: try row.decode(column: "fan_id", as: String.self), roles: [.fan])
        let holdID = try row.decode(column: "hold_id", as: String.self)
        let hasSeats = !Self.isGoodsOnlyKey(holdID)
        guard paid else {
            try await setStatus("payment_failed", orderID: orderID, at: now, in: transaction)
            try await products.release(orderID: orderID, in: transaction)
            try await coupons.giveBack(orderID: orderID, in: transaction)
            try await recordHistory(
                orderID: orderID, status: "payment_failed",
                note: hasSeats
                    ? "The payment failed (\(reason ?? "declined")); the seats stay held until the hold runs out, so you can pay again."
                    : "The payment failed (\(reason ?? "declined")); the goods went back on sale.",
                at: now, in: transaction)
            return true
        }
        var hold: PricedHold?
        if hasSeats {
            do {
                hold = try await tickets.pricedHold(id: holdID, fan: fan, in: transaction)
            } catch let problem as Problem where problem.status == 409 {
                try await products.release(orderID: orderID, in: transaction)
                try await refundLatePayment(
                    orderID: orderID, row: row, reason: "the hold ended before the payment arrived",
                    note: "The payment arrived after the hold had ended and its seats were released, so no tickets were issued; the full amount is being refunded.",
                    at: now, in: transaction)
                logger.notice("late gateway payment refunded", metadata: ["order_id": .string(orderID), "hold_id": .string(holdID)])
                return true
            }
        }
        guard try await products.confirm(orderID: orderID, fanID: fan.userID, in: transaction) else {
            try await refundLatePayment(
                orderID: orderID, row: row, reason: "the goods went back on sale before the payment arrived",
                note: "The payment arrived after the goods it was for had gone back on sale, so nothing was bought; the full amount is being refunded.",
                at: now, in: transaction)
            logger.notice("late gateway payment for goods refunded", metadata: ["order_id": .string(orderID)])
            return true
        }
        if let hold {
            let issued = try await tickets.issueTickets(for: hold, orderID: orderID, in: transaction)
            try await OrderStatements.insertItems(orderID: orderID, tickets: issued, in: transaction)
        }
        try await announcePaidGoods(orderID: orderID, fanID: fan.userID, hasTickets: hold != nil, at: now, in: transaction)
        let paidTotal = try row.decode(column: "total_amount", as: Int64.self)
        try await setStatus("paid", orderID: orderID, at: now, in: transaction)
        try await recordHistory(
            orderID: orderID, status: "paid", note: "Paid \(paidTotal) \(try row.decode(column: "currency", as: String.self)) at the payment gateway.",
            at: now, in: transaction)
        return true
    }

    /// A gateway payment that came too late for what it was for: the order is cancelled and
    /// the whole amount goes back (compensation).
    private func refundLatePayment(
        orderID: String, row: any SQLRow, reason: String, note: String, at now: Date, in transaction: DatabaseTransaction
    ) async throws {
        let total = try row.decode(column: "total_amount", as: Int64.self)
        try await setStatus("cancelled", orderID: orderID, at: now, in: transaction)
        try await coupons.giveBack(orderID: orderID, in: transaction)
        _ = try await payments.refund(orderID: orderID, amount: total, reason: reason, in: transaction)
        try await transaction.sql.raw("UPDATE orders SET refunded_amount = \(bind: total) WHERE id = \(bind: orderID)").run()
        try await recordHistory(orderID: orderID, status: "cancelled", note: note, at: now, in: transaction)
    }

    /// Writes the order with its items and its first history entry, and answers it as written;
    /// a 409 when the hold already has a live order (nothing is then kept: the caller's
    /// transaction rolls back). The hold is locked, so two checkouts of it cannot both get here.
    private func openOrder(
        id orderID: String, for hold: PricedHold, method: Method, status: String, tickets issued: [Ticket], payments: [Payment], note: String,
        at now: Date, in transaction: DatabaseTransaction
    ) async throws -> Order {
        let draft = OrderStatements.Draft(
            id: orderID, hold: hold, method: method.rawValue, status: status, tickets: issued, historyID: ids.next(), note: note, at: now)
        let opened =
            if transaction.dialect == .postgres {
                try await transaction.execute(OrderStatements.OpenOrder(draft: draft)).first == 1
            } else {
                try await OrderStatements.open(draft, in: transaction)
            }
        if !opened {
            // Says which order it is (the caller's transaction rolls back whatever was written).
            try await requireNoLiveOrder(holdID: hold.holdID, in: transaction)
            throw Problem.conflict(detail: "This hold is already being paid for.", slug: "order-exists")
        }
        let items = Order.Item.issued(issued)
        return Order(
            id: orderID, status: status, performanceId: hold.performanceID, holdId: hold.holdID, method: method.rawValue, items: items,
            goods: [], total: hold.total, discount: .zero(hold.total.currency), couponId: nil, shippingFee: .zero(hold.total.currency),
            addressId: nil, shipment: nil, refunded: .zero(hold.total.currency), payments: payments, refunds: [],
            history: [Order.HistoryEntry(status: status, note: note, at: now)], createdAt: now)
    }

    func requireNoLiveOrder(holdID: String, in transaction: DatabaseTransaction) async throws {
        if let existing = try await transaction.sql.raw("""
            SELECT id, status FROM orders WHERE hold_id = \(bind: holdID) AND status <> 'payment_failed'
            """).first() {
            throw Problem(
                type: Problem.typeURI("order-exists"), title: "This hold is already being paid for.", status: 409,
                detail: "Order \(try existing.decode(column: "id", as: String.self)) is \(try existing.decode(column: "status", as: String.self)).",
                extensions: ["orderId": .string(try existing.decode(column: "id", as: String.self))])
        }
    }

    func setStatus(_ status: String, orderID: String, at now: Date, in transaction: DatabaseTransaction) async throws {
        try await transaction.sql.raw("""
            UPDATE orders SET status = \(bind: status), updated_at = \(bind: now) WHERE id = \(bind: orderID)
            """).run()
    }

    // MARK: Orders

    /// An order waiting for its gateway payment, as the reconciler sees it.
    public struct AwaitingOrder: Sendable {
        public let id: String
        public let createdAt: Date
    }

    /// Orders still waiting for payment that were opened before `cutoff`, oldest first.
    public func ordersAwaitingPayment(since cutoff: Date, limit: Int = 100) async throws -> [AwaitingOrder] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT id, created_at FROM orders WHERE status = 'pending_payment' AND created_at < \(bind: cutoff)
                ORDER BY created_at LIMIT \(bind: limit)
                """).all().map {
                    AwaitingOrder(id: try $0.decode(column: "id", as: String.self), createdAt: try $0.decode(column: "created_at", as: Date.self))
                }
        }
    }

    public func orders(fan: Principal, page: PageRequest) async throws -> Page<Order> {
        let after = try page.cursor.map { try Cursor.decode($0, as: String.self) }
        let orders = try await database.read { sql in
            var query: SQLQueryString = "SELECT id FROM orders WHERE fan_id = \(bind: fan.userID)"
            if let after { query += " AND id < \(bind: after)" }
            query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
            var orders: [Order] = []
            for row in try await sql.raw(query).all() {
                orders.append(try await self.loadOrder(id: try row.decode(column: "id", as: String.self), in: sql))
            }
            return orders
        }
        var shown: [Order] = []
        for var order in orders {
            if order.addressId != nil { order.shipment = try await deliveries.shipment(forOrder: order.id) }
            shown.append(order)
        }
        return Page(rows: shown, request: page) { Cursor.encode($0.id) }
    }

    /// One order, for the fan who placed it, or for whom `organizes` says runs its performance.
    public func order(
        id: String, viewer: Principal, organizes: @Sendable (_ performanceID: String) async throws -> Bool = { _ in false }
    ) async throws -> Order {
        let found = try await database.read { sql in
            try await sql.raw("SELECT fan_id, performance_id FROM orders WHERE id = \(bind: id)").first()
        }
        guard let found else { throw Problem.notFound(detail: "No such order.") }
        let owner = try found.decode(column: "fan_id", as: String.self)
        if owner != viewer.userID, !viewer.has(.admin), try await !organizes(try found.decode(column: "performance_id", as: String.self)) {
            throw Problem.notFound(detail: "No such order.")
        }
        var order = try await database.read { sql in try await self.loadOrder(id: id, in: sql) }
        if order.addressId != nil { order.shipment = try await deliveries.shipment(forOrder: id) }
        return order
    }

    /// The receipts of many orders in three queries, for whoever tells fans about them (mail)
    /// at an on-sale's pace: keyed by order; an unknown ID is left out.
    public func receipts(orderIDs: [String]) async throws -> [String: OrderReceipt] {
        var receipts: [String: OrderReceipt] = [:]
        for chunk in Array(Set(orderIDs)).chunked(500) {
            let ids = SQLQueryString.list(Array(chunk))
            try await database.read { sql in
                var items: [String: [Order.Item]] = [:]
                for row in try await sql.raw("""
                    SELECT order_id, \(unsafeRaw: Self.itemColumns) FROM order_items WHERE order_id IN \(ids) ORDER BY seat_label, ticket_id
                    """).all() {
                    items[try row.decode(column: "order_id", as: String.self), default: []].append(try Self.item(row))
                }
                var goods: [String: [Order.GoodsItem]] = [:]
                for row in try await sql.raw("""
                    SELECT order_id, \(unsafeRaw: Self.goodsColumns) FROM order_goods WHERE order_id IN \(ids) ORDER BY reservation_id
                    """).all() {
                    goods[try row.decode(column: "order_id", as: String.self), default: []].append(try Self.goodsItem(row))
                }
                for row in try await sql.raw("""
                    SELECT id, method, total_amount, discount_amount, currency, address_id FROM orders WHERE id IN \(ids)
                    """).all() {
                    let id = try row.decode(column: "id", as: String.self)
                    let currency = Currency(rawValue: try row.decode(column: "currency", as: String.self)) ?? .krw
                    receipts[id] = OrderReceipt(
                        orderId: id, method: try row.decode(column: "method", as: String.self),
                        total: Money(amount: try row.decode(column: "total_amount", as: Int64.self), currency: currency),
                        discount: Money(amount: try row.decode(column: "discount_amount", as: Int64.self), currency: currency), items: items[id] ?? [],
                        goods: goods[id] ?? [], addressId: try row.decode(column: "address_id", as: String?.self))
                }
            }
        }
        return receipts
    }

    // MARK: Cancelling

    /// The fan cancels some tickets or goods of an order (or all of it): tickets within the
    /// performance's refund window, less its cancellation fee; goods at any time before they
    /// ship, in full. The money goes back the way it was paid; seats and goods go back on sale.
    public func cancel(orderID: String, ticketIDs: [String]?, goodsIDs: [String]? = nil, by fan: Principal) async throws -> Order {
        let now = clock.now()
        let order = try await database.withTransaction { transaction in
            let scope = try await self.cancellationScope(orderID: orderID, ticketIDs: ticketIDs, goodsIDs: goodsIDs, fan: fan, in: transaction)
            if scope.tickets {
                let plan = try await self.cancellationPlan(orderID: orderID, ticketIDs: ticketIDs, fan: fan, at: now, in: transaction)
                try await self.cancel(
                    orderID: orderID, ticketIDs: plan.ticketIDs, onlyHeldBy: fan.userID, feePercent: plan.feePercent,
                    reason: "cancelled by the fan", at: now, in: transaction)
            }
            if !scope.goods.isEmpty {
                try await self.cancelGoods(orderID: orderID, lines: scope.goods, reason: "cancelled by the fan", at: now, in: transaction)
            }
            return try await self.loadOrder(id: orderID, in: transaction.sql)
        }
        logger.info("order cancelled", metadata: [
            "order_id": .string(orderID), "tickets": .stringConvertible(ticketIDs?.count ?? -1), "goods": .stringConvertible(goodsIDs?.count ?? -1),
        ])
        return order
    }

    /// What `cancel` would give back for the same tickets and goods, under the same rules,
    /// changing nothing: so a fan sees the fee and the refund before deciding.
    public func cancellationQuote(orderID: String, ticketIDs: [String]?, goodsIDs: [String]? = nil, by fan: Principal) async throws -> CancellationQuote {
        let now = clock.now()
        return try await database.withTransaction { transaction in
            let scope = try await self.cancellationScope(orderID: orderID, ticketIDs: ticketIDs, goodsIDs: goodsIDs, fan: fan, in: transaction)
            var chosenTickets: [String] = []
            var ticketGross = Money.zero(scope.currency)
            var fee = Money.zero(scope.currency)
            var feePercent = 0
            var deadline: Date?
            if scope.tickets {
                let plan = try await self.cancellationPlan(orderID: orderID, ticketIDs: ticketIDs, fan: fan, at: now, in: transaction)
                let prices = try await self.tickets.cancellablePrices(
                    ticketIDs: plan.ticketIDs, orderID: orderID, onlyHeldBy: fan.userID, in: transaction)
                ticketGross = try Money.sum(prices, currency: plan.currency)
                fee = try Self.refundSplit(of: ticketGross, feePercent: plan.feePercent).fee
                chosenTickets = plan.ticketIDs
                feePercent = plan.feePercent
                deadline = plan.deadline
            }
            let goodsGross = try Money.sum(scope.goods.map(\.paid), currency: scope.currency)
            let gross = try ticketGross.adding(goodsGross)
            return CancellationQuote(
                orderId: orderID, ticketIds: chosenTickets, goodsIds: scope.goods.map(\.id), gross: gross, fee: fee,
                refund: try gross.subtracting(fee), feePercent: feePercent, deadline: deadline, method: scope.method)
        }
    }

    /// What a cancellation touches: whether tickets are part of it, and which goods lines.
    private struct CancellationScope {
        let tickets: Bool
        let goods: [Order.GoodsItem]
        let method: String
        let currency: Currency
    }

    /// Without ticket and goods IDs the whole order: every ticket (if any is left) and every
    /// active goods line. A 409 when nothing is left to cancel, or the order is not paid.
    private func cancellationScope(
        orderID: String, ticketIDs: [String]?, goodsIDs: [String]?, fan: Principal, in transaction: DatabaseTransaction
    ) async throws -> CancellationScope {
        guard let row = try await lockedOrder(id: orderID, in: transaction) else { throw Problem.notFound(detail: "No such order.") }
        try fan.requireOwnership(of: try row.decode(column: "fan_id", as: String.self), resource: "order")
        let whole = ticketIDs == nil && goodsIDs == nil
        let hasSeats = !Self.isGoodsOnlyKey(try row.decode(column: "hold_id", as: String.self))
        var tickets = ticketIDs != nil
        if whole && hasSeats { tickets = !(try await activeTicketIDs(orderID: orderID, in: transaction)).isEmpty }
        let status = try row.decode(column: "status", as: String.self)
        var active: [Order.GoodsItem] = []
        if OrderStatus.goodsCancellable.contains(status) {
            active = try await Self.goodsItems(orderID: orderID, in: transaction.sql).filter { $0.status == "active" }
        }
        var goods: [Order.GoodsItem] = []
        if let goodsIDs {
            guard !goodsIDs.isEmpty else { throw Problem.validation([.init(field: "goodsIds", message: "names no goods")]) }
            let byID = Dictionary(uniqueKeysWithValues: active.map { ($0.id, $0) })
            let unknown = goodsIDs.enumerated().filter { byID[$0.element] == nil }
            guard unknown.isEmpty else {
                throw Problem.validation(unknown.map { .init(field: "goodsIds[\($0.offset)]", message: "is not an active goods line of this order") })
            }
            var seen = Set<String>()
            goods = goodsIDs.filter { seen.insert($0).inserted }.compactMap { byID[$0] }
        } else if whole {
            goods = active
        }
        if !tickets && goods.isEmpty {
            throw Problem.conflict(detail: "Nothing of this order is left for you to cancel.", slug: "order-cancelled")
        }
        return CancellationScope(
            tickets: tickets, goods: goods, method: try row.decode(column: "method", as: String.self),
            currency: Currency(rawValue: try row.decode(column: "currency", as: String.self)) ?? .krw)
    }

    /// Which tickets a fan's cancellation takes and at what fee: the rules `cancel` and
    /// `cancellationQuote` share.
    private struct CancellationPlan {
        let ticketIDs: [String]
        let feePercent: Int
        let deadline: Date?
        let method: String
        let currency: Currency
    }

    private func cancellationPlan(
        orderID: String, ticketIDs: [String]?, fan: Principal, at now: Date, in transaction: DatabaseTransaction
    ) async throws -> CancellationPlan {
        guard let row = try await lockedOrder(id: orderID, in: transaction) else { throw Problem.notFound(detail: "No such order.") }
        try fan.requireOwnership(of: try row.decode(column: "fan_id", as: String.self), resource: "order")
        let performanceID = try row.decode(column: "performance_id", as: String.self)
        let active = try await activeTicketIDs(orderID: orderID, in: transaction)
        // The whole order means every ticket the fan still holds; one passed on is not theirs to cancel.
        let chosen: [String]
        if let ticketIDs {
            guard !ticketIDs.isEmpty else { throw Problem.validation([.init(field: "ticketIds", message: "names no ticket")]) }
            let unknown = ticketIDs.enumerated().filter { !active.contains($0.element) }
            guard unknown.isEmpty else {
                throw Problem.validation(unknown.map { .init(field: "ticketIds[\($0.offset)]", message: "is not an active ticket of this order") })
            }
            var seen = Set<String>()
            chosen = ticketIDs.filter { seen.insert($0).inserted }
        } else {
            chosen = try await tickets.ticketIDs(among: active, heldBy: fan.userID, in: transaction)
        }
        guard !chosen.isEmpty else {
            throw Problem.conflict(detail: "No ticket of this order is left for you to cancel: each is cancelled or was transferred.", slug: "order-cancelled")
        }
        let policy = try await tickets.refundPolicy(performanceID: performanceID, in: transaction)
        // A performance that will not take place refunds in full, at any time.
        let deadline = policy.deadline
        if let deadline, now >= deadline {
            let stamp = deadline.formatted(Date.ISO8601FormatStyle())
            throw Problem(
                type: Problem.typeURI("refund-window-closed"), title: "Too late to cancel.", status: 409,
                detail: "Tickets for this performance could be cancelled until \(stamp).", extensions: ["deadline": .string(stamp)])
        }
        return CancellationPlan(
            ticketIDs: chosen, feePercent: policy.performanceCancelled ? 0 : policy.feePercent, deadline: deadline,
            method: try row.decode(column: "method", as: String.self),
            currency: Currency(rawValue: try row.decode(column: "currency", as: String.self)) ?? .krw)
    }

    /// A cancellation's money: the fee is the policy's percentage of the price (rounded down,
    /// in the fan's favour), and the rest goes back.
    static func refundSplit(of gross: Money, feePercent: Int) throws -> (fee: Money, refund: Money) {
        let fee = try gross.percentage(feePercent)
        return (fee, Money(amount: gross.amount - fee.amount, currency: gross.currency))
    }

    /// Cancels every paid order of performances that will not take place, with a full refund.
    /// Runs in the relay's transaction when the catalog cancels an event.
    func refundEveryOrder(ofPerformances performanceIDs: [String], in transaction: DatabaseTransaction) async throws {
        guard !performanceIDs.isEmpty else { return }
        let now = clock.now()
        let orders = try await transaction.sql.raw("""
            SELECT id FROM orders WHERE performance_id IN \(SQLQueryString.list(performanceIDs))
              AND status IN \(SQLQueryString.list(OrderStatus.live)) ORDER BY id
            """).all().map { try $0.decode(column: "id", as: String.self) }
        for orderID in orders {
            let active = try await activeTicketIDs(orderID: orderID, in: transaction)
            guard !active.isEmpty else { continue }
            try await cancel(orderID: orderID, ticketIDs: active, feePercent: 0, reason: "the performance was cancelled", at: now, in: transaction)
        }
        if !orders.isEmpty { logger.notice("refunded orders of a cancelled performance", metadata: ["orders": .stringConvertible(orders.count)]) }
    }

    private func cancel(
        orderID: String, ticketIDs: [String], onlyHeldBy holderID: String? = nil, feePercent: Int, reason: String, at now: Date,
        in transaction: DatabaseTransaction
    ) async throws {
        let cancelled = try await tickets.cancel(ticketIDs: ticketIDs, orderID: orderID, onlyHeldBy: holderID, in: transaction)
        guard !cancelled.isEmpty else { return }
        let split = try Self.refundSplit(of: try Money.sum(cancelled.map(\.price), currency: cancelled[0].price.currency), feePercent: feePercent)
        let fee = split.fee.amount, refunded = split.refund.amount
        _ = try await payments.refund(orderID: orderID, amount: refunded, reason: reason, in: transaction)
        try await transaction.sql.raw("""
            UPDATE order_items SET status = 'cancelled' WHERE order_id = \(bind: orderID) AND ticket_id IN \(SQLQueryString.list(cancelled.map(\.id)))
            """).run()
        let status = try await statusAfterCancelling(orderID: orderID, in: transaction)
        try await transaction.sql.raw("""
            UPDATE orders SET status = \(bind: status), refunded_amount = refunded_amount + \(bind: refunded), updated_at = \(bind: now)
            WHERE id = \(bind: orderID)
            """).run()
        let currency = cancelled[0].price.currency.rawValue
        var note = "\(cancelled.count) ticket\(cancelled.count == 1 ? "" : "s") \(reason); \(refunded) \(currency) refunded"
        if fee > 0 { note += " (cancellation fee \(fee) \(currency))" }
        try await recordHistory(orderID: orderID, status: status, note: note + ".", at: now, in: transaction)
    }

    // MARK: Rows

    func lockedOrder(id: String, in transaction: DatabaseTransaction) async throws -> (any SQLRow)? {
        let lock = transaction.dialect == .postgres ? " FOR UPDATE" : ""
        return try await transaction.sql.raw("""
            SELECT fan_id, performance_id, hold_id, status, method, total_amount, currency FROM orders WHERE id = \(bind: id)\(unsafeRaw: lock)
            """).first()
    }

    func activeTicketIDs(orderID: String, in transaction: DatabaseTransaction) async throws -> [String] {
        try await transaction.sql.raw("""
            SELECT ticket_id FROM order_items WHERE order_id = \(bind: orderID) AND status = 'active' ORDER BY seat_label, ticket_id
            """).all().map { try $0.decode(column: "ticket_id", as: String.self) }
    }

    func recordHistory(orderID: String, status: String, note: String?, at now: Date, in transaction: DatabaseTransaction) async throws {
        try await transaction.sql.raw("""
            INSERT INTO order_history (id, order_id, status, note, at)
            VALUES (\(bind: ids.next()), \(bind: orderID), \(bind: status), \(bind: note), \(bind: now))
            """).run()
    }

    /// The columns `item` reads.
    private static let itemColumns = "ticket_id, seat_id, seat_label, tier, price_amount, currency, status"

    /// A ticket line of an order, from a row of `order_items`.
    private static func item(_ row: any SQLRow) throws -> Order.Item {
        Order.Item(
            ticketId: try row.decode(column: "ticket_id", as: String.self), seatId: try row.decode(column: "seat_id", as: String?.self),
            label: try row.decode(column: "seat_label", as: String?.self), tier: try row.decode(column: "tier", as: String.self),
            price: Money(
                amount: try row.decode(column: "price_amount", as: Int64.self),
                currency: Currency(rawValue: try row.decode(column: "currency", as: String.self)) ?? .krw),
            status: try row.decode(column: "status", as: String.self))
    }

    private func loadOrder(id: String, in sql: any SQLDatabase) async throws -> Order {
        guard let row = try await sql.raw("""
            SELECT id, status, performance_id, hold_id, method, total_amount, refunded_amount, discount_amount, coupon_id, address_id,
                   shipping_fee_amount, currency, created_at
            FROM orders WHERE id = \(bind: id)
            """).first()
        else { throw Problem.notFound(detail: "No such order.") }
        let currency = Currency(rawValue: try row.decode(column: "currency", as: String.self)) ?? .krw
        let items = try await sql.raw("""
            SELECT \(unsafeRaw: Self.itemColumns) FROM order_items WHERE order_id = \(bind: id) ORDER BY seat_label, ticket_id
            """).all().map(Self.item)
        let history = try await sql.raw("""
            SELECT status, note, at FROM order_history WHERE order_id = \(bind: id) ORDER BY id
            """).all().map { entry in
                Order.HistoryEntry(
                    status: try entry.decode(column: "status", as: String.self), note: try entry.decode(column: "note", as: String?.self),
                    at: try entry.decode(column: "at", as: Date.self))
            }
        let goods = try await Self.goodsItems(orderID: id, in: sql)
        let money = try await payments.money(forOrder: id, in: sql)
        let holdID = try row.decode(column: "hold_id", as: String.self)
        let goodsOnly = Self.isGoodsOnlyKey(holdID)
        return Order(
            id: id, status: try row.decode(column: "status", as: String.self),
            performanceId: goodsOnly ? nil : try row.decode(column: "performance_id", as: String.self), holdId: goodsOnly ? nil : holdID,
            method: try row.decode(column: "method", as: String.self), items: items, goods: goods,
            total: Money(amount: try row.decode(column: "total_amount", as: Int64.self), currency: currency),
            discount: Money(amount: try row.decode(column: "discount_amount", as: Int64.self), currency: currency),
            couponId: try row.decode(column: "coupon_id", as: String?.self),
            shippingFee: Money(amount: try row.decode(column: "shipping_fee_amount", as: Int64.self), currency: currency),
            addressId: try row.decode(column: "address_id", as: String?.self), shipment: nil,
            refunded: Money(amount: try row.decode(column: "refunded_amount", as: Int64.self), currency: currency),
            payments: money.payments, refunds: money.refunds, history: history, createdAt: try row.decode(column: "created_at", as: Date.self))
    }
}
