import BoxofficeKit
import Foundation
import Logging
import Messaging
import Persistence
import SQLKit

/// A right to enter: one per seat (or general-admission unit), with a signed code for the door.
public struct Ticket: Codable, Sendable, Equatable {
    public struct Seat: Codable, Sendable, Equatable {
        public let id: String
        public let label: String
    }

    public let id: String
    public let code: String
    public let performanceId: String
    public let orderId: String
    public let holderId: String
    /// Reserved seating: the seat; general admission: nil.
    public let seat: Seat?
    public let tier: String
    public let price: Money
    /// valid or cancelled.
    public let status: String
    public let issuedAt: Date
    public let firstScannedAt: Date?
    public let firstGate: String?
}

/// A hold about to be paid for, with what each of its places costs.
public struct PricedHold: Sendable {
    public struct Item: Sendable {
        public let seatID: String?
        public let label: String?
        public let tier: String
        public let price: Money
    }

    public let holdID: String
    public let performanceID: String
    public let fanID: String
    public let items: [Item]
    public let expiresAt: Date
    public let createdAt: Date

    /// What the hold costs, summed with overflow checks when the hold is priced.
    public let total: Money

    init(holdID: String, performanceID: String, fanID: String, items: [Item], expiresAt: Date, createdAt: Date) throws(MoneyError) {
        self.holdID = holdID
        self.performanceID = performanceID
        self.fanID = fanID
        self.items = items
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.total = try Money.sum(items.map(\.price), currency: items.first?.price.currency ?? .krw)
    }
}

/// When a performance's tickets may be cancelled for a refund, and what it costs.
public struct RefundPolicy: Sendable {
    public let startsAt: Date?
    public let cutoffHours: Int
    public let feePercent: Int
    public let performanceCancelled: Bool

    /// The last moment a fan may cancel: `cutoffHours` before the start. None once the
    /// performance itself is cancelled (its tickets are refunded whole instead).
    public var deadline: Date? {
        performanceCancelled ? nil : startsAt.map { $0.addingTimeInterval(-Double(cutoffHours) * 3600) }
    }
}

/// What the door learns from a scan.
public struct ScanResult: Codable, Sendable {
    /// valid, already_used or invalid.
    public let result: String
    public let ticket: Ticket?
    public let firstScannedAt: Date?
    public let firstGate: String?
    /// Why an invalid code is invalid, for the person at the gate.
    public let reason: String?
}

/// Finds the account a ticket is transferred to. Reservations does not read identity's
/// tables; the composition root answers from identity.
/// Who may scan tickets at a performance's door (the catalog knows whose performance it is
/// and whom its organizer took on as staff); the composition root answers it.
public protocol DoorAccess: Sendable {
    func mayScan(performanceID: String, by principal: Principal) async throws -> Bool
}

public protocol RecipientDirectory: Sendable {
    /// The account with this email; nil when there is none. `askedBy` is who wants to know:
    /// the directory limits how many misses one user gets, so it cannot be used to find out
    /// which addresses have accounts.
    func userID(forEmail email: String, askedBy: String) async throws -> String?
}

/// Issues tickets from paid holds, cancels them, transfers them, and checks them at the door.
public final class TicketService: Sendable {
    private let database: Database
    private let outbox: Outbox
    private let codes: TicketCodes
    private let recipients: any RecipientDirectory
    private let doors: any DoorAccess
    private let clock: any WallClock
    private let ids: IDGenerator
    private let logger: Logger

    public init(
        database: Database, outbox: Outbox, codes: TicketCodes, recipients: any RecipientDirectory, doors: any DoorAccess,
        clock: any WallClock, logger: Logger
    ) {
        self.doors = doors
        self.database = database
        self.outbox = outbox
        self.codes = codes
        self.recipients = recipients
        self.clock = clock
        self.ids = IDGenerator(clock: clock)
        self.logger = logger
    }

    // MARK: Checkout's building blocks (run inside checkout's transaction)

