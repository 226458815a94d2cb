import BoxofficeKit
import Foundation
import SQLKit

extension SQLQueryString {
    /// `(?, ?, …)` with every value bound, for `IN` lists.
    public static func list(_ values: [some Encodable & Sendable]) -> SQLQueryString {
        var list: SQLQueryString = "("
        for (index, value) in values.enumerated() {
            if index > 0 { list += ", " }
            list += "\(bind: value)"
        }
        list += ")"
        return list
    }
}

extension SQLRow {
    /// Money kept as an integer amount of minor units and a currency code, in two columns.
    public func decodeMoney(_ amountColumn: String, currency currencyColumn: String) throws -> Money {
        let code = try decode(column: currencyColumn, as: String.self)
        guard let currency = Currency(rawValue: code) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown currency '\(code)' in \(currencyColumn)"))
        }
        return Money(amount: try decode(column: amountColumn, as: Int64.self), currency: currency)
    }
}

extension SQLQueryString {
    /// A `LIKE … ESCAPE '\'` pattern matching any text that contains `text` literally (its `%`,
    /// `_` and `\` escaped).
    public static func likePattern(containing text: String) -> String {
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
        return "%" + escaped + "%"
    }
}
