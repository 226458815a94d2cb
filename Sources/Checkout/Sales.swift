import BoxofficeKit
import Foundation
import Persistence
import SQLKit

/// What an organizer sees of a performance's sales: money per tier, and the orders themselves
/// (searchable, one by one, or all at once as CSV). Only the performance's organizer (or an
/// admin) may look; everyone else is told there is no such performance.
public struct SalesDesk: Sendable {
    private let database: Database
    private let organizers: any PerformanceOrganizers
    private let fans: any FanDirectory

    public init(database: Database, organizers: any PerformanceOrganizers, fans: any FanDirectory) {
        self.database = database
        self.organizers = organizers
        self.fans = fans
    }

    /// Money taken for a performance: orders paid, tickets still valid, the goods bought with
    /// them, gross, refunded and net, per tier and in total. One grouped read over the performance's orders.
    public struct Summary: Codable, Sendable {
        public struct TierSales: Codable, Sendable {
            public let tier: String
            public let ticketsSold: Int
            public let revenue: Money
        }

        public let performanceId: String
        public let paidOrders: Int
        public let pendingOrders: Int
        public let cancelledOrders: Int
        public let ticketsSold: Int
        /// Merchandise sold in the performance's orders (before coupons), part of `gross`.
        public let goods: Money
        public let gross: Money
        public let refunded: Money
        public let net: Money
        public let tiers: [TierSales]
    }

    /// One order as the organizer's list shows it.
    public struct OrderRow: Codable, Sendable {
        public let id: String
        public let status: String
        public let method: String
        public let createdAt: Date
        public let fan: FanContact?
        public let seats: [String]
        public let tickets: Int
        public let total: Money
        public let refunded: Money
    }

    public struct OrderSearch: Sendable {
        /// An order ID, a seat label (`A-1-2`) or a fan's email.
        public var text: String?
        public var status: String?
        public var page: PageRequest

        public init(text: String? = nil, status: String? = nil, page: PageRequest = PageRequest()) {
            self.text = text
            self.status = status
            self.page = page
        }
    }

    static let statuses = OrderStatus.all
    /// The longest search text: an email address is at most 254 characters (RFC 5321).
    static let longestSearch = 254

    public func summary(performanceID: String, viewer: Principal) async throws -> Summary {
        try await requireOrganizer(of: performanceID, viewer: viewer)
        return try await database.read { sql in
            let totals = try await sql.raw("""
                SELECT status, COUNT(*) AS orders, CAST(COALESCE(SUM(total_amount), 0) AS BIGINT) AS gross,
                       CAST(COALESCE(SUM(refunded_amount), 0) AS BIGINT) AS refunded, MIN(currency) AS currency
                FROM orders WHERE performance_id = \(bind: performanceID) GROUP BY status
                """).all()
            var paid = 0, pending = 0, cancelled = 0
            var gross: Int64 = 0, refunded: Int64 = 0
            var currency = Currency.krw
            for row in totals {
                let status = try row.decode(column: "status", as: String.self)
                let count = try row.decode(column: "orders", as: Int.self)
                switch status {
                case "pending_payment": pending += count
                case "payment_failed": continue
                case "cancelled": cancelled += count
                default: paid += count
                }
                // Money counts for every order that was paid, cancelled ones included: their refunds say what went back.
                guard status != "pending_payment" else { continue }
                gross += try row.decode(column: "gross", as: Int64.self)
                refunded += try row.decode(column: "refunded", as: Int64.self)
                currency = Currency(rawValue: try row.decode(column: "currency", as: String.self)) ?? .krw
            }
            let tiers = try await sql.raw("""
                SELECT i.tier, COUNT(*) AS tickets, CAST(COALESCE(SUM(i.price_amount), 0) AS BIGINT) AS revenue
                FROM order_items i JOIN orders o ON o.id = i.order_id
                WHERE o.performance_id = \(bind: performanceID) AND o.status IN \(SQLQueryString.list(OrderStatus.live)) AND i.status = 'active'
                GROUP BY i.tier ORDER BY i.tier
                """).all().map { row in
                    Summary.TierSales(
                        tier: try row.decode(column: "tier", as: String.self), ticketsSold: try row.decode(column: "tickets", as: Int.self),
                        revenue: Money(amount: try row.decode(column: "revenue", as: Int64.self), currency: currency))
                }
            let goods = try await sql.raw("""
                SELECT CAST(COALESCE(SUM(g.quantity * g.unit_price_amount), 0) AS BIGINT) AS goods
                FROM order_goods g JOIN orders o ON o.id = g.order_id
                WHERE o.performance_id = \(bind: performanceID) AND o.status IN \(SQLQueryString.list(OrderStatus.live)) AND g.status = 'active'
                """).first()?.decode(column: "goods", as: Int64.self) ?? 0
            return Summary(
                performanceId: performanceID, paidOrders: paid, pendingOrders: pending, cancelledOrders: cancelled,
                ticketsSold: tiers.reduce(0) { $0 + $1.ticketsSold }, goods: Money(amount: goods, currency: currency),
                gross: Money(amount: gross, currency: currency),
                refunded: Money(amount: refunded, currency: currency), net: Money(amount: gross - refunded, currency: currency),
                tiers: tiers)
        }
    }

