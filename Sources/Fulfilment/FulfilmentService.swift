import BoxofficeKit
import Foundation
import Logging
import Messaging
import Persistence
import SQLKit

/// Delivery of goods: fans' addresses, shipments (one parcel for a fan's orders to one address
/// that have not shipped: combined shipping), and staff moving them on with a carrier and
/// tracking number. Orders are Checkout's; this context hears of them through events and tells
/// it, through events, what became of their goods.
public final class FulfilmentService: Sendable {
    private let database: Database
    private let outbox: Outbox
    private let clock: any WallClock
    private let ids: IDGenerator
    private let logger: Logger

    public init(database: Database, outbox: Outbox, clock: any WallClock, logger: Logger) {
        self.database = database
        self.outbox = outbox
        self.clock = clock
        self.ids = IDGenerator(clock: clock)
        self.logger = logger
    }

    // MARK: Addresses

    public struct AddressDraft: Codable, Sendable {
        public var recipient: String
        public var phone: String
        public var postcode: String
        public var address1: String
        public var address2: String?
        public var note: String?
    }

    public func addAddress(_ draft: AddressDraft, by fan: Principal) async throws -> DeliveryAddress {
        var errors: [Problem.FieldError] = []
        if let problem = TextRules.problem(draft.recipient, limit: 50) { errors.append(.init(field: "recipient", message: problem)) }
        let digits = draft.phone.filter(\.isNumber)
        if !(9...11).contains(digits.count) || draft.phone.contains(where: { !$0.isNumber && $0 != "-" && $0 != " " }) {
            errors.append(.init(field: "phone", message: "is a Korean phone number, such as 010-1234-5678"))
        }
        if draft.postcode.count != 5 || !draft.postcode.allSatisfy(\.isASCII) || !draft.postcode.allSatisfy(\.isNumber) {
            errors.append(.init(field: "postcode", message: "is the 5-digit postcode"))
        }
        if let problem = TextRules.problem(draft.address1, limit: 200) { errors.append(.init(field: "address1", message: problem)) }
        if (draft.address2 ?? "").unicodeScalars.count > 200 { errors.append(.init(field: "address2", message: "is longer than 200 characters")) }
        if (draft.note ?? "").unicodeScalars.count > 200 { errors.append(.init(field: "note", message: "is longer than 200 characters")) }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        let count = try await database.read { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM addresses WHERE fan_id = \(bind: fan.userID)").first()?.decode(column: "n", as: Int.self) ?? 0
        }
        guard count < 20 else { throw Problem.conflict(detail: "You can keep up to 20 addresses.", slug: "too-many-addresses") }
        func optional(_ text: String?) -> String? {
            let trimmed = TextRules.trimmed(text ?? "")
            return trimmed.isEmpty ? nil : trimmed
        }
        let address = DeliveryAddress(
            id: ids.next(), fanId: fan.userID, recipient: TextRules.trimmed(draft.recipient), phone: TextRules.trimmed(draft.phone),
            postcode: draft.postcode, address1: TextRules.trimmed(draft.address1), address2: optional(draft.address2), note: optional(draft.note),
            createdAt: clock.now())
        try await database.withTransaction { transaction in
            try await transaction.sql.raw("""
                INSERT INTO addresses (id, fan_id, recipient, phone, postcode, address1, address2, note, created_at)
                VALUES (\(bind: address.id), \(bind: address.fanId), \(bind: address.recipient), \(bind: address.phone), \(bind: address.postcode),
                        \(bind: address.address1), \(bind: address.address2), \(bind: address.note), \(bind: address.createdAt))
                """).run()
        }
        return address
    }

    public func addresses(of fan: Principal) async throws -> [DeliveryAddress] {
        try await database.read { sql in
            try await sql.raw("SELECT * FROM addresses WHERE fan_id = \(bind: fan.userID) ORDER BY id DESC").all().map(Self.decodeAddress)
        }
    }

    /// The fan's own address, or nil (someone else's reads as none).
    public func address(id: String, fanID: String) async throws -> DeliveryAddress? {
        try await database.read { sql in
            try await sql.raw("SELECT * FROM addresses WHERE id = \(bind: id) AND fan_id = \(bind: fanID)").first().map(Self.decodeAddress)
        }
    }

    // MARK: From orders (in the relay's transaction)

