import BoxofficeKit
import Foundation
import Logging
import Persistence
import SQLKit

/// A first-come coupon: a fixed amount or a percentage off the goods it covers, issued to at
/// most `totalIssuable` fans, one each.
public struct Coupon: Codable, Sendable, Equatable {
    /// `{ "amount": 5000 }` (won off) or `{ "percent": 10 }`.
    public struct Discount: Codable, Sendable, Equatable {
        public let amount: Int64?
        public let percent: Int?

        public init(amount: Int64? = nil, percent: Int? = nil) {
            self.amount = amount
            self.percent = percent
        }
    }

    public let id: String
    public let organizerId: String
    public let name: String
    public let discount: Discount
    public let currency: Currency
    /// The goods it covers must come to at least this much.
    public let minimumOrder: Money
    public let totalIssuable: Int
    public let issued: Int
    public let validFrom: Date
    public let validUntil: Date
    /// Only goods of this event's products, when set.
    public let eventId: String?
    /// Only these products, when not empty.
    public let productIds: [String]
    public let createdAt: Date
}

/// A coupon a fan holds: `issued` until an order uses it, `used` by that order.
public struct FanCoupon: Codable, Sendable, Equatable {
    public let id: String
    public let couponId: String
    public let status: String
    public let orderId: String?
    public let claimedAt: Date
    public let coupon: Coupon
}

/// What a coupon took off an order, and from which goods lines (so a line cancelled later gives
/// back what was paid for it, no more).
public struct AppliedCoupon: Sendable, Equatable {
    public let couponID: String
    public let discount: Money
    /// Reservation ID → the part of the discount on that line; the parts add up to `discount`.
    public let perLine: [String: Int64]
}

/// Coupons: organizers create them, fans claim one each while they last, and a checkout uses one.
public final class CouponService: Sendable {
    private let database: Database
    private let clock: any WallClock
    private let ids: IDGenerator
    private let logger: Logger
    private let organizers: any EventOrganizers

    public init(database: Database, clock: any WallClock, logger: Logger, organizers: any EventOrganizers) {
        self.database = database
        self.clock = clock
        self.ids = IDGenerator(clock: clock)
        self.logger = logger
        self.organizers = organizers
    }

    public struct CouponDraft: Codable, Sendable {
        public var name: String
        public var discount: Coupon.Discount
        public var totalIssuable: Int
        public var validFrom: Date
        public var validUntil: Date
        public var minimumOrder: Int64?
        public var eventId: String?
        public var productIds: [String]?
    }

    public static let maxIssuable = 1_000_000

