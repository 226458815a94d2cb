import BoxofficeKit
import Coordination
import Foundation
import Logging
import Messaging
import Persistence
import SQLKit

/// The goods an organizer sells: products, their options (size, colour) with price and stock,
/// per-fan limits and sale windows. Taking stock for an order is in `GoodsStock.swift`.
public final class ProductService: Sendable {
    let database: Database
    let outbox: Outbox
    let clock: any WallClock
    let ids: IDGenerator
    let logger: Logger
    private let organizers: any EventOrganizers
    /// Product details, shared by the nodes (Redis): an hour, dropped on every change. The stock
    /// left is not in the cached copy; it is read fresh (one indexed query) on every request.
    let cache: any Cache
    static let cacheSeconds: TimeInterval = 3600
    /// How long a gateway payment keeps the goods it pays for before they go back on sale.
    public let holdMinutes: Double

    public static let maxOptions = 50
    public static let maxStock = 1_000_000
    public static let maxPrice: Int64 = 100_000_000

    public init(
        database: Database, outbox: Outbox, clock: any WallClock, logger: Logger, organizers: any EventOrganizers,
        cache: any Cache = InMemoryCache(), holdMinutes: Double = 10
    ) {
        self.database = database
        self.outbox = outbox
        self.clock = clock
        self.ids = IDGenerator(clock: clock)
        self.logger = logger
        self.organizers = organizers
        self.cache = cache
        self.holdMinutes = holdMinutes
    }

    private static func cacheKey(_ id: String) -> String { "commerce:product:\(id)" }

    // MARK: Writing

    public struct OptionDraft: Codable, Sendable {
        public var name: String
        public var price: Money
        public var stock: Int

        public init(name: String, price: Money, stock: Int) {
            self.name = name
            self.price = price
            self.stock = stock
        }
    }

    public struct ProductDraft: Codable, Sendable {
        public var name: String
        public var description: String
        public var eventId: String?
        public var options: [OptionDraft]
        public var maxPerFan: Int?
        public var onSaleFrom: Date?
        public var onSaleUntil: Date?

        public init(
            name: String, description: String, eventId: String? = nil, options: [OptionDraft], maxPerFan: Int? = nil,
            onSaleFrom: Date? = nil, onSaleUntil: Date? = nil
        ) {
            self.name = name
            self.description = description
            self.eventId = eventId
            self.options = options
            self.maxPerFan = maxPerFan
            self.onSaleFrom = onSaleFrom
            self.onSaleUntil = onSaleUntil
        }
    }

    /// What `PATCH /v1/products/{id}` may change; options are added by name, and an existing
    /// option (by id) changes its name or price. Stock has its own call.
    public struct ProductChanges: Codable, Sendable {
        public struct OptionChange: Codable, Sendable {
            public var id: String?
            public var name: String?
            public var price: Money?
            public var stock: Int?
        }

        public var name: String?
        public var description: String?
        public var options: [OptionChange]?
        public var maxPerFan: Int?
        public var onSaleFrom: Date?
        public var onSaleUntil: Date?
        /// active or archived.
        public var status: String?
    }