    /// The fan's active hold with its prices, locked until the transaction ends. An expired,
    /// released or already paid hold is a 409: nothing may be charged for it.
    public func pricedHold(id: String, fan: Principal, in transaction: DatabaseTransaction) async throws -> PricedHold {
        let now = clock.now()
        // One query: the hold, its sale, and each place with its price (a standing hold's units
        // are its tier's price, `quantity` times). Only the hold's row is locked: locking the
        // performance's row too would queue every checkout of it.
        let lock = transaction.dialect == .postgres ? " FOR UPDATE OF h" : ""
        let rows = try await transaction.sql.raw("""
            SELECT h.performance_id, h.fan_id, h.tier AS hold_tier, h.quantity, h.status, h.expires_at, h.created_at,
                   s.status AS sale_status, ps.seat_id, ps.label, p.tier AS price_tier, p.amount, p.currency
            FROM holds h
            JOIN sale_performances s ON s.performance_id = h.performance_id
            LEFT JOIN hold_items i ON i.hold_id = h.id
            LEFT JOIN performance_seats ps ON ps.performance_id = i.performance_id AND ps.seat_id = i.seat_id
            LEFT JOIN sale_prices p ON p.performance_id = h.performance_id AND p.tier = COALESCE(ps.tier, h.tier)
            WHERE h.id = \(bind: id)
            ORDER BY ps.label\(unsafeRaw: lock)
            """).all()
        guard let hold = rows.first else { throw Problem.notFound(detail: "No such hold.") }
        let fanID = try hold.decode(column: "fan_id", as: String.self)
        try fan.requireOwnership(of: fanID, resource: "hold")
        guard fanID == fan.userID else { throw Problem.notFound(detail: "No such hold.") }  // even admins pay only for their own
        let status = try hold.decode(column: "status", as: String.self)
        let expiresAt = try hold.decode(column: "expires_at", as: Date.self)
        guard status == "active", expiresAt > now else {
            let state = status == "active" ? "expired" : status
            throw Problem(
                type: Problem.typeURI("hold-not-active"), title: "This hold can no longer be paid for.", status: 409,
                detail: state == "confirmed" ? "This hold is already paid for." : "This hold has \(state); nothing was charged. Hold the seats again.",
                extensions: ["holdStatus": .string(state)])
        }
        guard try hold.decode(column: "sale_status", as: String.self) == "on_sale" else {
            throw Problem(
                type: Problem.typeURI("performance-cancelled"), title: "This performance was cancelled.", status: 409,
                detail: "Nothing was charged.")
        }
        var items: [PricedHold.Item] = []
        for row in rows {
            guard let tier = try row.decode(column: "price_tier", as: String?.self) else {
                throw Problem.conflict(detail: "A place of this hold has no price.", slug: "hold-not-active")
            }
            let price = try row.decodeMoney("amount", currency: "currency")
            if try row.decode(column: "hold_tier", as: String?.self) != nil {
                let quantity = try row.decode(column: "quantity", as: Int.self)
                items = Array(repeating: PricedHold.Item(seatID: nil, label: nil, tier: tier, price: price), count: quantity)
                break
            }
            guard let seatID = try row.decode(column: "seat_id", as: String?.self) else { continue }
            items.append(PricedHold.Item(seatID: seatID, label: try row.decode(column: "label", as: String.self), tier: tier, price: price))
        }
        guard !items.isEmpty else { throw Problem.conflict(detail: "This hold has no priced seats.", slug: "hold-not-active") }
        return try PricedHold(
            holdID: id, performanceID: try hold.decode(column: "performance_id", as: String.self), fanID: fanID, items: items,
            expiresAt: expiresAt, createdAt: try hold.decode(column: "created_at", as: Date.self))
    }