    /// A paid order with goods to deliver joins the fan's shipment to the same address that has
    /// not shipped yet, or starts one. Once per order (a redelivered event finds it placed).
    public func place(
        orderID: String, fanID: String, addressID: String, fee: Int64, goods: [GoodsToPack], in transaction: DatabaseTransaction
    ) async throws {
        guard try await transaction.sql.raw("SELECT order_id FROM shipment_orders WHERE order_id = \(bind: orderID)").first() == nil else { return }
        let now = clock.now()
        let lock = transaction.dialect == .postgres ? " FOR UPDATE" : ""
        let open = try await transaction.sql.raw("""
            SELECT id FROM shipments WHERE fan_id = \(bind: fanID) AND address_id = \(bind: addressID) AND status = 'preparing'
            ORDER BY id LIMIT 1\(unsafeRaw: lock)
            """).first().map { try $0.decode(column: "id", as: String.self) }
        let shipmentID: String
        if let open {
            shipmentID = open
        } else {
            guard let address = try await transaction.sql.raw("SELECT * FROM addresses WHERE id = \(bind: addressID)").first().map(Self.decodeAddress)
            else {
                logger.error("a paid order names an address that is gone", metadata: ["order_id": .string(orderID)])
                return
            }
            shipmentID = ids.next()
            try await transaction.sql.raw("""
                INSERT INTO shipments (id, fan_id, address_id, recipient, phone, postcode, address1, address2, note, status, carrier,
                                       tracking_number, created_at, updated_at)
                VALUES (\(bind: shipmentID), \(bind: fanID), \(bind: addressID), \(bind: address.recipient), \(bind: address.phone),
                        \(bind: address.postcode), \(bind: address.address1), \(bind: address.address2), \(bind: address.note), 'preparing',
                        NULL, NULL, \(bind: now), \(bind: now))
                """).run()
        }
        // Combined: the shipment is already paid for, so this order's fee goes back.
        let combined = open != nil
        try await transaction.sql.raw("""
            INSERT INTO shipment_orders (order_id, shipment_id, fee_amount, fee_refunded, joined_at, items)
            VALUES (\(bind: orderID), \(bind: shipmentID), \(bind: fee), \(bind: combined && fee > 0 ? 1 : 0), \(bind: now),
                    \(bind: String(decoding: try JSONEncoder().encode(goods), as: UTF8.self)))
            """).run()
        let orders = try await orderIDs(of: shipmentID, in: transaction.sql)
        try await record(
            shipmentID, status: "preparing",
            note: combined ? "Order \(orderID) joins this shipment (combined shipping)." : "Preparing the goods of order \(orderID).",
            by: "system", at: now, in: transaction)
        try await outbox.publish(
            ShipmentJoined(
                shipmentId: shipmentID, orderId: orderID, orderIds: orders, combined: combined, feeToRefund: combined ? fee : 0, at: now),
            in: transaction)
    }

    /// An order's goods were all cancelled: it leaves its shipment if that has not shipped. A
    /// shipment left with no order is cancelled, and the fee its orders paid goes back.
    public func withdraw(orderID: String, in transaction: DatabaseTransaction) async throws {
        guard let row = try await transaction.sql.raw("""
            SELECT o.shipment_id, s.status FROM shipment_orders o JOIN shipments s ON s.id = o.shipment_id WHERE o.order_id = \(bind: orderID)
            """).first(), try row.decode(column: "status", as: String.self) == "preparing"
        else { return }
        let shipmentID = try row.decode(column: "shipment_id", as: String.self)
        let now = clock.now()
        let fees = try await unrefundedFees(of: shipmentID, in: transaction.sql)
        try await transaction.sql.raw("DELETE FROM shipment_orders WHERE order_id = \(bind: orderID)").run()
        let left = try await orderIDs(of: shipmentID, in: transaction.sql)
        var refunds: [String: Int64] = [:]
        var status = "preparing"
        var note = "Order \(orderID) was cancelled and leaves this shipment."
        if left.isEmpty {
            status = "cancelled"
            note = "Order \(orderID) was cancelled; nothing is left to ship."
            refunds = fees
            try await transaction.sql.raw("UPDATE shipments SET status = 'cancelled', updated_at = \(bind: now) WHERE id = \(bind: shipmentID)").run()
        }
        try await record(shipmentID, status: status, note: note, by: "system", at: now, in: transaction)
        try await outbox.publish(
            ShipmentChanged(shipmentId: shipmentID, orderIds: left.isEmpty ? [orderID] : left, status: status, note: note, by: "system",
                            feeToRefund: refunds, at: now),
            in: transaction)
    }

    // MARK: Staff

    public struct StatusChange: Codable, Sendable {
        public var status: String
        public var carrier: String?
        public var trackingNumber: String?
    }

