import BoxofficeKit
import Commerce
import Foundation
import HTTPKit
import Messaging
import Payments
import Persistence
import Reservations
import SQLKit

/// What one checkout pays for when goods are in it: a seat hold (or none) and lines of goods.
struct Basket: Sendable {
    let holdID: String?
    let items: [GoodsRequest]
    /// A coupon the fan holds, off the goods it covers.
    let couponID: String?
    /// Where the goods go (for the shipping fee); nil: picked up at the venue.
    let addressID: String?

    func fingerprint(_ method: CheckoutService.Method) -> CheckoutService.BasketFingerprint {
        CheckoutService.BasketFingerprint(holdId: holdID, items: items, couponId: couponID, addressId: addressID, method: method.rawValue)
    }

    var shippingFee: Money { addressID == nil ? .zero(.krw) : CheckoutService.shippingFee }
}

/// Orders with goods: one order and one payment for the seats and the goods together. The
/// tickets-only checkout keeps its own faster path (`checkout(holdID:…)`); this one runs the
/// same steps with the stock taken beside the seats, in the same transaction.
extension CheckoutService {
    /// The `hold_id` of an order without seats: its own, so the one-live-order-per-hold index holds.
    static func goodsOnlyKey(orderID: String) -> String { "goods:\(orderID)" }
    static func isGoodsOnlyKey(_ holdID: String) -> Bool { holdID.hasPrefix("goods:") }

    func walletCheckout(_ basket: Basket, key: String, fan: Principal, accessToken: String?) async throws -> (status: Int, body: String) {
        let scope = "checkout/\(fan.userID)"
        let now = clock.now()
        return try await database.withTransaction { transaction -> (status: Int, body: String) in
            if let replay = try await IdempotencyKeys.claim(scope: scope, key: key, request: basket.fingerprint(.wallet), now: now, in: transaction) {
                return (replay.status, replay.body)
            }
            let hold = try await self.payableHold(basket, fan: fan, accessToken: accessToken, in: transaction)
            let orderID = self.ids.next()
            let goods = try await self.products.reserve(basket.items, fanID: fan.userID, orderID: orderID, heldUntil: nil, in: transaction)
            var coupon: AppliedCoupon?
            if let couponID = basket.couponID {
                coupon = try await self.coupons.use(couponID: couponID, fanID: fan.userID, orderID: orderID, goods: goods, in: transaction)
            }
            var issued: [Ticket] = []
            if let hold { issued = try await self.tickets.issueTickets(for: hold, orderID: orderID, in: transaction) }
            let total = try Self.total(hold: hold, goods: goods, coupon: coupon, basket: basket)
            let opened = try await self.openBasketOrder(
                id: orderID, fanID: fan.userID, hold: hold, goods: goods, coupon: coupon, basket: basket, total: total, method: .wallet,
                status: "paid", tickets: issued, payments: [], note: "Paid \(total.amount) \(total.currency.rawValue) from the wallet.", at: now,
                in: transaction)
            try await self.announcePaidGoods(orderID: orderID, fanID: fan.userID, hasTickets: hold != nil, at: now, in: transaction)
            let payment = try await self.payments.payWithWallet(userID: fan.userID, amount: total, orderID: orderID, in: transaction)
            let body = String(
                decoding: try JSONCoding.encoder.encode(CheckoutResult(order: opened.paid(by: payment), tickets: issued)), as: UTF8.self)
            try await IdempotencyKeys.record(scope: scope, key: key, status: 201, body: body, in: transaction)
            return (201, body)
        }
    }