    /// Turns the hold into tickets: the hold is confirmed, its seats sold, one ticket per place
    /// issued and `reservation.confirmed` written, all in the caller's transaction.
    public func issueTickets(for hold: PricedHold, orderID: String, in transaction: DatabaseTransaction) async throws -> [Ticket] {
        let now = clock.now()
        // General admission: the tier's units move from held to sold (TierCounts: tier first).
        let unitTiers = hold.items.filter { $0.seatID == nil }.map { TierCounts.Tier(performanceID: hold.performanceID, tier: $0.tier) }
        try await TierCounts.lock(Set(unitTiers), in: transaction)
        let seatIDs = hold.items.compactMap(\.seatID)
        let tickets = hold.items.map { item in
            let id = ids.next()
            return Ticket(
                id: id, code: codes.code(ticketID: id, version: 1), performanceId: hold.performanceID, orderId: orderID,
                holderId: hold.fanID, seat: item.seatID.map { Ticket.Seat(id: $0, label: item.label ?? $0) }, tier: item.tier,
                price: item.price, status: "valid", issuedAt: now, firstScannedAt: nil, firstGate: nil)
        }
        let event = ReservationConfirmed(
            holdId: hold.holdID, orderId: orderID, performanceId: hold.performanceID, fanId: hold.fanID,
            ticketIds: tickets.map(\.id), seatIds: seatIDs, tier: seatIDs.isEmpty ? hold.items.first?.tier : nil, quantity: tickets.count)
        let (confirmed, sold): (Int, Int)
        if transaction.dialect == .postgres {
            // The hold confirmed, its seats sold by key, the tickets and the event: one round trip.
            let row = try await transaction.execute(PurchaseStatements.ConfirmHold(
                hold: hold, orderID: orderID, seatIDs: seatIDs, tickets: tickets, now: now, event: try outbox.row(for: event, in: transaction)))
            (confirmed, sold) = (row.first?.confirmed ?? 0, row.first?.sold ?? 0)
        } else {
            (confirmed, sold) = try await confirmStatementByStatement(
                hold: hold, orderID: orderID, seatIDs: seatIDs, tickets: tickets, event: event, now: now, in: transaction)
        }
        guard confirmed == 1 else {
            throw Problem(
                type: Problem.typeURI("hold-not-active"), title: "This hold can no longer be paid for.", status: 409,
                detail: "This hold expired while paying; nothing was charged.", extensions: ["holdStatus": .string("expired")])
        }
        guard sold == seatIDs.count else {
            throw Problem.conflict(detail: "The hold's seats changed while paying; nothing was charged.", slug: "hold-not-active")
        }
        try await TierCounts.add(TierCounts.units(unitTiers.map { ($0, 1) }), held: -1, sold: 1, in: transaction)
        return tickets
    }

    /// `issueTickets` on SQLite: the same writes as PostgreSQL's one statement, one by one, each
    /// only once the one before it succeeded. Returns how many holds were confirmed and seats sold.
    private func confirmStatementByStatement(
        hold: PricedHold, orderID: String, seatIDs: [String], tickets: [Ticket], event: ReservationConfirmed, now: Date,
        in transaction: DatabaseTransaction
    ) async throws -> (confirmed: Int, sold: Int) {
        let confirmed = try await transaction.sql.raw("""
            UPDATE holds SET status = 'confirmed', order_id = \(bind: orderID), ended_at = \(bind: now)
            WHERE id = \(bind: hold.holdID) AND status = 'active' AND expires_at > \(bind: now)
            RETURNING id
            """).all().count
        guard confirmed == 1 else { return (confirmed, 0) }
        var sold = 0
        if !seatIDs.isEmpty {
            // By key: the seats are known, so no scan of the performance's seats (a stadium's
            // hundred thousand) in the purchase's transaction.
            sold = try await transaction.sql.raw("""
                UPDATE performance_seats SET state = 'sold'
                WHERE performance_id = \(bind: hold.performanceID) AND seat_id IN \(SQLQueryString.list(seatIDs))
                  AND hold_id = \(bind: hold.holdID) AND state = 'held'
                RETURNING seat_id
                """).all().count
            guard sold == seatIDs.count else { return (confirmed, sold) }
        }
        var rows: SQLQueryString = ""
        for (index, ticket) in tickets.enumerated() {
            if index > 0 { rows += ", " }
            rows += """
                (\(bind: ticket.id), \(bind: hold.performanceID), \(bind: hold.holdID), \(bind: orderID), \(bind: hold.fanID), \(bind: hold.fanID),
                 \(bind: ticket.seat?.id), \(bind: ticket.seat?.label), \(bind: ticket.tier), \(bind: ticket.price.amount),
                 \(bind: ticket.price.currency.rawValue), 'valid', 1, \(bind: now))
                """
        }
        try await transaction.sql.raw("""
            INSERT INTO tickets (id, performance_id, hold_id, order_id, purchaser_id, holder_id, seat_id, seat_label, tier,
                                 price_amount, price_currency, status, code_version, issued_at)
            VALUES \(rows)
            """).run()
        try await outbox.publish(event, in: transaction)
        return (confirmed, sold)
    }