    public func createCoupon(_ draft: CouponDraft, by organizer: Principal) async throws -> Coupon {
        try organizer.require(anyOf: .organizer, .admin)
        var errors: [Problem.FieldError] = []
        func fail(_ field: String, _ message: String) { errors.append(.init(field: field, message: message)) }
        if let problem = TextRules.problem(draft.name, limit: 200) { fail("name", problem) }
        switch (draft.discount.amount, draft.discount.percent) {
        case let (amount?, nil) where !(1...ProductService.maxPrice).contains(amount): fail("discount.amount", "is from 1 to \(ProductService.maxPrice)")
        case let (nil, percent?) where !(1...100).contains(percent): fail("discount.percent", "is from 1 to 100")
        case (nil, nil), (.some, .some): fail("discount", "is an amount or a percent")
        default: break
        }
        if !(1...Self.maxIssuable).contains(draft.totalIssuable) { fail("totalIssuable", "is from 1 to \(Self.maxIssuable)") }
        if draft.validUntil <= draft.validFrom { fail("validUntil", "is after validFrom") }
        if let minimum = draft.minimumOrder, !(0...ProductService.maxPrice).contains(minimum) { fail("minimumOrder", "is from 0 to \(ProductService.maxPrice)") }
        let productIDs = Array(Set(draft.productIds ?? [])).sorted()
        if productIDs.count > 100 { fail("productIds", "names more than 100 products") }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        if let eventID = draft.eventId {
            guard let owner = try await organizers.organizer(ofEvent: eventID), owner == organizer.userID || organizer.has(.admin) else {
                throw Problem.validation([.init(field: "eventId", message: "is not one of your events")])
            }
        }
        let now = clock.now()
        let coupon = Coupon(
            id: ids.next(), organizerId: organizer.userID, name: TextRules.trimmed(draft.name), discount: draft.discount, currency: .krw,
            minimumOrder: Money(amount: draft.minimumOrder ?? 0, currency: .krw), totalIssuable: draft.totalIssuable, issued: 0,
            validFrom: draft.validFrom, validUntil: draft.validUntil, eventId: draft.eventId, productIds: productIDs, createdAt: now)
        try await database.withTransaction { transaction in
            if !productIDs.isEmpty {
                let owned = try await transaction.sql.raw("""
                    SELECT id FROM products WHERE id IN \(SQLQueryString.list(productIDs)) AND organizer_id = \(bind: organizer.userID)
                    """).all().map { try $0.decode(column: "id", as: String.self) }
                guard owned.count == productIDs.count || organizer.has(.admin) else {
                    throw Problem.validation([.init(field: "productIds", message: "names a product that is not yours")])
                }
            }
            try await transaction.sql.raw("""
                INSERT INTO coupons (id, organizer_id, name, discount_amount, discount_percent, minimum_order_amount, currency, total_issuable,
                                     issued, valid_from, valid_until, event_id, product_ids, created_at)
                VALUES (\(bind: coupon.id), \(bind: coupon.organizerId), \(bind: coupon.name), \(bind: coupon.discount.amount),
                        \(bind: coupon.discount.percent), \(bind: coupon.minimumOrder.amount), 'KRW', \(bind: coupon.totalIssuable), 0,
                        \(bind: coupon.validFrom), \(bind: coupon.validUntil), \(bind: coupon.eventId), \(bind: productIDs.joined(separator: ",")),
                        \(bind: now))
                """).run()
        }
        logger.info("coupon created", metadata: ["coupon_id": .string(coupon.id), "issuable": .stringConvertible(coupon.totalIssuable)])
        return coupon
    }

    public func coupon(id: String) async throws -> Coupon {
        try await database.read { sql in try await Self.fetchCoupon(id: id, in: sql) }
    }

    /// The organizer's coupons, newest first.
    public func coupons(of organizer: Principal) async throws -> [Coupon] {
        try organizer.require(anyOf: .organizer, .admin)
        return try await database.read { sql in
            try await sql.raw("SELECT id FROM coupons WHERE organizer_id = \(bind: organizer.userID) ORDER BY id DESC LIMIT 200").all()
                .asyncMap { try await Self.fetchCoupon(id: try $0.decode(column: "id", as: String.self), in: sql) }
        }
    }

    /// The coupons a fan can claim now that cover a product: valid, some left, and naming the
    /// product, or its organizer's coupons for every product (of its event, when they name one).
    public func claimable(forProduct productID: String) async throws -> [Coupon] {
        let now = clock.now()
        return try await database.read { sql in
            guard let product = try await sql.raw("SELECT organizer_id, event_id FROM products WHERE id = \(bind: productID)").first() else {
                throw Problem.notFound(detail: "No such product.")
            }
            let organizerID = try product.decode(column: "organizer_id", as: String.self)
            let eventID = try product.decode(column: "event_id", as: String?.self)
            var query: SQLQueryString = """
                SELECT id FROM coupons
                WHERE organizer_id = \(bind: organizerID) AND valid_from <= \(bind: now) AND valid_until > \(bind: now) AND issued < total_issuable
                  AND (product_ids LIKE \(bind: SQLQueryString.likePattern(containing: productID)) ESCAPE '\\'
                       OR (product_ids = '' AND
                """
            if let eventID { query += " (event_id IS NULL OR event_id = \(bind: eventID))))" } else { query += " event_id IS NULL))" }
            query += " ORDER BY id DESC LIMIT 20"
            return try await sql.raw(query).all().asyncMap { try await Self.fetchCoupon(id: try $0.decode(column: "id", as: String.self), in: sql) }
        }
    }

