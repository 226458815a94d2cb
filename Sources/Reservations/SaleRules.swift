import BoxofficeKit
import Foundation

/// What a hold must meet before anything is claimed, and why it is refused. The rules live once
/// per database: PostgreSQL applies them in `reservations_hold_rules` (under the fan's lock, in
/// the hold's one call) and answers a reason code; SQLite applies them in `SaleRules.check`
/// (inside its one writer). Both give a `SaleRuleRefusal`, and `problem` is the one place a
/// refusal becomes an answer.
enum SaleRuleRefusal: Equatable {
    case notFound
    case notOnSale
    case beforeSale(opensAt: Date)
    case afterSale
    /// The hold asked for seats of a standing performance (`wantedSeats`), or units of a seated one.
    case wrongSeating(wantedSeats: Bool)
    case noQuantity
    case orderLimit(Int)
    case fanLimit(limit: Int, fanHas: Int)

    /// A reason code as `reservations_hold_rules` answers it; nil for a code that is not a refusal.
    init?(code: String, limit: Int?, fanHas: Int?, opensAt: Date?, wantedSeats: Bool) {
        switch code {
        case "not-found": self = .notFound
        case "not-on-sale": self = .notOnSale
        case "before-sale": self = .beforeSale(opensAt: opensAt ?? .distantFuture)
        case "after-sale": self = .afterSale
        case "wrong-seating": self = .wrongSeating(wantedSeats: wantedSeats)
        case "no-quantity": self = .noQuantity
        case "order-limit": self = .orderLimit(limit ?? 0)
        case "fan-limit": self = .fanLimit(limit: limit ?? 0, fanHas: fanHas ?? 0)
        default: return nil
        }
    }

    var problem: Problem {
        switch self {
        case .notFound:
            Problem.notFound(detail: "No such performance on sale.")
        case .notOnSale:
            Problem.conflict(detail: "This performance is not on sale.", slug: "not-on-sale")
        case .beforeSale(let opensAt):
            Problem(
                type: Problem.typeURI("outside-sale-window"), title: "Not on sale now.", status: 409,
                detail: "Sales open at \(opensAt.formatted(Date.ISO8601FormatStyle())).")
        case .afterSale:
            Problem(type: Problem.typeURI("outside-sale-window"), title: "Not on sale now.", status: 409, detail: "Sales have closed.")
        case .wrongSeating(wantedSeats: true):
            Problem.validation([.init(field: "seatIds", message: "this performance is general admission; hold a tier and quantity")])
        case .wrongSeating(wantedSeats: false):
            Problem.validation([.init(field: "tier", message: "this performance has reserved seats; hold seatIds")])
        case .noQuantity:
            Problem.validation([.init(field: "quantity", message: "must be at least 1")])
        case .orderLimit(let limit):
            Problem(
                type: Problem.typeURI("order-limit"), title: "Too many tickets in one order.", status: 422,
                detail: "At most \(limit) per order.", extensions: ["limit": .int(limit)])
        case .fanLimit(let limit, let fanHas):
            Problem(
                type: Problem.typeURI("fan-limit"), title: "Too many tickets for one fan.", status: 422,
                detail: "At most \(limit) per fan for this performance; you hold or bought \(fanHas).", extensions: ["limit": .int(limit)])
        }
    }
}

/// A performance's sale settings, with what the asking fan already holds or bought for it.
struct SalePerformance {
    let seating: String
    let onSaleFrom: Date
    let onSaleUntil: Date
    let holdMinutes: Int
    let maxPerOrder: Int
    let maxPerFan: Int
    let status: String
    let heldByFan: Int
}

enum SaleRules {
    /// The rules on SQLite, in the order `reservations_hold_rules` applies them on PostgreSQL.
    static func check(_ sale: SalePerformance?, wantedSeats: Bool, quantity: Int, now: Date) -> SaleRuleRefusal? {
        guard let sale else { return .notFound }
        guard sale.status == "on_sale" else { return .notOnSale }
        guard now >= sale.onSaleFrom else { return .beforeSale(opensAt: sale.onSaleFrom) }
        guard now < sale.onSaleUntil else { return .afterSale }
        guard sale.seating == (wantedSeats ? "reserved" : "general") else { return .wrongSeating(wantedSeats: wantedSeats) }
        guard quantity >= 1 else { return .noQuantity }
        guard quantity <= sale.maxPerOrder else { return .orderLimit(sale.maxPerOrder) }
        guard sale.heldByFan + quantity <= sale.maxPerFan else { return .fanLimit(limit: sale.maxPerFan, fanHas: sale.heldByFan) }
        return nil
    }
}