    /// Registers the whole amount at the gateway first (a network call, outside any
    /// transaction), then takes the stock, keeps the hold and records the pending order; the
    /// goods stay reserved while the fan pays, and go back on sale if the payment never comes.
    func gatewayCheckout(_ basket: Basket, key: String, fan: Principal, accessToken: String?) async throws -> (status: Int, body: String) {
        let scope = "checkout/\(fan.userID)"
        let fingerprint = basket.fingerprint(.gateway)
        if let replay = try await database.read({ sql in
            try await IdempotencyKeys.recorded(scope: scope, key: key, request: fingerprint, in: sql)
        }) {
            return (replay.status, replay.body)
        }
        let quoted = try await database.withTransaction { transaction in
            let hold = try await self.payableHold(basket, fan: fan, accessToken: accessToken, in: transaction)
            let goods = try await self.products.quote(basket.items, in: transaction.sql)
            var coupon: AppliedCoupon?
            if let couponID = basket.couponID {
                coupon = try await self.coupons.quote(couponID: couponID, fanID: fan.userID, goods: goods, in: transaction.sql)
            }
            return try Self.total(hold: hold, goods: goods, coupon: coupon, basket: basket)
        }
        let paymentID = ids.next()
        let seats = basket.holdID == nil ? "" : "Tickets and "
        let intent = try await payments.prepareAtGateway(
            paymentID: paymentID, amount: quoted, orderName: "\(seats)\(basket.items.count) goods item\(basket.items.count == 1 ? "" : "s")",
            userID: fan.userID)
        let now = clock.now()
        return try await database.withTransaction { transaction -> (status: Int, body: String) in
            if let replay = try await IdempotencyKeys.claim(scope: scope, key: key, request: fingerprint, now: now, in: transaction) {
                return (replay.status, replay.body)
            }
            let hold = try await self.payableHold(basket, fan: fan, accessToken: accessToken, in: transaction)
            let orderID = self.ids.next()
            let keepFor = self.gatewayHoldMinutes * 60
            let goods = try await self.products.reserve(
                basket.items, fanID: fan.userID, orderID: orderID, heldUntil: now.addingTimeInterval(keepFor), in: transaction)
            var coupon: AppliedCoupon?
            if let couponID = basket.couponID {
                coupon = try await self.coupons.use(couponID: couponID, fanID: fan.userID, orderID: orderID, goods: goods, in: transaction)
            }
            let total = try Self.total(hold: hold, goods: goods, coupon: coupon, basket: basket)
            guard total == quoted else {
                throw Problem.conflict(detail: "The price changed while the payment was being set up; try again.", slug: "price-changed")
            }
            let payment = try await self.payments.recordPendingGatewayPayment(
                id: paymentID, userID: fan.userID, orderID: orderID, purpose: "order", amount: total, in: transaction)
            if let hold {
                try await self.tickets.keepHoldForPayment(
                    holdID: hold.holdID, until: min(now.addingTimeInterval(keepFor), hold.createdAt.addingTimeInterval(2 * keepFor)), in: transaction)
            }
            let order = try await self.openBasketOrder(
                id: orderID, fanID: fan.userID, hold: hold, goods: goods, coupon: coupon, basket: basket, total: total, method: .gateway,
                status: "pending_payment", tickets: [],
                payments: [payment], note: "Waiting for \(total.amount) \(total.currency.rawValue) at the payment gateway.", at: now, in: transaction)
            let body = String(decoding: try JSONCoding.encoder.encode(GatewayCheckoutStarted(order: order, paymentIntent: intent)), as: UTF8.self)
            try await IdempotencyKeys.record(scope: scope, key: key, status: 202, body: body, in: transaction)
            return (202, body)
        }
    }

    /// The basket's hold, priced and locked, when it has one: the fan's, admitted, and not
    /// already being paid for.
    private func payableHold(_ basket: Basket, fan: Principal, accessToken: String?, in transaction: DatabaseTransaction) async throws -> PricedHold? {
        guard let holdID = basket.holdID else { return nil }
        let hold = try await tickets.pricedHold(id: holdID, fan: fan, in: transaction)
        try await requireAdmission(to: hold, fan: fan, accessToken: accessToken)
        try await requireNoLiveOrder(holdID: holdID, in: transaction)
        return hold
    }

    /// The seats, the goods and their delivery, less the coupon's discount.
    private static func total(hold: PricedHold?, goods: [ReservedGoods], coupon: AppliedCoupon?, basket: Basket) throws -> Money {
        let currency = hold?.total.currency ?? goods.first?.total.currency ?? .krw
        let gross = try Money.sum((hold.map { [$0.total] } ?? []) + goods.map(\.total) + [basket.shippingFee], currency: currency)
        return try gross.subtracting(coupon?.discount ?? .zero(currency))
    }