    /// Keeps an active hold until at least `until` while its payment is under way at a gateway.
    public func keepHoldForPayment(holdID: String, until: Date, in transaction: DatabaseTransaction) async throws {
        try await transaction.sql.raw("""
            UPDATE holds SET expires_at = \(bind: until) WHERE id = \(bind: holdID) AND status = 'active' AND expires_at < \(bind: until)
            """).run()
    }

    /// The refund rules of a performance, as the catalog set them.
    public func refundPolicy(performanceID: String, in transaction: DatabaseTransaction) async throws -> RefundPolicy {
        guard let row = try await transaction.sql.raw("""
            SELECT starts_at, refund_cutoff_hours, cancellation_fee_percent, status FROM sale_performances
            WHERE performance_id = \(bind: performanceID)
            """).first()
        else { throw Problem.notFound(detail: "No such performance.") }
        return RefundPolicy(
            startsAt: try row.decode(column: "starts_at", as: Date?.self),
            cutoffHours: try row.decode(column: "refund_cutoff_hours", as: Int.self),
            feePercent: try row.decode(column: "cancellation_fee_percent", as: Int.self),
            performanceCancelled: try row.decode(column: "status", as: String.self) == "cancelled")
    }

    /// What the valid tickets among `ticketIDs` cost, if `cancel` may take them all: none passed
    /// on to someone else (when `holderID` is the buyer), none used at the door. Changes nothing.
    public func cancellablePrices(
        ticketIDs: [String], orderID: String, onlyHeldBy holderID: String? = nil, in transaction: DatabaseTransaction
    ) async throws -> [Money] {
        guard !ticketIDs.isEmpty else { return [] }
        try await requireCancellable(ticketIDs: ticketIDs, orderID: orderID, onlyHeldBy: holderID, in: transaction)
        return try await transaction.sql.raw("""
            SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets
            WHERE order_id = \(bind: orderID) AND id IN \(SQLQueryString.list(ticketIDs)) AND status = 'valid'
            """).all().map(ticket).filter { holderID == nil || $0.holderId == holderID }.map(\.price)
    }

    private func requireCancellable(
        ticketIDs: [String], orderID: String, onlyHeldBy holderID: String?, in transaction: DatabaseTransaction
    ) async throws {
        // A buyer cancels only what they still hold: a ticket passed on belongs to its new holder.
        if let holderID {
            let passedOn = try await transaction.sql.raw("""
                SELECT id FROM tickets WHERE order_id = \(bind: orderID) AND id IN \(SQLQueryString.list(ticketIDs))
                  AND status = 'valid' AND holder_id <> \(bind: holderID)
                """).all()
            guard passedOn.isEmpty else {
                throw Problem.conflict(
                    detail: "A ticket you transferred to someone else is theirs now; only they can give it up.", slug: "ticket-transferred")
            }
        }
        let used = try await transaction.sql.raw("""
            SELECT id FROM tickets WHERE order_id = \(bind: orderID) AND id IN \(SQLQueryString.list(ticketIDs))
              AND status = 'valid' AND first_scanned_at IS NOT NULL
            """).all()
        guard used.isEmpty else {
            throw Problem.conflict(detail: "A ticket that was already used at the door cannot be cancelled.", slug: "ticket-used")
        }
    }