    /// Moves a shipment on: preparing → shipped (with the carrier and tracking number) →
    /// delivered. Every order in it hears of it.
    public func changeStatus(shipmentID: String, _ change: StatusChange, by staff: Principal) async throws -> Shipment {
        try staff.require(anyOf: .staff, .admin)
        let now = clock.now()
        try await database.withTransaction { transaction in
            let current = try await self.lockedStatus(shipmentID, in: transaction)
            var errors: [Problem.FieldError] = []
            let carrier = TextRules.trimmed(change.carrier ?? ""), tracking = TextRules.trimmed(change.trackingNumber ?? "")
            switch (current, change.status) {
            case ("preparing", "shipped"):
                if let problem = TextRules.problem(carrier, limit: 50) { errors.append(.init(field: "carrier", message: problem)) }
                if let problem = TextRules.problem(tracking, limit: 50) { errors.append(.init(field: "trackingNumber", message: problem)) }
            case ("shipped", "delivered"):
                break
            case (_, "shipped"), (_, "delivered"):
                throw Problem.conflict(detail: "A \(current) shipment cannot become \(change.status).", slug: "shipment-status")
            default:
                errors.append(.init(field: "status", message: "is shipped or delivered"))
            }
            guard errors.isEmpty else { throw Problem.validation(errors) }
            var note = "Delivered."
            if change.status == "shipped" {
                note = "Shipped with \(carrier), tracking number \(tracking)."
                try await transaction.sql.raw("""
                    UPDATE shipments SET status = 'shipped', carrier = \(bind: carrier), tracking_number = \(bind: tracking), updated_at = \(bind: now)
                    WHERE id = \(bind: shipmentID)
                    """).run()
            } else {
                try await transaction.sql.raw("UPDATE shipments SET status = 'delivered', updated_at = \(bind: now) WHERE id = \(bind: shipmentID)").run()
            }
            try await self.record(shipmentID, status: change.status, note: note, by: staff.userID, at: now, in: transaction)
            try await self.outbox.publish(
                ShipmentChanged(
                    shipmentId: shipmentID, orderIds: try await self.orderIDs(of: shipmentID, in: transaction.sql), status: change.status,
                    note: note, by: staff.userID, feeToRefund: [:], at: now),
                in: transaction)
        }
        logger.info("shipment moved on", metadata: ["shipment_id": .string(shipmentID), "status": .string(change.status)])
        return try await shipment(id: shipmentID)
    }

    /// Staff combine orders of one fan to one address that have not shipped into one shipment
    /// (the oldest of theirs); the fees the others paid go back.
    public func merge(orderIDs requested: [String], by staff: Principal) async throws -> Shipment {
        try staff.require(anyOf: .staff, .admin)
        let orderIDs = Array(Set(requested)).sorted()
        guard orderIDs.count >= 2 else { throw Problem.validation([.init(field: "orderIds", message: "names at least two orders")]) }
        let now = clock.now()
        let target = try await database.withTransaction { transaction -> String in
            let rows = try await transaction.sql.raw("""
                SELECT o.order_id, s.id, s.fan_id, s.address_id, s.status FROM shipment_orders o JOIN shipments s ON s.id = o.shipment_id
                WHERE o.order_id IN \(SQLQueryString.list(orderIDs)) ORDER BY s.id
                """).all()
            guard rows.count == orderIDs.count else {
                throw Problem.validation([.init(field: "orderIds", message: "names an order with no goods to deliver")])
            }
            let shipments = try rows.map { try $0.decode(column: "id", as: String.self) }
            let fans = Set(try rows.map { try $0.decode(column: "fan_id", as: String.self) })
            let addresses = Set(try rows.map { try $0.decode(column: "address_id", as: String.self) })
            guard fans.count == 1, addresses.count == 1 else {
                throw Problem.conflict(detail: "Only one fan's orders to one address ship together.", slug: "shipment-merge")
            }
            guard try rows.allSatisfy({ try $0.decode(column: "status", as: String.self) == "preparing" }) else {
                throw Problem.conflict(detail: "A shipment that has left cannot take more orders.", slug: "shipment-status")
            }
            let target = shipments[0]
            for shipmentID in Set(shipments) where shipmentID != target {
                _ = try await self.lockedStatus(shipmentID, in: transaction)
                let fees = try await self.unrefundedFees(of: shipmentID, in: transaction.sql)
                let moving = try await self.orderIDs(of: shipmentID, in: transaction.sql)
                try await transaction.sql.raw("""
                    UPDATE shipment_orders SET shipment_id = \(bind: target), fee_refunded = CASE WHEN fee_amount > 0 THEN 1 ELSE fee_refunded END
                    WHERE shipment_id = \(bind: shipmentID)
                    """).run()
                try await transaction.sql.raw("UPDATE shipments SET status = 'cancelled', updated_at = \(bind: now) WHERE id = \(bind: shipmentID)").run()
                let note = "Combined into shipment \(target) by staff."
                try await self.record(shipmentID, status: "cancelled", note: note, by: staff.userID, at: now, in: transaction)
                for orderID in moving {
                    try await self.outbox.publish(
                        ShipmentJoined(
                            shipmentId: target, orderId: orderID, orderIds: [], combined: true, feeToRefund: fees[orderID] ?? 0, at: now),
                        in: transaction)
                }
            }
            try await self.record(target, status: "preparing", note: "Orders combined by staff: \(orderIDs.joined(separator: ", ")).",
                                  by: staff.userID, at: now, in: transaction)
            return target
        }
        return try await shipment(id: target)
    }

