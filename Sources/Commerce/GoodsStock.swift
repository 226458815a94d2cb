import BoxofficeKit
import Foundation
import Logging
import Messaging
import Persistence
import SQLKit

/// Taking goods from stock for an order, and giving them back. Checkout calls these inside its
/// own transaction, so the stock, the order and the payment change together or not at all.
///
/// Every option is one row; a unit is taken by one conditional update on it
/// (`stock_left >= quantity`), so stock never goes negative whatever the number of buyers, and
/// the per-fan limit is a conditional upsert on the fan's own row.
extension ProductService {
    /// Takes `requests` from stock for `orderID`: held until `heldUntil` (a gateway payment
    /// pending) or sold at once when it is nil. Answers each line priced; 409 `sold-out` with
    /// `soldOutOptionIds` when any option has too few units (nothing is then taken: the caller's
    /// transaction rolls back), 422 for unknown options, 409 for a product not on sale or a
    /// fan's limit reached.
    public func reserve(
        _ requests: [GoodsRequest], fanID: String, orderID: String, heldUntil: Date?, in transaction: DatabaseTransaction
    ) async throws -> [ReservedGoods] {
        let wanted = try Self.merged(requests)
        let now = clock.now()
        let options = try await pricedOptions(wanted, at: now, in: transaction.sql)
        // The fan's own count per product first: a fan over the limit takes no stock from others.
        var perProduct: [String: Int] = [:]
        for line in wanted { perProduct[options[line.optionId]!.productID, default: 0] += line.quantity }
        for (productID, quantity) in perProduct.sorted(by: { $0.key < $1.key }) {
            let limit = options.values.first { $0.productID == productID }?.maxPerFan
            try await countForFan(fanID: fanID, productID: productID, adding: quantity, limit: limit, in: transaction)
        }
        var soldOut: [String] = []
        // In option order, so two orders taking the same options lock them in the same order.
        for line in wanted.sorted(by: { $0.optionId < $1.optionId }) {
            let taken = try await transaction.sql.raw("""
                UPDATE product_options SET stock_left = stock_left - \(bind: line.quantity)
                WHERE id = \(bind: line.optionId) AND stock_left >= \(bind: line.quantity) RETURNING stock_left
                """).first()
            if taken == nil { soldOut.append(line.optionId) }
        }
        try Self.requireInStock(soldOut)
        var reserved: [ReservedGoods] = []
        for line in wanted {
            let option = options[line.optionId]!
            let total = try option.price.multiplied(by: line.quantity)
            let goods = ReservedGoods(
                reservationId: self.ids.next(), productId: option.productID, optionId: line.optionId, productName: option.productName,
                optionName: option.optionName, quantity: line.quantity, unitPrice: option.price, total: total)
            try await transaction.sql.raw("""
                INSERT INTO stock_reservations (id, order_id, fan_id, product_id, option_id, quantity, status, expires_at, created_at)
                VALUES (\(bind: goods.reservationId), \(bind: orderID), \(bind: fanID), \(bind: goods.productId), \(bind: goods.optionId),
                        \(bind: goods.quantity), \(bind: heldUntil == nil ? "sold" : "held"), \(bind: heldUntil), \(bind: now))
                """).run()
            reserved.append(goods)
        }
        if heldUntil == nil { try await outbox.publish(GoodsSold(orderId: orderID, fanId: fanID, items: reserved, soldAt: now), in: transaction) }
        return reserved
    }

    /// What `requests` would cost now, line by line, with the same checks as `reserve` but
    /// taking nothing (a gateway checkout registers the amount before it takes the stock). The
    /// lines' reservation IDs are their option IDs: nothing is reserved yet.
    public func quote(_ requests: [GoodsRequest], in sql: any SQLDatabase) async throws -> [ReservedGoods] {
        let wanted = try Self.merged(requests)
        let options = try await pricedOptions(wanted, at: clock.now(), in: sql)
        try Self.requireInStock(wanted.filter { options[$0.optionId]!.stockLeft < $0.quantity }.map(\.optionId))
        return try wanted.map { line in
            let option = options[line.optionId]!
            return ReservedGoods(
                reservationId: line.optionId, productId: option.productID, optionId: line.optionId, productName: option.productName,
                optionName: option.optionName, quantity: line.quantity, unitPrice: option.price, total: try option.price.multiplied(by: line.quantity))
        }
    }

    struct PricedOption {
        let productID: String
        let productName: String
        let optionName: String
        let price: Money
        let maxPerFan: Int?
        /// When read: a quote's early answer; `reserve` decides with its conditional update.
        let stockLeft: Int
    }