    /// Writes the order, its tickets, its goods and its first history entry, and answers it as written.
    private func openBasketOrder(
        id orderID: String, fanID: String, hold: PricedHold?, goods: [ReservedGoods], coupon: AppliedCoupon?, basket: Basket, total: Money,
        method: Method, status: String,
        tickets issued: [Ticket], payments: [Payment], note: String, at now: Date, in transaction: DatabaseTransaction
    ) async throws -> Order {
        try await transaction.sql.raw("""
            INSERT INTO orders (id, fan_id, hold_id, performance_id, method, status, total_amount, refunded_amount, discount_amount, coupon_id,
                                address_id, shipping_fee_amount, currency, created_at, updated_at)
            VALUES (\(bind: orderID), \(bind: fanID), \(bind: hold?.holdID ?? Self.goodsOnlyKey(orderID: orderID)), \(bind: hold?.performanceID ?? ""),
                    \(bind: method.rawValue), \(bind: status), \(bind: total.amount), 0, \(bind: coupon?.discount.amount ?? 0), \(bind: coupon?.couponID),
                    \(bind: basket.addressID), \(bind: basket.shippingFee.amount), \(bind: total.currency.rawValue), \(bind: now), \(bind: now))
            """).run()
        try await OrderStatements.insertItems(orderID: orderID, tickets: issued, in: transaction)
        var lines: SQLQueryString = ""
        for (index, line) in goods.enumerated() {
            if index > 0 { lines += ", " }
            lines += """
                (\(bind: orderID), \(bind: line.reservationId), \(bind: line.productId), \(bind: line.optionId), \(bind: line.productName),
                 \(bind: line.optionName), \(bind: line.quantity), \(bind: line.unitPrice.amount), \(bind: line.unitPrice.currency.rawValue), 'active',
                 \(bind: coupon?.perLine[line.reservationId] ?? 0))
                """
        }
        try await transaction.sql.raw("""
            INSERT INTO order_goods (order_id, reservation_id, product_id, option_id, product_name, option_name, quantity, unit_price_amount,
                                     currency, status, discount_amount)
            VALUES \(lines)
            """).run()
        try await recordHistory(orderID: orderID, status: status, note: note, at: now, in: transaction)
        let items = Order.Item.issued(issued)
        return Order(
            id: orderID, status: status, performanceId: hold?.performanceID, holdId: hold?.holdID, method: method.rawValue, items: items,
            goods: goods.map { Order.GoodsItem(reserved: $0, discount: coupon?.perLine[$0.reservationId] ?? 0, status: "active") }, total: total,
            discount: coupon?.discount ?? .zero(total.currency), couponId: coupon?.couponID, shippingFee: basket.shippingFee,
            addressId: basket.addressID, shipment: nil, refunded: .zero(total.currency),
            payments: payments, refunds: [], history: [Order.HistoryEntry(status: status, note: note, at: now)], createdAt: now)
    }

    // MARK: Goods of an order

    static func goodsItems(orderID: String, in sql: any SQLDatabase) async throws -> [Order.GoodsItem] {
        try await sql.raw("""
            SELECT \(unsafeRaw: goodsColumns) FROM order_goods WHERE order_id = \(bind: orderID) ORDER BY reservation_id
            """).all().map(goodsItem)
    }

    /// The columns `goodsItem` reads.
    static let goodsColumns =
        "reservation_id, product_id, option_id, product_name, option_name, quantity, unit_price_amount, discount_amount, currency, status"