    /// Cancels valid tickets of one order and puts their places back on sale, writing
    /// `reservation.cancelled`. Returns the tickets it cancelled (already cancelled ones are
    /// skipped). A ticket already used at the door cannot be cancelled.
    public func cancel(
        ticketIDs: [String], orderID: String, onlyHeldBy holderID: String? = nil, in transaction: DatabaseTransaction
    ) async throws -> [Ticket] {
        guard !ticketIDs.isEmpty else { return [] }
        let now = clock.now()
        try await requireCancellable(ticketIDs: ticketIDs, orderID: orderID, onlyHeldBy: holderID, in: transaction)
        var stillHeld: SQLQueryString = ""
        if let holderID { stillHeld = " AND holder_id = \(bind: holderID)" }
        // General-admission tickets give their units back to the tier (TierCounts: tier first).
        let unitTiers = try await transaction.sql.raw("""
            SELECT DISTINCT performance_id, tier FROM tickets WHERE order_id = \(bind: orderID) AND id IN \(SQLQueryString.list(ticketIDs))
              AND status = 'valid' AND seat_id IS NULL
            """).all().map {
                TierCounts.Tier(
                    performanceID: try $0.decode(column: "performance_id", as: String.self), tier: try $0.decode(column: "tier", as: String.self))
            }
        try await TierCounts.lock(Set(unitTiers), in: transaction)
        let cancelled = try await transaction.sql.raw("""
            UPDATE tickets SET status = 'cancelled', cancelled_at = \(bind: now)
            WHERE order_id = \(bind: orderID) AND id IN \(SQLQueryString.list(ticketIDs)) AND status = 'valid'\(stillHeld)
            RETURNING \(unsafeRaw: Self.ticketColumns)
            """).all().map(ticket)
        guard let first = cancelled.first else { return [] }
        let unitsBack = TierCounts.units(
            cancelled.filter { $0.seat == nil }.map { (TierCounts.Tier(performanceID: $0.performanceId, tier: $0.tier), 1) })
        try await TierCounts.add(unitsBack, sold: -1, in: transaction)
        let seatIDs = cancelled.compactMap { $0.seat?.id }
        if !seatIDs.isEmpty {
            let seats = SQLQueryString.list(seatIDs)
            try await transaction.sql.raw("""
                UPDATE performance_seats SET state = 'available', hold_id = NULL
                WHERE performance_id = \(bind: first.performanceId) AND seat_id IN \(seats) AND state = 'sold'
                """).run()
            try await transaction.sql.raw("""
                UPDATE hold_items SET active = \(bind: false) WHERE performance_id = \(bind: first.performanceId) AND seat_id IN \(seats)
                  AND hold_id IN (SELECT hold_id FROM tickets WHERE order_id = \(bind: orderID))
                """).run()
        }
        try await outbox.publish(
            ReservationCancelled(
                orderId: orderID, performanceId: first.performanceId, ticketIds: cancelled.map(\.id), seatIds: seatIDs,
                tier: seatIDs.isEmpty ? first.tier : nil, quantity: cancelled.count),
            in: transaction)
        return cancelled
    }

    /// An order's tickets, for order details.
    public func tickets(orderID: String, in sql: any SQLDatabase) async throws -> [Ticket] {
        try await sql.raw("""
            SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets WHERE order_id = \(bind: orderID) ORDER BY seat_label, id
            """).all().map(ticket)
    }

    // MARK: Fans