    /// The options asked for, priced; 422 for unknown ones, 409 when a product is not on sale.
    private func pricedOptions(_ wanted: [GoodsRequest], at now: Date, in sql: any SQLDatabase) async throws -> [String: PricedOption] {
        var options: [String: PricedOption] = [:]
        var closed: [String] = []
        for row in try await sql.raw("""
            SELECT o.id, o.product_id, o.name AS option_name, o.price_amount, o.currency, o.stock_left, p.name AS product_name, p.max_per_fan,
                   p.on_sale_from, p.on_sale_until, p.status
            FROM product_options o JOIN products p ON p.id = o.product_id WHERE o.id IN \(SQLQueryString.list(wanted.map(\.optionId)))
            """).all() {
            let from = try row.decode(column: "on_sale_from", as: Date?.self)
            let until = try row.decode(column: "on_sale_until", as: Date?.self)
            let productName = try row.decode(column: "product_name", as: String.self)
            if try row.decode(column: "status", as: String.self) != "active" || from.map({ now < $0 }) == true || until.map({ now >= $0 }) == true {
                closed.append(productName)
            }
            options[try row.decode(column: "id", as: String.self)] = PricedOption(
                productID: try row.decode(column: "product_id", as: String.self), productName: productName,
                optionName: try row.decode(column: "option_name", as: String.self), price: try row.decodeMoney("price_amount", currency: "currency"),
                maxPerFan: try row.decode(column: "max_per_fan", as: Int?.self), stockLeft: try row.decode(column: "stock_left", as: Int.self))
        }
        let unknown = wanted.enumerated().filter { options[$0.element.optionId] == nil }
        guard unknown.isEmpty else {
            throw Problem.validation(unknown.map { .init(field: "items[\($0.offset)].optionId", message: "is not a product option") })
        }
        if let name = closed.first { throw Problem.conflict(detail: "\(name) is not on sale now.", slug: "not-on-sale") }
        return options
    }

    /// The order's held goods become sold (its gateway payment arrived). False when any of them
    /// had lapsed and gone back on sale: then none is sold, and the caller refunds.
    public func confirm(orderID: String, fanID: String, in transaction: DatabaseTransaction) async throws -> Bool {
        let rows = try await reservations(orderID: orderID, in: transaction)
        guard !rows.isEmpty else { return true }
        guard rows.allSatisfy({ $0.status == "held" }) else { return false }
        try await transaction.sql.raw("""
            UPDATE stock_reservations SET status = 'sold', expires_at = NULL WHERE order_id = \(bind: orderID) AND status = 'held'
            """).run()
        try await outbox.publish(GoodsSold(orderId: orderID, fanId: fanID, items: rows.map(\.goods), soldAt: clock.now()), in: transaction)
        return true
    }

    /// Puts the order's held goods back on sale (its payment failed or will not come).
    public func release(orderID: String, in transaction: DatabaseTransaction) async throws {
        let held = try await reservations(orderID: orderID, in: transaction).filter { $0.status == "held" }
        try await putBack(held, as: "released", in: transaction)
    }

    /// Puts sold goods of the order back on sale (cancelled): those named, or all. Answers what
    /// came back, for the refund.
    public func returnGoods(orderID: String, reservationIDs: [String]?, in transaction: DatabaseTransaction) async throws -> [ReservedGoods] {
        let sold = try await reservations(orderID: orderID, in: transaction).filter {
            $0.status == "sold" && (reservationIDs?.contains($0.goods.reservationId) ?? true)
        }
        try await putBack(sold, as: "returned", in: transaction)
        if !sold.isEmpty {
            try await outbox.publish(GoodsReturned(orderId: orderID, items: sold.map(\.goods), returnedAt: clock.now()), in: transaction)
        }
        return sold.map(\.goods)
    }

    /// How many reservations a sweep takes at most.
    public static let sweepBatchSize = 100

    /// Releases held goods whose time ran out (a gateway payment that never came), so their
    /// units are for sale again. Answers how many it released.
    public func releaseLapsed() async throws -> Int {
        let now = clock.now()
        return try await database.withTransaction { transaction in
            let skipLocked = transaction.dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
            let due = try await transaction.sql.raw("""
                SELECT id, fan_id, product_id, option_id, quantity, status FROM stock_reservations
                WHERE status = 'held' AND expires_at <= \(bind: now) ORDER BY expires_at LIMIT \(bind: Self.sweepBatchSize)\(unsafeRaw: skipLocked)
                """).all().map(Self.decodeUnit)
            try await self.putBack(due, as: "released", in: transaction)
            if !due.isEmpty { self.logger.info("lapsed goods released", metadata: ["reservations": .stringConvertible(due.count)]) }
            return due.count
        }
    }

    // MARK: Rows

    struct Reservation {
        let goods: ReservedGoods
        let fanID: String
        let status: String
    }

    /// What a sweep needs of a reservation.
    struct StockUnit {
        let id: String
        let fanID: String
        let productID: String
        let optionID: String
        let quantity: Int
    }

