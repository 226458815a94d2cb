import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Persistence
import SQLKit
import TestSupport
import Testing

/// Money into wallets: grants and top-ups are retried safely, like checkout.
@Suite struct WalletCreditTests {
    @Test(arguments: DatabaseDialect.allCases)
    func aRetriedGrantCreditsOnceEvenWhenTheRetriesRace(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let admin = try await sale.admin()
                let fan = try await OnSale.token(platform, userID: "fan-1")
                let body: [String: Any] = ["amount": 5_000, "reason": "cash at the box office"]
                let missing = try await sale.call(.post, "/v1/admin/wallets/fan-1/grants", fan: admin, body: body)
                #expect(missing.status == 400, "\(missing.rawBody)")

                let key = OnSale.idempotencyKey()
                let replies = try await withThrowingTaskGroup(of: OnSale.Reply.self) { group in
                    for _ in 0..<8 {
                        group.addTask {
                            try await sale.call(
                                .post, "/v1/admin/wallets/fan-1/grants", fan: admin, body: ["amount": 5_000, "reason": "cash at the box office"],
                                headers: key)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let granted = replies.filter { $0.status == 201 }
                #expect(!granted.isEmpty && replies.allSatisfy { $0.status == 201 || $0.status == 409 }, "\(replies.map(\.status))")
                #expect(Set(granted.map(\.rawBody)).count == 1, "every retry gets the first answer byte for byte")
                #expect(try await sale.balance(fan) == 5_000)
                #expect(try await sale.sum("SELECT COUNT(*) AS n FROM wallet_ledger WHERE reason = 'grant'") == 1)

                let otherBody = try await sale.call(
                    .post, "/v1/admin/wallets/fan-1/grants", fan: admin, body: ["amount": 6_000, "reason": "cash"], headers: key)
                #expect(otherBody.status == 422, "the same key for another grant is refused")
                #expect(try await sale.balance(fan) == 5_000)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aRetriedTopUpRegistersOnePaymentAndCreditsOnce(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                #expect(try await gateway.sale.call(.post, "/v1/wallet/topups", fan: gateway.fan, body: ["amount": 20_000]).status == 400)
                let key = OnSale.idempotencyKey()
                let first = try await gateway.sale.call(.post, "/v1/wallet/topups", fan: gateway.fan, body: ["amount": 20_000], headers: key)
                let again = try await gateway.sale.call(.post, "/v1/wallet/topups", fan: gateway.fan, body: ["amount": 20_000], headers: key)
                #expect(first.status == 202 && again.status == 202, "\(first.rawBody)")
                #expect(first.rawBody == again.rawBody)
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM payments WHERE purpose = 'topup'") == 1)
                let paymentID = try #require((first.json["paymentIntent"] as? [String: Any])?["paymentId"] as? String)
                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, sendWebhook: false)
                #expect(try await gateway.webhook(payment: paymentID) == 200)
                #expect(try await gateway.sale.balance(gateway.fan) == 20_000)
            }
        }
    }
}