    /// The fan sends a shipment that has not left to another of their addresses; every order in it follows.
    public func changeAddress(shipmentID: String, addressID: String, by fan: Principal) async throws -> Shipment {
        let shipment = try await shipment(id: shipmentID)
        try fan.requireOwnership(of: shipment.fanId, resource: "shipment")
        guard let address = try await address(id: addressID, fanID: shipment.fanId) else {
            throw Problem.validation([.init(field: "addressId", message: "is not one of your addresses")])
        }
        let now = clock.now()
        try await database.withTransaction { transaction in
            guard try await self.lockedStatus(shipmentID, in: transaction) == "preparing" else {
                throw Problem.conflict(detail: "The shipment has left; its address cannot change.", slug: "shipment-status")
            }
            try await transaction.sql.raw("""
                UPDATE shipments SET address_id = \(bind: address.id), recipient = \(bind: address.recipient), phone = \(bind: address.phone),
                    postcode = \(bind: address.postcode), address1 = \(bind: address.address1), address2 = \(bind: address.address2),
                    note = \(bind: address.note), updated_at = \(bind: now)
                WHERE id = \(bind: shipmentID)
                """).run()
            let note = "The delivery address changed to \(address.postcode) \(address.address1)."
            try await self.record(shipmentID, status: "preparing", note: note, by: fan.userID, at: now, in: transaction)
            try await self.outbox.publish(
                ShipmentChanged(shipmentId: shipmentID, orderIds: shipment.orderIds, status: "preparing", note: note, by: fan.userID,
                                feeToRefund: [:], at: now),
                in: transaction)
        }
        return try await self.shipment(id: shipmentID)
    }

    // MARK: Reading

    public func shipment(id: String) async throws -> Shipment {
        try await database.read { sql in
            guard let shipment = try await Self.fetchShipment(id: id, in: sql) else { throw Problem.notFound(detail: "No such shipment.") }
            return shipment
        }
    }

    /// The shipment carrying an order's goods, for the order's own page.
    public func shipment(forOrder orderID: String) async throws -> Shipment? {
        try await database.read { sql in
            guard let row = try await sql.raw("SELECT shipment_id FROM shipment_orders WHERE order_id = \(bind: orderID)").first() else { return nil }
            return try await Self.fetchShipment(id: try row.decode(column: "shipment_id", as: String.self), in: sql)
        }
    }

    /// Shipments for staff, oldest first (what waits longest is packed first), by status.
    public func shipments(status: String?, page: PageRequest, by staff: Principal) async throws -> Page<Shipment> {
        try staff.require(anyOf: .staff, .admin)
        if let status, !["preparing", "shipped", "delivered", "cancelled"].contains(status) {
            throw Problem.validation([.init(field: "status", message: "is preparing, shipped, delivered or cancelled")])
        }
        let after = try page.cursor.map { try Cursor.decode($0, as: String.self) }
        let shipments = try await database.read { sql in
            var query: SQLQueryString = "SELECT id FROM shipments WHERE 1 = 1"
            if let status { query += " AND status = \(bind: status)" }
            if let after { query += " AND id > \(bind: after)" }
            query += " ORDER BY id LIMIT \(bind: page.limit + 1)"
            return try await sql.raw(query).all().asyncMap { row in
                try await Self.fetchShipment(id: try row.decode(column: "id", as: String.self), in: sql)
            }.compactMap { $0 }
        }
        return Page(rows: shipments, request: page) { Cursor.encode($0.id) }
    }

    // MARK: Rows