    /// The performance's orders, newest first, filtered by `search`.
    public func orders(performanceID: String, search: OrderSearch, viewer: Principal) async throws -> Page<OrderRow> {
        try await requireOrganizer(of: performanceID, viewer: viewer)
        if let status = search.status, !Self.statuses.contains(status) {
            throw Problem.badRequest(
                detail: "status must be one of \(Self.statuses.sorted().joined(separator: ", ")).", field: "status")
        }
        if let text = search.text, text.count > Self.longestSearch {
            throw Problem.badRequest(detail: "q is at most \(Self.longestSearch) characters.", field: "q")
        }
        let after = try search.page.cursor.map { try Cursor.decode($0, as: String.self) }
        var query: SQLQueryString = """
            SELECT o.id, o.fan_id, o.status, o.method, o.created_at, o.total_amount, o.refunded_amount, o.currency
            FROM orders o WHERE o.performance_id = \(bind: performanceID)
            """
        if let text = search.text?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            if text.contains("@") {
                // An email names one fan; an address with no account matches nothing.
                let fanID = try await fans.userID(forEmail: text) ?? ""
                query += " AND o.fan_id = \(bind: fanID)"
            } else {
                query += """
                     AND (o.id = \(bind: text) OR EXISTS (
                        SELECT 1 FROM order_items i WHERE i.order_id = o.id AND UPPER(i.seat_label) = \(bind: text.uppercased())))
                    """
            }
        }
        if let status = search.status { query += " AND o.status = \(bind: status)" }
        if let after { query += " AND o.id < \(bind: after)" }
        query += " ORDER BY o.id DESC LIMIT \(bind: search.page.limit + 1)"
        let finished = query
        let rows = try await database.read { sql in try await self.orderRows(sql.raw(finished).all(), in: sql) }
        return Page(rows: rows, request: search.page) { Cursor.encode($0.id) }
    }

    /// Every order of the performance as CSV (oldest first), for a spreadsheet.
    public func ordersCSV(performanceID: String, viewer: Principal) async throws -> String {
        try await requireOrganizer(of: performanceID, viewer: viewer)
        let rows = try await database.read { sql in
            try await self.orderRows(sql.raw("""
                SELECT o.id, o.fan_id, o.status, o.method, o.created_at, o.total_amount, o.refunded_amount, o.currency
                FROM orders o WHERE o.performance_id = \(bind: performanceID) ORDER BY o.id LIMIT 200000
                """).all(), in: sql)
        }
        var csv = "order_id,created_at,status,method,fan_email,fan_name,seats,tickets,total,refunded,currency\r\n"
        for row in rows {
            let fields: [String] = [
                row.id, row.createdAt.formatted(Date.ISO8601FormatStyle()), row.status, row.method, row.fan?.email ?? "", row.fan?.name ?? "",
                row.seats.joined(separator: " "), String(row.tickets), String(row.total.amount), String(row.refunded.amount),
                row.total.currency.rawValue,
            ]
            csv += fields.map(Self.csvField).joined(separator: ",") + "\r\n"
        }
        return csv
    }

    /// Quotes a field when it needs it; a leading `=`, `+`, `-` or `@` is defused so a
    /// spreadsheet never runs a fan's name as a formula.
    static func csvField(_ value: String) -> String {
        var text = value
        if let first = text.first, "=+-@\t\r".contains(first) { text = "'" + text }
        guard text.contains(where: { ",\"\r\n".contains($0) }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Whether the viewer organizes the performance (admins may look at any).
    public func mayView(performanceID: String, viewer: Principal) async throws -> Bool {
        // An unknown performance is nobody's, not even an administrator's.
        guard let organizer = try await organizers.organizer(ofPerformance: performanceID) else { return false }
        return viewer.has(.admin) || organizer == viewer.userID
    }

    private func requireOrganizer(of performanceID: String, viewer: Principal) async throws {
        guard try await mayView(performanceID: performanceID, viewer: viewer) else {
            throw Problem.notFound(detail: "No such performance among yours.")
        }
    }

    private func orderRows(_ rows: [any SQLRow], in sql: any SQLDatabase) async throws -> [OrderRow] {
        guard !rows.isEmpty else { return [] }
        let ids = try rows.map { try $0.decode(column: "id", as: String.self) }
        var seats: [String: [String]] = [:]
        var tickets: [String: Int] = [:]
        for chunk in ids.chunked(500) {
            var query: SQLQueryString = "SELECT order_id, seat_label, tier, status FROM order_items WHERE order_id IN ("
            for (index, id) in chunk.enumerated() { query += index == 0 ? "\(bind: id)" : ", \(bind: id)" }
            query += ") ORDER BY order_id, seat_label"
            for item in try await sql.raw(query).all() {
                let order = try item.decode(column: "order_id", as: String.self)
                guard try item.decode(column: "status", as: String.self) == "active" else { continue }
                tickets[order, default: 0] += 1
                seats[order, default: []].append(try item.decode(column: "seat_label", as: String?.self) ?? (try item.decode(column: "tier", as: String.self)))
            }
        }
        let fanIDs = Array(Set(try rows.map { try $0.decode(column: "fan_id", as: String.self) }))
        let contacts = try await fans.contacts(of: fanIDs)
        return try rows.map { row in
            let id = try row.decode(column: "id", as: String.self)
            let currency = Currency(rawValue: try row.decode(column: "currency", as: String.self)) ?? .krw
            return OrderRow(
                id: id, status: try row.decode(column: "status", as: String.self), method: try row.decode(column: "method", as: String.self),
                createdAt: try row.decode(column: "created_at", as: Date.self), fan: contacts[try row.decode(column: "fan_id", as: String.self)],
                seats: seats[id] ?? [], tickets: tickets[id] ?? 0,
                total: Money(amount: try row.decode(column: "total_amount", as: Int64.self), currency: currency),
                refunded: Money(amount: try row.decode(column: "refunded_amount", as: Int64.self), currency: currency))
        }
    }
}