    private func reservations(orderID: String, in transaction: DatabaseTransaction) async throws -> [Reservation] {
        let lock = transaction.dialect == .postgres ? " FOR UPDATE OF r" : ""
        return try await transaction.sql.raw("""
            SELECT r.id, r.fan_id, r.product_id, r.option_id, r.quantity, r.status, o.name AS option_name, o.price_amount, o.currency,
                   p.name AS product_name
            FROM stock_reservations r JOIN product_options o ON o.id = r.option_id JOIN products p ON p.id = r.product_id
            WHERE r.order_id = \(bind: orderID) ORDER BY r.id\(unsafeRaw: lock)
            """).all().map { row in
                let quantity = try row.decode(column: "quantity", as: Int.self)
                let price = try row.decodeMoney("price_amount", currency: "currency")
                return Reservation(
                    goods: ReservedGoods(
                        reservationId: try row.decode(column: "id", as: String.self), productId: try row.decode(column: "product_id", as: String.self),
                        optionId: try row.decode(column: "option_id", as: String.self),
                        productName: try row.decode(column: "product_name", as: String.self),
                        optionName: try row.decode(column: "option_name", as: String.self), quantity: quantity, unitPrice: price,
                        total: try price.multiplied(by: quantity)),
                    fanID: try row.decode(column: "fan_id", as: String.self), status: try row.decode(column: "status", as: String.self))
            }
    }

    private static func decodeUnit(_ row: any SQLRow) throws -> StockUnit {
        StockUnit(
            id: try row.decode(column: "id", as: String.self), fanID: try row.decode(column: "fan_id", as: String.self),
            productID: try row.decode(column: "product_id", as: String.self), optionID: try row.decode(column: "option_id", as: String.self),
            quantity: try row.decode(column: "quantity", as: Int.self))
    }

    private func putBack(_ reservations: [Reservation], as status: String, in transaction: DatabaseTransaction) async throws {
        try await putBack(
            reservations.map {
                StockUnit(id: $0.goods.reservationId, fanID: $0.fanID, productID: $0.goods.productId, optionID: $0.goods.optionId, quantity: $0.goods.quantity)
            }, as: status, in: transaction)
    }

    /// Marks the reservations and gives their units back to the options and the fans' counts.
    private func putBack(_ units: [StockUnit], as status: String, in transaction: DatabaseTransaction) async throws {
        guard !units.isEmpty else { return }
        try await transaction.sql.raw("""
            UPDATE stock_reservations SET status = \(bind: status), expires_at = NULL WHERE id IN \(SQLQueryString.list(units.map(\.id)))
            """).run()
        for unit in units.sorted(by: { $0.optionID < $1.optionID }) {
            try await transaction.sql.raw("""
                UPDATE product_options SET stock_left = stock_left + \(bind: unit.quantity) WHERE id = \(bind: unit.optionID)
                """).run()
            try await transaction.sql.raw("""
                UPDATE fan_product_quantities SET quantity = quantity - \(bind: unit.quantity)
                WHERE fan_id = \(bind: unit.fanID) AND product_id = \(bind: unit.productID) AND quantity >= \(bind: unit.quantity)
                """).run()
        }
    }

    /// Adds to what the fan has of a product, unless it would pass the product's limit (409).
    private func countForFan(fanID: String, productID: String, adding quantity: Int, limit: Int?, in transaction: DatabaseTransaction) async throws {
        if let limit, quantity > limit {
            throw Problem.conflict(detail: "At most \(limit) of this product per fan.", slug: "limit-reached")
        }
        let counted = try await transaction.sql.raw("""
            INSERT INTO fan_product_quantities (fan_id, product_id, quantity) VALUES (\(bind: fanID), \(bind: productID), \(bind: quantity))
            ON CONFLICT (fan_id, product_id) DO UPDATE SET quantity = fan_product_quantities.quantity + excluded.quantity
            WHERE \(bind: limit) IS NULL OR fan_product_quantities.quantity + excluded.quantity <= \(bind: limit)
            RETURNING quantity
            """).first()
        guard counted != nil else {
            throw Problem.conflict(detail: "At most \(limit ?? 0) of this product per fan, and you already have them.", slug: "limit-reached")
        }
    }

    /// 409 `sold-out` naming the options that have too few units, if any.
    private static func requireInStock(_ soldOut: [String]) throws {
        guard soldOut.isEmpty else {
            throw Problem(
                type: Problem.typeURI("sold-out"), title: "Sold out.", status: 409,
                detail: "\(soldOut.count) of the items have too few left; nothing was taken.", extensions: ["soldOutOptionIds": .strings(soldOut)])
        }
    }

    /// One line per option, quantities added; 422 for a quantity out of range or no lines.
    static func merged(_ requests: [GoodsRequest]) throws -> [GoodsRequest] {
        var errors: [Problem.FieldError] = []
        for (index, request) in requests.enumerated() where !(1...100).contains(request.quantity) {
            errors.append(.init(field: "items[\(index)].quantity", message: "is from 1 to 100"))
        }
        if requests.count > 50 { errors.append(.init(field: "items", message: "has more than 50 lines")) }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        var order: [String] = []
        var quantities: [String: Int] = [:]
        for request in requests {
            if quantities[request.optionId] == nil { order.append(request.optionId) }
            quantities[request.optionId, default: 0] += request.quantity
        }
        return order.map { GoodsRequest(optionId: $0, quantity: quantities[$0]!) }
    }
}
