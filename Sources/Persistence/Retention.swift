import Foundation
import SQLKit

/// Rows one module keeps only for a while (delivered events, spent tokens), and how to delete
/// a batch of those past their time. Each module names its own tables; the retention job in
/// the composition root runs every module's rules.
public struct RetentionRule: Sendable {
    public let name: String
    /// Deletes at most `limit` rows that are past retention at `now`; returns how many it deleted.
    public let pruneBatch: @Sendable (_ now: Date, _ limit: Int) async throws -> Int

    public init(name: String, pruneBatch: @escaping @Sendable (_ now: Date, _ limit: Int) async throws -> Int) {
        self.name = name
        self.pruneBatch = pruneBatch
    }
}

extension Database {
    /// Deletes up to `limit` rows of `table` whose `timeColumn` is before `cutoff`, in `orderBy`
    /// order (default: oldest first), in one short transaction of its own, so a hot table is
    /// never locked for long. `key` names the primary key's columns. An index on `orderBy` keeps
    /// each batch cheap.
    public func pruneBatch(
        table: String, key: [String], timeColumn: String, olderThan cutoff: Date, orderBy: String? = nil, limit: Int
    ) async throws -> Int {
        let columns = key.joined(separator: ", ")
        let row = key.count == 1 ? columns : "(\(columns))"
        return try await withTransaction { transaction in
            try await transaction.sql.raw("""
                DELETE FROM \(unsafeRaw: table) WHERE \(unsafeRaw: row) IN (
                    SELECT \(unsafeRaw: columns) FROM \(unsafeRaw: table) WHERE \(unsafeRaw: timeColumn) < \(bind: cutoff)
                    ORDER BY \(unsafeRaw: orderBy ?? timeColumn) LIMIT \(bind: limit))
                RETURNING 1 AS deleted
                """).all().count
        }
    }
}