    /// A goods line of an order, from a row of `order_goods`.
    static func goodsItem(_ row: any SQLRow) throws -> Order.GoodsItem {
        let quantity = try row.decode(column: "quantity", as: Int.self)
        let unitPrice = try row.decodeMoney("unit_price_amount", currency: "currency")
        return Order.GoodsItem(
            id: try row.decode(column: "reservation_id", as: String.self), productId: try row.decode(column: "product_id", as: String.self),
            optionId: try row.decode(column: "option_id", as: String.self), name: try row.decode(column: "product_name", as: String.self),
            optionName: try row.decode(column: "option_name", as: String.self), quantity: quantity, unitPrice: unitPrice,
            total: try unitPrice.multiplied(by: quantity),
            discount: Money(amount: try row.decode(column: "discount_amount", as: Int64.self), currency: unitPrice.currency),
            status: try row.decode(column: "status", as: String.self))
    }

    /// Cancels goods lines of a paid order: back on sale, their whole price refunded.
    func cancelGoods(orderID: String, lines: [Order.GoodsItem], reason: String, at now: Date, in transaction: DatabaseTransaction) async throws {
        let returned = try await products.returnGoods(orderID: orderID, reservationIDs: lines.map(\.id), in: transaction)
        guard !returned.isEmpty else { return }
        let back = Set(returned.map(\.reservationId))
        let refund = try Money.sum(lines.filter { back.contains($0.id) }.map(\.paid), currency: returned[0].total.currency)
        _ = try await payments.refund(orderID: orderID, amount: refund.amount, reason: reason, in: transaction)
        try await transaction.sql.raw("""
            UPDATE order_goods SET status = 'cancelled'
            WHERE order_id = \(bind: orderID) AND reservation_id IN \(SQLQueryString.list(returned.map(\.reservationId)))
            """).run()
        // Once nothing the coupon paid for is left, the fan has the coupon again (while it is valid).
        let discounted = try await Self.goodsItems(orderID: orderID, in: transaction.sql).filter { $0.status == "active" && $0.discount.amount > 0 }
        if discounted.isEmpty { try await coupons.giveBack(orderID: orderID, in: transaction) }
        let status = try await statusAfterCancelling(orderID: orderID, in: transaction)
        try await transaction.sql.raw("""
            UPDATE orders SET status = \(bind: status), refunded_amount = refunded_amount + \(bind: refund.amount), updated_at = \(bind: now)
            WHERE id = \(bind: orderID)
            """).run()
        // Delivery hears of it: with no goods left, the order leaves its shipment.
        let goodsLeft = try await Self.goodsItems(orderID: orderID, in: transaction.sql).filter { $0.status == "active" }.count
        try await outbox.publish(OrderGoodsCancelled(orderId: orderID, goodsLeft: goodsLeft, at: now), in: transaction)
        let units = returned.reduce(0) { $0 + $1.quantity }
        try await recordHistory(
            orderID: orderID, status: status,
            note: "\(units) goods item\(units == 1 ? "" : "s") \(reason); \(refund.amount) \(refund.currency.rawValue) refunded.", at: now, in: transaction)
    }

    /// cancelled once no ticket and no goods line of the order is active, else partially_cancelled.
    func statusAfterCancelling(orderID: String, in transaction: DatabaseTransaction) async throws -> String {
        let left = try await transaction.sql.raw("""
            SELECT (SELECT COUNT(*) FROM order_items WHERE order_id = \(bind: orderID) AND status = 'active')
                 + (SELECT COUNT(*) FROM order_goods WHERE order_id = \(bind: orderID) AND status = 'active') AS remaining
            """).first()
        return try (left?.decode(column: "remaining", as: Int.self) ?? 0) == 0 ? "cancelled" : "partially_cancelled"
    }
}

extension Order.GoodsItem {
    init(reserved: ReservedGoods, discount: Int64, status: String) {
        self.init(
            id: reserved.reservationId, productId: reserved.productId, optionId: reserved.optionId, name: reserved.productName,
            optionName: reserved.optionName, quantity: reserved.quantity, unitPrice: reserved.unitPrice, total: reserved.total,
            discount: Money(amount: discount, currency: reserved.total.currency), status: status)
    }

    /// What the fan paid for this line: its total less the coupon's share.
    /// (The share never exceeds the line's total: it is spread in proportion to the totals.)
    var paid: Money { Money(amount: total.amount - discount.amount, currency: total.currency) }
}
