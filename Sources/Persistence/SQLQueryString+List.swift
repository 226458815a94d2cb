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