    /// One ticket as it is now, whoever holds it: for the composition root's mail about it.
    public func ticket(id: String) async throws -> Ticket? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets WHERE id = \(bind: id)").first().map(self.ticket)
        }
    }

    /// The tickets the fan holds now, newest first.
    public func tickets(holder: Principal, page: PageRequest) async throws -> Page<Ticket> {
        let after = try page.cursor.map { try Cursor.decode($0, as: String.self) }
        let rows = try await database.read { sql in
            var query: SQLQueryString = "SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets WHERE holder_id = \(bind: holder.userID)"
            if let after { query += " AND id < \(bind: after)" }
            query += " ORDER BY id DESC LIMIT \(bind: page.limit + 1)"
            return try await sql.raw(query).all().map(self.ticket)
        }
        return Page(rows: rows, request: page) { Cursor.encode($0.id) }
    }

    /// Gives a ticket to another account. The ticket gets a new code; the old one stops working.
    /// Which of an order's tickets `holderID` still holds (the rest were passed on).
    public func ticketIDs(among ticketIDs: [String], heldBy holderID: String, in transaction: DatabaseTransaction) async throws -> [String] {
        guard !ticketIDs.isEmpty else { return [] }
        let held = Set(try await transaction.sql.raw("""
            SELECT id FROM tickets WHERE id IN \(SQLQueryString.list(ticketIDs)) AND holder_id = \(bind: holderID)
            """).all().map { try $0.decode(column: "id", as: String.self) })
        return ticketIDs.filter(held.contains)
    }

    public func transfer(ticketID: String, toEmail email: String, by fan: Principal) async throws -> Ticket {
        let normalized = email.trimmingCharacters(in: .whitespaces).lowercased()
        guard normalized.contains("@") else { throw Problem.validation([.init(field: "email", message: "is not an email address")]) }
        guard let recipient = try await recipients.userID(forEmail: normalized, askedBy: fan.userID) else {
            throw Problem.validation([.init(field: "email", message: "no Boxoffice account has this email")])
        }
        guard recipient != fan.userID else { throw Problem.validation([.init(field: "email", message: "is your own account")]) }
        let now = clock.now()
        return try await database.withTransaction { transaction in
            guard let current = try await transaction.sql.raw("""
                SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets WHERE id = \(bind: ticketID)
                """).first().map(self.ticket)
            else { throw Problem.notFound(detail: "No such ticket.") }
            try fan.requireOwnership(of: current.holderId, resource: "ticket")
            guard current.status == "valid", current.firstScannedAt == nil else {
                throw Problem.conflict(detail: "Only a valid, unused ticket can be transferred.", slug: "ticket-not-transferable")
            }
            let policy = try await self.refundPolicy(performanceID: current.performanceId, in: transaction)
            if let startsAt = policy.startsAt, startsAt <= now {
                throw Problem.conflict(detail: "The performance has started; tickets can no longer be transferred.", slug: "ticket-not-transferable")
            }
            guard let moved = try await transaction.sql.raw("""
                UPDATE tickets SET holder_id = \(bind: recipient), code_version = code_version + 1
                WHERE id = \(bind: ticketID) AND holder_id = \(bind: current.holderId) AND status = 'valid' AND first_scanned_at IS NULL
                RETURNING \(unsafeRaw: Self.ticketColumns)
                """).first().map(self.ticket)
            else { throw Problem.conflict(detail: "The ticket changed meanwhile; try again.", slug: "ticket-not-transferable") }
            try await self.outbox.publish(
                TicketTransferred(ticketId: ticketID, fromUserId: current.holderId, toUserId: recipient), in: transaction)
            self.logger.info("ticket transferred", metadata: ["ticket_id": .string(ticketID), "from": .string(current.holderId), "to": .string(recipient)])
            return moved
        }
    }

    // MARK: The door

    /// Checks a code at a gate: valid the first time, already used after that (with when and
    /// where), invalid when forged, cancelled, superseded by a transfer, or for another
    /// performance. Every scan is recorded.
    /// The door says which performance it admits to: a scan without one could burn a ticket
    /// of any other performance (a mistake at one venue, or a dishonest scanner).
    public func scan(code: String, gate: String, performanceID: String?, by staff: Principal) async throws -> ScanResult {
        try staff.require(anyOf: .staff, .organizer, .admin)
        let gate = gate.trimmingCharacters(in: .whitespacesAndNewlines)
        var errors: [Problem.FieldError] = []
        if gate.isEmpty || gate.unicodeScalars.count > 100 { errors.append(.init(field: "gate", message: "must be 1 to 100 characters")) }
        if performanceID?.isEmpty ?? true { errors.append(.init(field: "performanceId", message: "is required: the performance this door admits to")) }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        guard let performanceID, try await doors.mayScan(performanceID: performanceID, by: staff) else {
            throw Problem(
                type: Problem.typeURI("forbidden"), title: "Not door staff here.", status: 403,
                detail: "Only the organizer of this performance, or staff they took on, can scan its tickets.")
        }
        let now = clock.now()
        let scanID = ids.next()
        return try await database.withTransaction { transaction in
            func record(_ result: ScanResult, ticketID: String?) async throws -> ScanResult {
                try await transaction.sql.raw("""
                    INSERT INTO ticket_scans (id, ticket_id, gate, scanned_by, result, scanned_at)
                    VALUES (\(bind: scanID), \(bind: ticketID), \(bind: gate), \(bind: staff.userID), \(bind: result.result), \(bind: now))
                    """).run()
                return result
            }
            func invalid(_ reason: String) -> ScanResult {
                ScanResult(result: "invalid", ticket: nil, firstScannedAt: nil, firstGate: nil, reason: reason)
            }
            guard let (ticketID, version) = self.codes.verify(code) else {
                return try await record(invalid("not a Boxoffice ticket code"), ticketID: nil)
            }
            var admit: SQLQueryString = """
                UPDATE tickets SET first_scanned_at = \(bind: now), first_gate = \(bind: gate)
                WHERE id = \(bind: ticketID) AND code_version = \(bind: version) AND status = 'valid' AND first_scanned_at IS NULL
                """
            admit += " AND performance_id = \(bind: performanceID)"
            admit += " RETURNING \(unsafeRaw: Self.ticketColumns)"
            let admitted = try await transaction.sql.raw(admit).first().map(self.ticket)
            if let admitted {
                return try await record(
                    ScanResult(result: "valid", ticket: admitted, firstScannedAt: now, firstGate: gate, reason: nil), ticketID: ticketID)
            }
            guard let ticket = try await transaction.sql.raw("""
                SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets WHERE id = \(bind: ticketID)
                """).first().map(self.ticket)
            else { return try await record(invalid("no such ticket"), ticketID: nil) }
            let reason: String? =
                if ticket.status != "valid" { "the ticket was cancelled" }
                else if ticket.code != self.codes.code(ticketID: ticketID, version: version) { "the ticket was transferred; this code is no longer valid" }
                else if ticket.performanceId != performanceID { "the ticket is for another performance" }
                else { nil }
            if let reason { return try await record(invalid(reason), ticketID: ticketID) }
            return try await record(
                ScanResult(result: "already_used", ticket: ticket, firstScannedAt: ticket.firstScannedAt, firstGate: ticket.firstGate, reason: nil),
                ticketID: ticketID)
        }
    }

    // MARK: Rows

    static let ticketColumns = """
        id, performance_id, order_id, holder_id, seat_id, seat_label, tier, price_amount, price_currency, status, code_version,
        issued_at, first_scanned_at, first_gate
        """

    private func ticket(_ row: any SQLRow) throws -> Ticket {
        let id = try row.decode(column: "id", as: String.self)
        let seatID = try row.decode(column: "seat_id", as: String?.self)
        return Ticket(
            id: id, code: codes.code(ticketID: id, version: try row.decode(column: "code_version", as: Int.self)),
            performanceId: try row.decode(column: "performance_id", as: String.self),
            orderId: try row.decode(column: "order_id", as: String.self), holderId: try row.decode(column: "holder_id", as: String.self),
            seat: try seatID.map { Ticket.Seat(id: $0, label: try row.decode(column: "seat_label", as: String?.self) ?? $0) },
            tier: try row.decode(column: "tier", as: String.self),
            price: try row.decodeMoney("price_amount", currency: "price_currency"),
            status: try row.decode(column: "status", as: String.self), issuedAt: try row.decode(column: "issued_at", as: Date.self),
            firstScannedAt: try row.decode(column: "first_scanned_at", as: Date?.self),
            firstGate: try row.decode(column: "first_gate", as: String?.self))
    }
}
