import BoxofficeKit
import Coordination
import Foundation
import Messaging
import Persistence
import SQLKit

/// Keeps units sold per product per day from the goods events (after commit, once per event).
public struct ProductSalesProjection: EventSubscriber {
    public let name = "commerce.product-sales"
    public let eventTypes: Set<String> = [GoodsSold.eventType, GoodsReturned.eventType]

    public init() {}

    public func handle(_ event: EventEnvelope, in transaction: DatabaseTransaction) async throws {
        let (items, sign, at): ([ReservedGoods], Int, Date)
        if event.type == GoodsSold.eventType {
            let sold = try event.decode(as: GoodsSold.self)
            (items, sign, at) = (sold.items, 1, sold.soldAt)
        } else {
            let returned = try event.decode(as: GoodsReturned.self)
            (items, sign, at) = (returned.items, -1, returned.returnedAt)
        }
        var units: [String: Int] = [:]
        for item in items { units[item.productId, default: 0] += sign * item.quantity }
        let day = ProductService.salesDay(at)
        for (productID, change) in units.sorted(by: { $0.key < $1.key }) {
            try await transaction.sql.raw("""
                INSERT INTO product_sales (product_id, day, units) VALUES (\(bind: productID), \(bind: day), \(bind: change))
                ON CONFLICT (product_id, day) DO UPDATE SET units = product_sales.units + excluded.units
                """).run()
        }
    }
}

extension ProductService {
    /// The day a sale counts on, as `YYYY-MM-DD` in UTC.
    static func salesDay(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle().year().month().day())
    }

    static let popularKey = "commerce:popular"
    /// How long one ranking is shown before it is worked out again.
    static let popularSeconds: TimeInterval = 600

    /// The top 5 products on sale by units sold over the last three days (today and the two
    /// before), each with the units; worked out at most every 10 minutes (shared by the nodes).
    public func popular() async throws -> [PopularProduct] {
        if let cached = await cache.json(Self.popularKey, as: [PopularProduct].self) { return cached }
        let now = clock.now()
        let since = Self.salesDay(now.addingTimeInterval(-2 * 86_400))
        let ranked = try await database.read { sql in
            try await sql.raw("""
                SELECT s.product_id, CAST(SUM(s.units) AS BIGINT) AS units FROM product_sales s JOIN products p ON p.id = s.product_id
                WHERE s.day >= \(bind: since) AND p.status = 'active'
                GROUP BY s.product_id HAVING SUM(s.units) > 0 ORDER BY units DESC, s.product_id LIMIT 5
                """).all().map { (try $0.decode(column: "product_id", as: String.self), try $0.decode(column: "units", as: Int.self)) }
        }
        var popular: [PopularProduct] = []
        for (productID, units) in ranked {
            popular.append(PopularProduct(product: try await product(id: productID), unitsSold: units))
        }
        await cache.setJSON(popular, Self.popularKey, ttl: Self.popularSeconds)
        return popular
    }
}

/// A product in the ranking, with what it sold over the last three days.
public struct PopularProduct: Codable, Sendable, Equatable {
    public let product: Product
    public let unitsSold: Int
}
