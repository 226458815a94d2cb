import Persistence
import SQLKit

/// The running counts of a general-admission tier (`ga_tiers.held` and `.sold`), kept in step
/// with every change to the tier's holds and tickets, in the same transaction.
///
/// `held` is the units of the tier's `active` holds — one that ran out still counts until it is
/// expired, which is why a hold expires the tier's lapsed holds before it decides. `sold` is the
/// tier's valid tickets.
///
/// Lock order: whoever changes a tier's holds or tickets locks the tier's row first (`lock`),
/// then the holds or tickets. Holding does so (the row is the tier's queue), and so must
/// releasing, expiring, confirming and cancelling, or two of them could deadlock.
struct TierCounts {
    struct Tier: Hashable, Comparable {
        let performanceID: String
        let tier: String

        static func < (lhs: Tier, rhs: Tier) -> Bool {
            (lhs.performanceID, lhs.tier) < (rhs.performanceID, rhs.tier)
        }
    }

    /// Locks the tiers' rows in one order. (SQLite's single writer already serializes.)
    static func lock(_ tiers: Set<Tier>, in transaction: DatabaseTransaction) async throws {
        guard transaction.dialect == .postgres, !tiers.isEmpty else { return }
        var query: SQLQueryString = "SELECT tier FROM ga_tiers WHERE "
        for (index, tier) in tiers.sorted().enumerated() {
            if index > 0 { query += " OR " }
            query += "(performance_id = \(bind: tier.performanceID) AND tier = \(bind: tier.tier))"
        }
        query += " ORDER BY performance_id, tier FOR UPDATE"
        try await transaction.sql.raw(query).run()
    }

    /// Adds to the tier's counts (negative to take away).
    static func add(held: Int = 0, sold: Int = 0, to tier: Tier, in transaction: DatabaseTransaction) async throws {
        guard held != 0 || sold != 0 else { return }
        try await transaction.sql.raw("""
            UPDATE ga_tiers SET held = held + \(bind: held), sold = sold + \(bind: sold)
            WHERE performance_id = \(bind: tier.performanceID) AND tier = \(bind: tier.tier)
            """).run()
    }

    /// Units per tier, summed from (tier, units) pairs.
    static func units<Pairs: Sequence>(_ pairs: Pairs) -> [Tier: Int] where Pairs.Element == (Tier, Int) {
        Dictionary(pairs, uniquingKeysWith: +)
    }

    /// `add` for several tiers, in lock order: `held` and `sold` times each tier's units
    /// (`held: -1, sold: 1` moves them from held to sold).
    static func add(_ units: [Tier: Int], held: Int = 0, sold: Int = 0, in transaction: DatabaseTransaction) async throws {
        for (tier, count) in units.sorted(by: { $0.key < $1.key }) {
            try await add(held: held * count, sold: sold * count, to: tier, in: transaction)
        }
    }
}
