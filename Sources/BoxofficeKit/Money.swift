/// An ISO 4217 currency code such as `KRW` or `USD`.
public struct Currency: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts exactly three ASCII upper-case letters.
    public init?(rawValue: String) {
        guard rawValue.utf8.count == 3, rawValue.utf8.allSatisfy({ (65...90).contains($0) }) else {
            return nil
        }
        self.rawValue = rawValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let code = try container.decode(String.self)
        guard let currency = Currency(rawValue: code) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "a currency is three upper-case letters, such as KRW")
        }
        self = currency
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static let krw = Currency(rawValue: "KRW")!
    public static let usd = Currency(rawValue: "USD")!
}

/// An amount of money in integer minor units (won, cents) of one currency.
///
/// Never a floating-point number: sums of prices and refunds must be exact.
public struct Money: Hashable, Codable, Sendable, CustomStringConvertible {
    public var amount: Int64
    public var currency: Currency

    public init(amount: Int64, currency: Currency) {
        self.amount = amount
        self.currency = currency
    }

    public static func zero(_ currency: Currency) -> Money { Money(amount: 0, currency: currency) }

    public var description: String { "\(amount) \(currency)" }

    /// Adds two amounts of the same currency; mixing currencies or overflowing throws.
    public func adding(_ other: Money) throws(MoneyError) -> Money {
        guard currency == other.currency else { throw .currencyMismatch(currency, other.currency) }
        let (sum, overflow) = amount.addingReportingOverflow(other.amount)
        guard !overflow else { throw .overflow }
        return Money(amount: sum, currency: currency)
    }

    public func subtracting(_ other: Money) throws(MoneyError) -> Money {
        try adding(Money(amount: -other.amount, currency: other.currency))
    }

    /// This amount times a whole quantity (a price for `n` seats).
    public func multiplied(by quantity: Int) throws(MoneyError) -> Money {
        let (product, overflow) = amount.multipliedReportingOverflow(by: Int64(quantity))
        guard !overflow else { throw .overflow }
        return Money(amount: product, currency: currency)
    }
}

public enum MoneyError: Error, Equatable, Sendable {
    case currencyMismatch(Currency, Currency)
    case overflow
}
