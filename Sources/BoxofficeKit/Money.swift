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

extension Money {
    /// The largest price or credit Boxoffice accepts anywhere (a trillion minor units): far
    /// below where any sum of what one order can hold would overflow.
    public static let maximumAmount: Int64 = 1_000_000_000_000

    /// The sum of `amounts`, all in `currency`; mixing currencies or overflowing throws.
    public static func sum(_ amounts: some Sequence<Money>, currency: Currency) throws(MoneyError) -> Money {
        var total = Money.zero(currency)
        for amount in amounts { total = try total.adding(amount) }
        return total
    }

    /// `percent` of this amount, rounded down to a whole minor unit (a cancellation fee).
    public func percentage(_ percent: Int) throws(MoneyError) -> Money {
        let (product, overflow) = amount.multipliedReportingOverflow(by: Int64(percent))
        guard !overflow else { throw .overflow }
        return Money(amount: product / 100, currency: currency)
    }
}

public enum MoneyError: Error, Equatable, Sendable {
    case currencyMismatch(Currency, Currency)
    case overflow
}

extension MoneyError: ProblemConvertible {
    /// Input is capped so that no sum overflows; reaching this is a request no order can hold.
    public var problem: Problem {
        switch self {
        case .overflow:
            Problem(type: Problem.typeURI("amount-too-large"), title: "The amount is too large.", status: 422,
                    detail: "The amounts involved exceed what one order can hold.")
        case .currencyMismatch(let first, let second):
            Problem(type: Problem.typeURI("currency-mismatch"), title: "Different currencies.", status: 422,
                    detail: "\(first) and \(second) cannot be added together.")
        }
    }
}