    public func createProduct(_ draft: ProductDraft, by organizer: Principal) async throws -> Product {
        try organizer.require(anyOf: .organizer, .admin)
        var errors = Self.problems(
            name: draft.name, description: draft.description, maxPerFan: draft.maxPerFan, from: draft.onSaleFrom, until: draft.onSaleUntil)
        if draft.options.isEmpty { errors.append(.init(field: "options", message: "needs at least one option")) }
        if draft.options.count > Self.maxOptions { errors.append(.init(field: "options", message: "has more than \(Self.maxOptions) options")) }
        for (index, option) in draft.options.enumerated() {
            errors += Self.optionProblems(name: option.name, price: option.price, stock: option.stock, field: "options[\(index)]")
        }
        errors += Self.duplicateNames(draft.options.map(\.name))
        guard errors.isEmpty else { throw Problem.validation(errors) }
        if let eventID = draft.eventId { try await requireOrganizer(ofEvent: eventID, organizer) }
        let now = clock.now()
        let product = Product(
            id: ids.next(), organizerId: organizer.userID, eventId: draft.eventId, name: TextRules.trimmed(draft.name),
            description: draft.description, options: draft.options.map { Product.Option(id: ids.next(), name: TextRules.trimmed($0.name), price: $0.price, stock: $0.stock) },
            maxPerFan: draft.maxPerFan, onSaleFrom: draft.onSaleFrom, onSaleUntil: draft.onSaleUntil, status: "active", createdAt: now, updatedAt: now)
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                INSERT INTO products (id, organizer_id, event_id, name, description, max_per_fan, on_sale_from, on_sale_until, status,
                                      search_text, created_at, updated_at)
                VALUES (\(bind: product.id), \(bind: product.organizerId), \(bind: product.eventId), \(bind: product.name),
                        \(bind: product.description), \(bind: product.maxPerFan), \(bind: product.onSaleFrom), \(bind: product.onSaleUntil),
                        'active', \(bind: Self.searchText(product)), \(bind: now), \(bind: now))
                """).run()
            for (position, option) in product.options.enumerated() {
                try await self.insert(option, productID: product.id, position: position, in: transaction)
            }
            try await self.outbox.publish(ProductChanged(product: product), in: transaction)
        }
        logger.info("product created", metadata: ["product_id": .string(product.id), "options": .stringConvertible(product.options.count)])
        return product
    }

    public func updateProduct(id: String, changes: ProductChanges, by organizer: Principal) async throws -> Product {
        let current = try await ownedProduct(id: id, by: organizer)
        let name = changes.name ?? current.name
        let description = changes.description ?? current.description
        let maxPerFan = changes.maxPerFan ?? current.maxPerFan
        let from = changes.onSaleFrom ?? current.onSaleFrom
        let until = changes.onSaleUntil ?? current.onSaleUntil
        let status = changes.status ?? current.status
        var errors = Self.problems(name: name, description: description, maxPerFan: maxPerFan, from: from, until: until)
        if !["active", "archived"].contains(status) { errors.append(.init(field: "status", message: "is active or archived")) }
        let known = Dictionary(uniqueKeysWithValues: current.options.map { ($0.id, $0) })
        var options = current.options
        var added: [Product.Option] = []
        for (index, change) in (changes.options ?? []).enumerated() {
            let field = "options[\(index)]"
            if let optionID = change.id {
                guard let existing = known[optionID] else {
                    errors.append(.init(field: "\(field).id", message: "is not an option of this product"))
                    continue
                }
                let renamed = Product.Option(
                    id: optionID, name: change.name.map(TextRules.trimmed) ?? existing.name, price: change.price ?? existing.price, stock: existing.stock)
                errors += Self.optionProblems(name: renamed.name, price: renamed.price, stock: renamed.stock, field: field)
                options = options.map { $0.id == optionID ? renamed : $0 }
            } else {
                guard let name = change.name, let price = change.price else {
                    errors.append(.init(field: field, message: "a new option needs a name and a price"))
                    continue
                }
                let stock = change.stock ?? 0
                errors += Self.optionProblems(name: name, price: price, stock: stock, field: field)
                added.append(Product.Option(id: ids.next(), name: TextRules.trimmed(name), price: price, stock: stock))
            }
        }
        errors += Self.duplicateNames((options + added).map(\.name))
        if options.count + added.count > Self.maxOptions { errors.append(.init(field: "options", message: "has more than \(Self.maxOptions) options")) }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        let now = clock.now()
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                UPDATE products SET name = \(bind: TextRules.trimmed(name)), description = \(bind: description), max_per_fan = \(bind: maxPerFan),
                    on_sale_from = \(bind: from), on_sale_until = \(bind: until), status = \(bind: status), updated_at = \(bind: now)
                WHERE id = \(bind: id)
                """).run()
            for option in options where option != known[option.id] {
                try await transaction.sql.raw("""
                    UPDATE product_options SET name = \(bind: option.name), price_amount = \(bind: option.price.amount),
                        currency = \(bind: option.price.currency.rawValue)
                    WHERE id = \(bind: option.id)
                    """).run()
            }
            for (offset, option) in added.enumerated() {
                try await self.insert(option, productID: id, position: current.options.count + offset, in: transaction)
            }
            let product = try await Self.fetchProduct(id: id, in: transaction.sql)
            try await transaction.sql.raw("UPDATE products SET search_text = \(bind: Self.searchText(product)) WHERE id = \(bind: id)").run()
            try await self.outbox.publish(ProductChanged(product: product), in: transaction)
        }
        await forget(productID: id)
        return try await product(id: id)
    }

    /// Sets how many units of an option are for sale from now on (what is already reserved or
    /// sold is not counted in it).
    public func setStock(productID: String, optionID: String, stock: Int, by organizer: Principal) async throws -> Product {
        _ = try await ownedProduct(id: productID, by: organizer)
        guard (0...Self.maxStock).contains(stock) else {
            throw Problem.validation([.init(field: "stock", message: "is from 0 to \(Self.maxStock)")])
        }
        try await database.withTransaction { transaction in
            guard try await transaction.sql.raw("""
                UPDATE product_options SET stock_left = \(bind: stock) WHERE id = \(bind: optionID) AND product_id = \(bind: productID)
                RETURNING id
                """).first() != nil else { throw Problem.notFound(detail: "No such option.") }
            let product = try await Self.fetchProduct(id: productID, in: transaction.sql)
            try await self.outbox.publish(ProductChanged(product: product), in: transaction)
        }
        logger.info("stock set", metadata: ["option_id": .string(optionID), "stock": .stringConvertible(stock)])
        return try await product(id: productID)
    }

    private func insert(_ option: Product.Option, productID: String, position: Int, in transaction: DatabaseTransaction) async throws {
        try await transaction.sql.raw("""
            INSERT INTO product_options (id, product_id, name, price_amount, currency, stock_left, position)
            VALUES (\(bind: option.id), \(bind: productID), \(bind: option.name), \(bind: option.price.amount),
                    \(bind: option.price.currency.rawValue), \(bind: option.stock), \(bind: position))
            """).run()
    }

    private func requireOrganizer(ofEvent eventID: String, _ organizer: Principal) async throws {
        guard let owner = try await organizers.organizer(ofEvent: eventID), owner == organizer.userID || organizer.has(.admin) else {
            throw Problem.validation([.init(field: "eventId", message: "is not one of your events")])
        }
    }

    private func ownedProduct(id: String, by organizer: Principal) async throws -> Product {
        try organizer.require(anyOf: .organizer, .admin)
        let product = try await database.read { sql in try await Self.fetchProduct(id: id, in: sql) }
        try organizer.requireOwnership(of: product.organizerId, resource: "product")
        return product
    }

    private func forget(productID: String) async {
        try? await cache.delete(Self.cacheKey(productID))
    }

    // MARK: Reading

    /// One product with what is left of each option. The product comes from the cache when it
    /// is there; the stock is always read fresh.
    public func product(id: String) async throws -> Product {
        if let cached = await cache.json(Self.cacheKey(id), as: Product.self) {
            let stock = try await database.read { sql in try await Self.stockLeft(productID: id, in: sql) }
            return cached.withStock(stock)
        }
        let product = try await database.read { sql in try await Self.fetchProduct(id: id, in: sql) }
        await cache.setJSON(product, Self.cacheKey(id), ttl: Self.cacheSeconds)
        return product
    }

    /// A product fans may see: active, or one they might have bought before (archived ones are
    /// still shown by ID, marked as such).
    public struct ListQuery: Sendable {
        public var text: String?
        public var eventID: String?
        /// Only this organizer's products, archived ones too (the desk).
        public var organizerID: String?
        public var page: PageRequest

        public init(text: String? = nil, eventID: String? = nil, organizerID: String? = nil, page: PageRequest = PageRequest()) {
            self.text = text
            self.eventID = eventID
            self.organizerID = organizerID
            self.page = page
        }
    }

    /// Products newest first; fans see those that are active, an organizer all of their own.
    public func listProducts(_ query: ListQuery) async throws -> Page<Product> {
        if let text = query.text, text.unicodeScalars.count > 200 {
            throw Problem.validation([.init(field: "q", message: "is longer than 200 characters")])
        }
        let after = try query.page.cursor.map { try Cursor.decode($0, as: String.self) }
        let products = try await database.read { sql in
            var statement: SQLQueryString = "SELECT id FROM products WHERE "
            if let organizerID = query.organizerID {
                statement += "organizer_id = \(bind: organizerID)"
            } else {
                statement += "status = 'active'"
            }
            if let eventID = query.eventID { statement += " AND event_id = \(bind: eventID)" }
            if let text = query.text?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
                statement += " AND search_text LIKE \(bind: SQLQueryString.likePattern(containing: text.lowercased())) ESCAPE '\\'"
            }
            if let after { statement += " AND id < \(bind: after)" }
            statement += " ORDER BY id DESC LIMIT \(bind: query.page.limit + 1)"
            var products: [Product] = []
            for row in try await sql.raw(statement).all() {
                products.append(try await Self.fetchProduct(id: try row.decode(column: "id", as: String.self), in: sql))
            }
            return products
        }
        return Page(rows: products, request: query.page) { Cursor.encode($0.id) }
    }

    // MARK: Rows

    static func fetchProduct(id: String, in sql: any SQLDatabase) async throws -> Product {
        guard let row = try await sql.raw("""
            SELECT id, organizer_id, event_id, name, description, max_per_fan, on_sale_from, on_sale_until, status, created_at, updated_at
            FROM products WHERE id = \(bind: id)
            """).first()
        else { throw Problem.notFound(detail: "No such product.") }
        let options = try await sql.raw("""
            SELECT id, name, price_amount, currency, stock_left FROM product_options WHERE product_id = \(bind: id) ORDER BY position
            """).all().map { option in
                Product.Option(
                    id: try option.decode(column: "id", as: String.self), name: try option.decode(column: "name", as: String.self),
                    price: try option.decodeMoney("price_amount", currency: "currency"),
                    stock: try option.decode(column: "stock_left", as: Int.self))
            }
        return Product(
            id: id, organizerId: try row.decode(column: "organizer_id", as: String.self),
            eventId: try row.decode(column: "event_id", as: String?.self), name: try row.decode(column: "name", as: String.self),
            description: try row.decode(column: "description", as: String.self), options: options,
            maxPerFan: try row.decode(column: "max_per_fan", as: Int?.self), onSaleFrom: try row.decode(column: "on_sale_from", as: Date?.self),
            onSaleUntil: try row.decode(column: "on_sale_until", as: Date?.self), status: try row.decode(column: "status", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Date.self), updatedAt: try row.decode(column: "updated_at", as: Date.self))
    }

    private static func stockLeft(productID: String, in sql: any SQLDatabase) async throws -> [String: Int] {
        var stock: [String: Int] = [:]
        for row in try await sql.raw("SELECT id, stock_left FROM product_options WHERE product_id = \(bind: productID)").all() {
            stock[try row.decode(column: "id", as: String.self)] = try row.decode(column: "stock_left", as: Int.self)
        }
        return stock
    }

    // MARK: Rules

    private static func problems(name: String, description: String, maxPerFan: Int?, from: Date?, until: Date?) -> [Problem.FieldError] {
        var errors: [Problem.FieldError] = []
        if let problem = TextRules.problem(name, limit: 200) { errors.append(.init(field: "name", message: problem)) }
        if description.unicodeScalars.count > 5000 { errors.append(.init(field: "description", message: "is longer than 5000 characters")) }
        if let maxPerFan, !(1...100).contains(maxPerFan) { errors.append(.init(field: "maxPerFan", message: "is from 1 to 100")) }
        if let from, let until, until <= from { errors.append(.init(field: "onSaleUntil", message: "is after onSaleFrom")) }
        return errors
    }

    private static func optionProblems(name: String, price: Money, stock: Int, field: String) -> [Problem.FieldError] {
        var errors: [Problem.FieldError] = []
        if let problem = TextRules.problem(name, limit: 100) { errors.append(.init(field: "\(field).name", message: problem)) }
        if !(0...maxPrice).contains(price.amount) { errors.append(.init(field: "\(field).price", message: "is from 0 to \(maxPrice)")) }
        if price.currency != .krw { errors.append(.init(field: "\(field).price.currency", message: "is KRW")) }
        if !(0...maxStock).contains(stock) { errors.append(.init(field: "\(field).stock", message: "is from 0 to \(maxStock)")) }
        return errors
    }

    private static func duplicateNames(_ names: [String]) -> [Problem.FieldError] {
        var seen = Set<String>()
        let repeated = names.map { TextRules.trimmed($0).lowercased() }.filter { !seen.insert($0).inserted }
        return repeated.isEmpty ? [] : [.init(field: "options", message: "names \"\(repeated[0])\" twice")]
    }

    private static func searchText(_ product: Product) -> String {
        ([product.name, product.description] + product.options.map(\.name)).joined(separator: " ").lowercased()
    }
}

extension Product {
    /// This product with the stock left read just now.
    func withStock(_ stock: [String: Int]) -> Product {
        Product(
            id: id, organizerId: organizerId, eventId: eventId, name: name, description: description,
            options: options.map { Option(id: $0.id, name: $0.name, price: $0.price, stock: stock[$0.id] ?? 0) },
            maxPerFan: maxPerFan, onSaleFrom: onSaleFrom, onSaleUntil: onSaleUntil, status: status, createdAt: createdAt, updatedAt: updatedAt)
    }
}
