import BoxofficeKit
import Foundation
import Testing

@Suite struct MoneyTests {
    @Test func amountsOfOneCurrencyAddAndMultiplyExactly() throws {
        let price = Money(amount: 55_000, currency: .krw)
        #expect(try price.multiplied(by: 4) == Money(amount: 220_000, currency: .krw))
        #expect(try price.adding(Money(amount: 1, currency: .krw)).amount == 55_001)
        #expect(try price.subtracting(price) == .zero(.krw))
    }

    @Test func mixingCurrenciesIsRefused() {
        #expect(throws: MoneyError.currencyMismatch(.krw, .usd)) {
            try Money(amount: 1, currency: .krw).adding(Money(amount: 1, currency: .usd))
        }
    }

    @Test func overflowIsRefusedInsteadOfWrapping() {
        #expect(throws: MoneyError.overflow) {
            try Money(amount: .max, currency: .krw).adding(Money(amount: 1, currency: .krw))
        }
        #expect(throws: MoneyError.overflow) {
            try Money(amount: .max / 2, currency: .krw).multiplied(by: 3)
        }
    }

    @Test func moneyIsJSONWithAmountInMinorUnitsAndACurrencyCode() throws {
        let json = try JSONEncoder().encode(Money(amount: 5000, currency: .krw))
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["amount"] as? Int == 5000)
        #expect(object["currency"] as? String == "KRW")
    }

    @Test(arguments: ["krw", "KR", "KRWW", "K1W", ""])
    func malformedCurrencyCodesAreRejected(code: String) {
        #expect(Currency(rawValue: code) == nil)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Money.self, from: Data(#"{"amount":1,"currency":"\#(code)"}"#.utf8))
        }
    }
}