    /// Issues the fan one of the coupon's, while any are left and it is valid: exactly
    /// `totalIssuable` fans get one however many ask at once. 409 when none are left, when the
    /// fan already has one, or outside its validity.
    public func claim(couponID: String, by fan: Principal) async throws -> FanCoupon {
        let now = clock.now()
        let coupon = try await coupon(id: couponID)
        guard now >= coupon.validFrom, now < coupon.validUntil else {
            throw Problem.conflict(detail: "This coupon can be claimed from its start until it ends.", slug: "coupon-not-valid")
        }
        let id = ids.next()
        try await database.withTransaction { transaction in
            guard try await transaction.sql.raw("""
                INSERT INTO fan_coupons (id, coupon_id, fan_id, status, order_id, claimed_at, used_at)
                VALUES (\(bind: id), \(bind: couponID), \(bind: fan.userID), 'issued', NULL, \(bind: now), NULL)
                ON CONFLICT (coupon_id, fan_id) DO NOTHING RETURNING id
                """).first() != nil
            else { throw Problem.conflict(detail: "You already have this coupon.", slug: "coupon-already-claimed") }
            guard try await transaction.sql.raw("""
                UPDATE coupons SET issued = issued + 1 WHERE id = \(bind: couponID) AND issued < total_issuable RETURNING issued
                """).first() != nil
            else { throw Problem.conflict(detail: "All of this coupon's have been given out.", slug: "coupons-gone") }
        }
        return try await fanCoupon(id: id)
    }

    /// The fan's coupons, newest first.
    public func coupons(ofFan fan: Principal) async throws -> [FanCoupon] {
        let rows = try await database.read { sql in
            try await sql.raw("SELECT id FROM fan_coupons WHERE fan_id = \(bind: fan.userID) ORDER BY id DESC LIMIT 200").all()
                .map { try $0.decode(column: "id", as: String.self) }
        }
        var coupons: [FanCoupon] = []
        for id in rows { coupons.append(try await fanCoupon(id: id)) }
        return coupons
    }

    private func fanCoupon(id: String) async throws -> FanCoupon {
        try await database.read { sql in
            guard let row = try await sql.raw("""
                SELECT id, coupon_id, status, order_id, claimed_at FROM fan_coupons WHERE id = \(bind: id)
                """).first()
            else { throw Problem.notFound(detail: "No such coupon.") }
            let couponID = try row.decode(column: "coupon_id", as: String.self)
            return FanCoupon(
                id: id, couponId: couponID, status: try row.decode(column: "status", as: String.self),
                orderId: try row.decode(column: "order_id", as: String?.self), claimedAt: try row.decode(column: "claimed_at", as: Date.self),
                coupon: try await Self.fetchCoupon(id: couponID, in: sql))
        }
    }

    // MARK: In a checkout

    /// What the fan's coupon would take off `goods` now, changing nothing (a gateway checkout
    /// registers the amount first). The same checks and the same arithmetic as `use`.
    public func quote(couponID: String, fanID: String, goods: [ReservedGoods], in sql: any SQLDatabase) async throws -> AppliedCoupon {
        let coupon = try await Self.fetchCoupon(id: couponID, in: sql)
        guard try await sql.raw("""
            SELECT id FROM fan_coupons WHERE coupon_id = \(bind: couponID) AND fan_id = \(bind: fanID) AND status = 'issued'
            """).first() != nil
        else { throw Problem.conflict(detail: "You have no unused coupon of this kind.", slug: "coupon-not-held") }
        return try await discount(of: coupon, on: goods, in: sql)
    }

    /// Uses the fan's coupon on `goods` of `orderID`: the coupon is the order's now (a second
    /// order cannot use it), and the answer says what it took off which line.
    public func use(couponID: String, fanID: String, orderID: String, goods: [ReservedGoods], in transaction: DatabaseTransaction) async throws
        -> AppliedCoupon
    {
        let applied = try await quote(couponID: couponID, fanID: fanID, goods: goods, in: transaction.sql)
        guard try await transaction.sql.raw("""
            UPDATE fan_coupons SET status = 'used', order_id = \(bind: orderID), used_at = \(bind: clock.now())
            WHERE coupon_id = \(bind: couponID) AND fan_id = \(bind: fanID) AND status = 'issued' RETURNING id
            """).first() != nil
        else { throw Problem.conflict(detail: "This coupon was just used by another order.", slug: "coupon-not-held") }
        return applied
    }