    private func lockedStatus(_ shipmentID: String, in transaction: DatabaseTransaction) async throws -> String {
        let lock = transaction.dialect == .postgres ? " FOR UPDATE" : ""
        guard let row = try await transaction.sql.raw("SELECT status FROM shipments WHERE id = \(bind: shipmentID)\(unsafeRaw: lock)").first() else {
            throw Problem.notFound(detail: "No such shipment.")
        }
        return try row.decode(column: "status", as: String.self)
    }

    private func orderIDs(of shipmentID: String, in sql: any SQLDatabase) async throws -> [String] {
        try await sql.raw("SELECT order_id FROM shipment_orders WHERE shipment_id = \(bind: shipmentID) ORDER BY order_id").all()
            .map { try $0.decode(column: "order_id", as: String.self) }
    }

    /// The shipping fees its orders paid that have not gone back, by order.
    private func unrefundedFees(of shipmentID: String, in sql: any SQLDatabase) async throws -> [String: Int64] {
        var fees: [String: Int64] = [:]
        for row in try await sql.raw("""
            SELECT order_id, fee_amount FROM shipment_orders WHERE shipment_id = \(bind: shipmentID) AND fee_refunded = 0 AND fee_amount > 0
            """).all() {
            fees[try row.decode(column: "order_id", as: String.self)] = try row.decode(column: "fee_amount", as: Int64.self)
        }
        return fees
    }

    private func record(_ shipmentID: String, status: String, note: String, by: String, at now: Date, in transaction: DatabaseTransaction) async throws {
        try await transaction.sql.raw("""
            INSERT INTO shipment_history (id, shipment_id, status, note, by_user, at)
            VALUES (\(bind: ids.next()), \(bind: shipmentID), \(bind: status), \(bind: note), \(bind: by), \(bind: now))
            """).run()
    }

    static func decodeAddress(_ row: any SQLRow) throws -> DeliveryAddress {
        DeliveryAddress(
            id: try row.decode(column: "id", as: String.self), fanId: try row.decode(column: "fan_id", as: String.self),
            recipient: try row.decode(column: "recipient", as: String.self), phone: try row.decode(column: "phone", as: String.self),
            postcode: try row.decode(column: "postcode", as: String.self), address1: try row.decode(column: "address1", as: String.self),
            address2: try row.decode(column: "address2", as: String?.self), note: try row.decode(column: "note", as: String?.self),
            createdAt: try row.decode(column: "created_at", as: Date.self))
    }

    static func fetchShipment(id: String, in sql: any SQLDatabase) async throws -> Shipment? {
        guard let row = try await sql.raw("SELECT * FROM shipments WHERE id = \(bind: id)").first() else { return nil }
        var orders: [String] = []
        var packing: [Shipment.PackingLine] = []
        for order in try await sql.raw("SELECT order_id, items FROM shipment_orders WHERE shipment_id = \(bind: id) ORDER BY order_id").all() {
            let orderID = try order.decode(column: "order_id", as: String.self)
            orders.append(orderID)
            let goods = try JSONDecoder().decode([GoodsToPack].self, from: Data(try order.decode(column: "items", as: String.self).utf8))
            packing += goods.map { Shipment.PackingLine(orderId: orderID, name: $0.name, optionName: $0.optionName, quantity: $0.quantity) }
        }
        let history = try await sql.raw("SELECT status, note, by_user, at FROM shipment_history WHERE shipment_id = \(bind: id) ORDER BY id").all()
            .map { entry in
                Shipment.HistoryEntry(
                    status: try entry.decode(column: "status", as: String.self), note: try entry.decode(column: "note", as: String?.self),
                    by: try entry.decode(column: "by_user", as: String.self), at: try entry.decode(column: "at", as: Date.self))
            }
        let created = try row.decode(column: "created_at", as: Date.self)
        return Shipment(
            id: id, fanId: try row.decode(column: "fan_id", as: String.self), status: try row.decode(column: "status", as: String.self),
            orderIds: orders, packingList: packing,
            address: DeliveryAddress(
                id: try row.decode(column: "address_id", as: String.self), fanId: try row.decode(column: "fan_id", as: String.self),
                recipient: try row.decode(column: "recipient", as: String.self), phone: try row.decode(column: "phone", as: String.self),
                postcode: try row.decode(column: "postcode", as: String.self), address1: try row.decode(column: "address1", as: String.self),
                address2: try row.decode(column: "address2", as: String?.self), note: try row.decode(column: "note", as: String?.self),
                createdAt: created),
            carrier: try row.decode(column: "carrier", as: String?.self), trackingNumber: try row.decode(column: "tracking_number", as: String?.self),
            history: history, createdAt: created, updatedAt: try row.decode(column: "updated_at", as: Date.self))
    }
}