    /// Gives the coupon an order used back to its fan, when it is still valid (the order was
    /// cancelled, or its payment failed). Answers whether it did.
    @discardableResult
    public func giveBack(orderID: String, in transaction: DatabaseTransaction) async throws -> Bool {
        try await transaction.sql.raw("""
            UPDATE fan_coupons SET status = 'issued', order_id = NULL, used_at = NULL
            WHERE order_id = \(bind: orderID) AND status = 'used'
              AND coupon_id IN (SELECT id FROM coupons WHERE valid_until > \(bind: clock.now()))
            RETURNING id
            """).first() != nil
    }

    /// The coupon's discount on the goods it covers, spread over them in proportion to their
    /// totals (largest remainders first, so the parts add up to the unit).
    private func discount(of coupon: Coupon, on goods: [ReservedGoods], in sql: any SQLDatabase) async throws -> AppliedCoupon {
        let now = clock.now()
        guard now >= coupon.validFrom, now < coupon.validUntil else {
            throw Problem.conflict(detail: "This coupon is not valid now.", slug: "coupon-not-valid")
        }
        var covered = goods
        if !coupon.productIds.isEmpty { covered = covered.filter { coupon.productIds.contains($0.productId) } }
        if let eventID = coupon.eventId, !covered.isEmpty {
            let ofEvent = Set(try await sql.raw("""
                SELECT id FROM products WHERE id IN \(SQLQueryString.list(covered.map(\.productId))) AND event_id = \(bind: eventID)
                """).all().map { try $0.decode(column: "id", as: String.self) })
            covered = covered.filter { ofEvent.contains($0.productId) }
        }
        let subtotal = covered.reduce(Int64(0)) { $0 + $1.total.amount }
        guard subtotal > 0 else { throw Problem.conflict(detail: "This coupon covers none of these goods.", slug: "coupon-not-applicable") }
        guard subtotal >= coupon.minimumOrder.amount else {
            throw Problem.conflict(
                detail: "This coupon needs at least \(coupon.minimumOrder.amount) KRW of the goods it covers.", slug: "coupon-minimum-not-met")
        }
        let off = coupon.discount.amount.map { min($0, subtotal) } ?? subtotal * Int64(coupon.discount.percent ?? 0) / 100
        var perLine: [String: Int64] = [:]
        var shares = covered.map { line -> (id: String, whole: Int64, remainder: Int64) in
            let exact = off * line.total.amount
            return (line.reservationId, exact / subtotal, exact % subtotal)
        }
        var left = off - shares.reduce(0) { $0 + $1.whole }
        shares.sort { ($0.remainder, $1.id) > ($1.remainder, $0.id) }
        for index in shares.indices {
            perLine[shares[index].id] = shares[index].whole + (left > 0 ? 1 : 0)
            if left > 0 { left -= 1 }
        }
        return AppliedCoupon(couponID: coupon.id, discount: Money(amount: off, currency: coupon.currency), perLine: perLine)
    }

    // MARK: Rows

    static func fetchCoupon(id: String, in sql: any SQLDatabase) async throws -> Coupon {
        guard let row = try await sql.raw("""
            SELECT id, organizer_id, name, discount_amount, discount_percent, minimum_order_amount, currency, total_issuable, issued,
                   valid_from, valid_until, event_id, product_ids, created_at
            FROM coupons WHERE id = \(bind: id)
            """).first()
        else { throw Problem.notFound(detail: "No such coupon.") }
        let currency = Currency(rawValue: try row.decode(column: "currency", as: String.self)) ?? .krw
        let products = try row.decode(column: "product_ids", as: String.self)
        return Coupon(
            id: id, organizerId: try row.decode(column: "organizer_id", as: String.self), name: try row.decode(column: "name", as: String.self),
            discount: .init(amount: try row.decode(column: "discount_amount", as: Int64?.self), percent: try row.decode(column: "discount_percent", as: Int?.self)),
            currency: currency, minimumOrder: Money(amount: try row.decode(column: "minimum_order_amount", as: Int64.self), currency: currency),
            totalIssuable: try row.decode(column: "total_issuable", as: Int.self), issued: try row.decode(column: "issued", as: Int.self),
            validFrom: try row.decode(column: "valid_from", as: Date.self), validUntil: try row.decode(column: "valid_until", as: Date.self),
            eventId: try row.decode(column: "event_id", as: String?.self), productIds: products.isEmpty ? [] : products.components(separatedBy: ","),
            createdAt: try row.decode(column: "created_at", as: Date.self))
    }
}
