import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Payments
import Persistence
import SQLKit
import TestSupport
import Testing

/// A gateway checkout driven through the API, with the sandbox gateway in the role of PortOne.
struct GatewaySale {
    let sale: OnSale
    let fan: String
    let sandbox: SandboxGateway

    static func make(_ client: any TestClientProtocol, _ platform: BoxofficePlatform) async throws -> GatewaySale {
        GatewaySale(
            sale: try await OnSale.make(client, platform), fan: try await OnSale.token(platform, userID: "fan-1"),
            sandbox: try #require(platform.sandboxGateway))
    }

    /// Holds two seats and starts a gateway checkout: (order ID, payment ID).
    func start(seats: Range<Int> = 0..<2) async throws -> (order: String, payment: String) {
        let holdID = try await sale.holdID(Array(sale.seatIDs[seats]), fan: fan)
        let started = try await sale.checkout(hold: holdID, fan: fan, method: "gateway")
        #expect(started.status == 202, "\(started.rawBody)")
        #expect(started.order["status"] as? String == "pending_payment")
        let intent = try #require(started.json["paymentIntent"] as? [String: Any])
        #expect((intent["amount"] as? [String: Any])?["amount"] as? Int == 110_000 * seats.count)
        return (try #require(started.order["id"] as? String), try #require(intent["paymentId"] as? String))
    }

    func webhook(_ type: String = "Transaction.Paid", payment: String, id: String = UUID().uuidString, tamper: Bool = false) async throws -> Int {
        let (body, headers) = sandbox.signedWebhook(type: type, paymentID: payment, id: id)
        var fields: HTTPFields = [.contentType: "application/json"]
        for (name, value) in headers { fields[HTTPField.Name(name)!] = tamper && name == "webhook-signature" ? "v1,AAAA" + value.dropFirst(7) : value }
        return try await sale.client.execute(
            uri: "/v1/payments/webhooks/sandbox", method: .post, headers: fields, body: ByteBuffer(bytes: body)
        ) { $0.status.code }
    }

    func order(_ id: String) async throws -> OnSale.Reply {
        try await sale.platform.relay.deliverPending()
        return try await sale.call(.get, "/v1/orders/\(id)", fan: fan)
    }

    func paymentStatus(_ id: String) async throws -> String? {
        try await sale.call(.get, "/v1/payments/\(id)", fan: fan).json["status"] as? String
    }
}

@Suite struct GatewayCheckoutTests {
    @Test(arguments: DatabaseDialect.allCases)
    func theWebhookFirstThenTheReturningClientAndADuplicateWebhookMakeOneOrder(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let (orderID, paymentID) = try await gateway.start()
                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, sendWebhook: false)
                let webhookID = UUID().uuidString
                #expect(try await gateway.webhook(payment: paymentID, id: webhookID) == 200)
                let paid = try await gateway.order(orderID)
                #expect(paid.json["status"] as? String == "paid", "\(paid.rawBody)")
                #expect((paid.json["items"] as? [Any])?.count == 2)

                let returned = try await gateway.sale.call(.post, "/v1/payments/\(paymentID)/complete", fan: gateway.fan)
                #expect(returned.json["status"] as? String == "paid")
                #expect(try await gateway.webhook(payment: paymentID, id: webhookID) == 200, "a repeated delivery is acknowledged")
                #expect(try await gateway.webhook(payment: paymentID) == 200)
                _ = try await gateway.order(orderID)
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM tickets") == 2)
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM outbox WHERE event_type = 'payment.completed'") == 1)
                #expect(try await gateway.sale.balance(gateway.fan) == 0, "a gateway payment never touches the wallet")
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aWebhookThatCouldNotBeHandledIsHandledWhenTheGatewaySendsItAgain(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                // A pending payment the gateway cannot yet tell us about (as when it is down).
                let paymentID = "pay-unreachable"
                try await platform.database.withTransaction { transaction in
                    try await platform.payments.recordPendingGatewayPayment(
                        id: paymentID, userID: "fan-1", orderID: nil, purpose: "topup", amount: Money(amount: 10_000, currency: .krw),
                        in: transaction)
                }
                let webhookID = UUID().uuidString
                #expect(try await gateway.webhook(payment: paymentID, id: webhookID) == 502)
                #expect(try await gateway.paymentStatus(paymentID) == "pending")

                _ = try await gateway.sandbox.prepare(GatewayPaymentRequest(
                    paymentID: paymentID, amount: Money(amount: 10_000, currency: .krw), orderName: "Top-up", customerID: "fan-1"))
                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, sendWebhook: false)
                #expect(try await gateway.webhook(payment: paymentID, id: webhookID) == 200, "the same delivery, retried")
                #expect(try await gateway.paymentStatus(paymentID) == "paid")
                #expect(try await gateway.sale.balance(gateway.fan) == 10_000)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func theReturningClientFirstThenTheWebhookIsANoOp(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let (orderID, paymentID) = try await gateway.start()
                let early = try await gateway.sale.call(.post, "/v1/payments/\(paymentID)/complete", fan: gateway.fan)
                #expect(early.json["status"] as? String == "pending", "not paid at the gateway yet")
                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, sendWebhook: false)
                let returned = try await gateway.sale.call(.post, "/v1/payments/\(paymentID)/complete", fan: gateway.fan)
                #expect(returned.json["status"] as? String == "paid")
                #expect(try await gateway.order(orderID).json["status"] as? String == "paid")
                #expect(try await gateway.webhook(payment: paymentID) == 200)
                #expect(try await gateway.order(orderID).json["status"] as? String == "paid")
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM tickets") == 2)
                let other = try await OnSale.token(platform, userID: "fan-2")
                #expect(try await gateway.sale.call(.post, "/v1/payments/\(paymentID)/complete", fan: other).status == 404)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aBadSignatureIsRefusedAndAWrongAmountIsFailedAndGivenBack(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let (orderID, paymentID) = try await gateway.start()
                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, amount: 1_000, sendWebhook: false)
                #expect(try await gateway.webhook(payment: paymentID, tamper: true) == 401)
                #expect(try await gateway.paymentStatus(paymentID) == "pending", "a forged webhook changes nothing")

                #expect(try await gateway.webhook(payment: paymentID) == 200)
                let payment = try await gateway.sale.call(.get, "/v1/payments/\(paymentID)", fan: gateway.fan)
                #expect(payment.json["status"] as? String == "failed")
                #expect(payment.json["failure"] as? String == "the amount paid did not match the amount due")
                let order = try await gateway.order(orderID)
                #expect(order.json["status"] as? String == "payment_failed")
                let atGateway = try await gateway.sandbox.payment(id: paymentID)
                #expect(atGateway.status == .cancelled && atGateway.cancelledAmount == 1_000, "exactly what was paid went back")
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM tickets") == 0)
                #expect(try await gateway.sale.sum("SELECT CAST(SUM(amount) AS BIGINT) AS n FROM refunds WHERE status = 'completed'") == 1_000)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func everyMismatchedAmountIsGivenBackInFullAndAmountsNoGatewayTakesAreRefused(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                // Like PortOne, the sandbox's pay page refuses nothing, less than nothing and more than registered.
                let (_, paymentID) = try await gateway.start(seats: 0..<1)
                for amount in [0, -5, 110_001] {
                    let refused = try await gateway.sale.call(
                        .post, "/v1/sandbox/payments/\(paymentID)/pay", fan: gateway.fan, body: ["amount": amount])
                    #expect(refused.status == 422, "amount \(amount): \(refused.rawBody)")
                }
                #expect(try await gateway.sandbox.payment(id: paymentID).status == .ready, "a refused payment changes nothing")
                // Every amount a tampered client can pay short is given back exactly.
                for (index, paid) in [1, 109_999].enumerated() {
                    let (orderID, paymentID) = try await gateway.start(seats: (index + 1)..<(index + 2))
                    _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, amount: Int64(paid), sendWebhook: false)
                    #expect(try await gateway.webhook(payment: paymentID) == 200)
                    #expect(try await gateway.order(orderID).json["status"] as? String == "payment_failed")
                    let atGateway = try await gateway.sandbox.payment(id: paymentID)
                    #expect(atGateway.status == .cancelled && atGateway.cancelledAmount == Int64(paid))
                }
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM refunds WHERE status <> 'completed'") == 0)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aRefundCarriedOutAgainAfterACrashIsNotPaidTwice(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let (orderID, paymentID) = try await gateway.start()
                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, sendWebhook: false)
                #expect(try await gateway.webhook(payment: paymentID) == 200)
                #expect(try await gateway.order(orderID).json["status"] as? String == "paid")
                let ticket = try #require(try await gateway.sale.call(.get, "/v1/tickets", fan: gateway.fan).json["items"] as? [[String: Any]]).first
                let cancelled = try await gateway.sale.call(
                    .post, "/v1/orders/\(orderID)/cancel", fan: gateway.fan, body: ["ticketIds": [try #require(ticket?["id"] as? String)]])
                #expect(cancelled.status == 200, "\(cancelled.rawBody)")
                // The gateway gives the money back, then the process dies before the refund is
                // marked done: the relay will carry the same refund out again.
                let refund = try #require(try await platform.database.read { sql in
                    try await sql.raw("SELECT id, amount, cancellable_before FROM refunds WHERE payment_id = \(bind: paymentID)").first()
                })
                let amount = try refund.decode(column: "amount", as: Int64.self)
                let before = try refund.decode(column: "cancellable_before", as: Int64.self)
                #expect(amount == 110_000 && before == 220_000)
                try await gateway.sandbox.giveBack(paymentID: paymentID, amount: amount, cancellableBefore: before, reason: "first try")
                try await platform.relay.deliverPending()
                let atGateway = try await gateway.sandbox.payment(id: paymentID)
                #expect(atGateway.cancelledAmount == 110_000, "refunded once, not twice")
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM refunds WHERE status = 'completed'") == 1)
                // A repeat that does not match what the first cancel left is refused, not swallowed.
                await #expect(throws: GatewayError.self) {
                    try await gateway.sandbox.giveBack(paymentID: paymentID, amount: 10_000, cancellableBefore: before, reason: "stale")
                }
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aDeclinedPaymentKeepsTheHoldSoTheFanCanPayAgain(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let holdID = try await gateway.sale.holdID(Array(gateway.sale.seatIDs[0..<1]), fan: gateway.fan)
                let first = try await gateway.sale.checkout(hold: holdID, fan: gateway.fan, method: "gateway")
                let firstPayment = try #require((first.json["paymentIntent"] as? [String: Any])?["paymentId"] as? String)
                let busy = try await gateway.sale.checkout(hold: holdID, fan: gateway.fan, method: "wallet")
                #expect(busy.status == 409, "one live order per hold")
                _ = try gateway.sandbox.pay(paymentID: firstPayment, outcome: .failed, sendWebhook: false)
                #expect(try await gateway.webhook("Transaction.Failed", payment: firstPayment) == 200)
                #expect(try await gateway.order(try #require(first.order["id"] as? String)).json["status"] as? String == "payment_failed")

                let second = try await gateway.sale.checkout(hold: holdID, fan: gateway.fan, method: "gateway")
                #expect(second.status == 202, "\(second.rawBody)")
                let secondPayment = try #require((second.json["paymentIntent"] as? [String: Any])?["paymentId"] as? String)
                _ = try gateway.sandbox.pay(paymentID: secondPayment, outcome: .paid, sendWebhook: false)
                #expect(try await gateway.webhook(payment: secondPayment) == 200)
                #expect(try await gateway.order(try #require(second.order["id"] as? String)).json["status"] as? String == "paid")
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aPaymentAfterTheHoldEndedAndTheSeatsWereSoldIsRefundedAutomatically(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let (orderID, paymentID) = try await gateway.start()
                // The fan dawdles past the payment hold; someone else takes the seats.
                clock.advance(by: 11 * 60)
                let other = try await OnSale.token(platform, userID: "fan-2")
                #expect(try await gateway.sale.hold(["seatIds": Array(gateway.sale.seatIDs[0..<2])], fan: other).status == 201)

                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, sendWebhook: false)
                #expect(try await gateway.webhook(payment: paymentID) == 200)
                let order = try await gateway.order(orderID)
                #expect(order.json["status"] as? String == "cancelled", "\(order.rawBody)")
                let note = (order.json["history"] as? [[String: Any]])?.last?["note"] as? String ?? ""
                #expect(note.contains("after the hold had ended"))
                #expect((order.json["refunded"] as? [String: Any])?["amount"] as? Int == 220_000)
                // The relay carries the refund out at the gateway.
                _ = try await gateway.order(orderID)
                #expect(try await gateway.sandbox.payment(id: paymentID).status == .cancelled)
                let refunds = try await gateway.order(orderID).json["refunds"] as? [[String: Any]]
                #expect(refunds?.first?["status"] as? String == "completed")
                #expect(try await gateway.sale.sum("SELECT COUNT(*) AS n FROM tickets") == 0)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func cancellingAGatewayOrderRefundsAtTheGatewayAndAWalletTopUpCreditsOnce(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let (orderID, paymentID) = try await gateway.start(seats: 0..<1)
                _ = try gateway.sandbox.pay(paymentID: paymentID, outcome: .paid, sendWebhook: false)
                #expect(try await gateway.webhook(payment: paymentID) == 200)
                #expect(try await gateway.order(orderID).json["status"] as? String == "paid")
                let cancelled = try await gateway.sale.call(.post, "/v1/orders/\(orderID)/cancel", fan: gateway.fan)
                #expect(cancelled.json["status"] as? String == "cancelled", "\(cancelled.rawBody)")
                _ = try await gateway.order(orderID)
                #expect(try await gateway.sandbox.payment(id: paymentID).status == .cancelled)
                #expect(try await gateway.paymentStatus(paymentID) == "refunded")

                let topUp = try await gateway.sale.call(.post, "/v1/wallet/topups", fan: gateway.fan, body: ["amount": 50_000], headers: OnSale.idempotencyKey())
                #expect(topUp.status == 202, "\(topUp.rawBody)")
                let topUpID = try #require((topUp.json["paymentIntent"] as? [String: Any])?["paymentId"] as? String)
                _ = try gateway.sandbox.pay(paymentID: topUpID, outcome: .paid, sendWebhook: false)
                #expect(try await gateway.webhook(payment: topUpID) == 200)
                #expect(try await gateway.sale.call(.post, "/v1/payments/\(topUpID)/complete", fan: gateway.fan).json["status"] as? String == "paid")
                #expect(try await gateway.webhook(payment: topUpID) == 200)
                #expect(try await gateway.sale.balance(gateway.fan) == 50_000)
                let tooSmall = try await gateway.sale.call(.post, "/v1/wallet/topups", fan: gateway.fan, body: ["amount": 10], headers: OnSale.idempotencyKey())
                #expect(tooSmall.status == 422)
            }
        }
    }

    @Test func theSandboxDeliversItsOwnSignedWebhookAfterTheFanPays() async throws {
        try await withPlatform(.sqlite) { platform in
            try await platform.buildApplication().test(.router) { client in
                let gateway = try await GatewaySale.make(client, platform)
                let topUp = try await gateway.sale.call(.post, "/v1/wallet/topups", fan: gateway.fan, body: ["amount": 30_000], headers: OnSale.idempotencyKey())
                let intent = try #require(topUp.json["paymentIntent"] as? [String: Any])
                let payText = try #require(intent["payUrl"] as? String)
                let payURL = try #require(URL(string: payText))
                let paid = try await client.execute(uri: payURL.path, method: .post) { $0.status.code }
                #expect(paid == 200)
                var balance = 0
                for _ in 0..<50 where balance == 0 {
                    try await Task.sleep(for: .milliseconds(100))
                    balance = try await gateway.sale.balance(gateway.fan)
                }
                #expect(balance == 30_000)
            }
        }
    }
}

/// The PortOne HTTP adapter against a local server speaking PortOne's API (the sandbox's).
@Suite struct PortOneAdapterTests {
    @Test func theAdapterRegistersReadsAndCancelsPaymentsOverHTTP() async throws {
        let logger = Logger(label: "test")
        let server = SandboxGateway(apiSecret: "api-secret", webhookSecret: "webhook-secret", publicURL: "http://localhost", logger: logger)
        let router = Router()
        server.addPortOneRoutes(to: router)
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { client in
            let base = "http://127.0.0.1:\(try #require(client.port))"
            let adapter = PortOneGateway(
                configuration: .init(apiURL: base, apiSecret: "api-secret", storeID: "store-1", channelKey: "channel-1", webhookSecret: "webhook-secret"),
                logger: logger)
            let intent = try await adapter.prepare(
                GatewayPaymentRequest(paymentID: "pay-1", amount: Money(amount: 5_000, currency: .krw), orderName: "1 ticket", customerID: "fan"))
            #expect(intent.storeId == "store-1" && intent.channelKey == "channel-1" && intent.paymentId == "pay-1")
            #expect(try await adapter.payment(id: "pay-1").status == .ready)
            _ = try server.pay(paymentID: "pay-1", outcome: .paid, sendWebhook: false)
            let paid = try await adapter.payment(id: "pay-1")
            #expect(paid.status == .paid && paid.paidAmount == 5_000 && paid.currency == "KRW")
            try await adapter.giveBack(paymentID: "pay-1", amount: 2_000, cancellableBefore: 5_000, reason: "one of two")
            try await adapter.giveBack(paymentID: "pay-1", amount: 2_000, cancellableBefore: 5_000, reason: "one of two")  // a retry
            let partly = try await adapter.payment(id: "pay-1")
            #expect(partly.status == .partiallyCancelled && partly.cancelledAmount == 2_000, "the retry refunded nothing more")
            for (amount, before, code) in [
                (9_000, 3_000, GatewayError.exceedsCancellable), (0, 3_000, GatewayError.invalidRequest),
                (-1, 3_000, GatewayError.invalidRequest), (1_000, 5_000, GatewayError.cancellableAmountChanged),
            ] as [(Int64, Int64, String)] {
                let error = await #expect(throws: GatewayError.self) {
                    try await adapter.cancel(paymentID: "pay-1", amount: amount, cancellableBefore: before, reason: "refused")
                }
                #expect(error?.code == code, "\(amount) of \(before)")
            }
            try await adapter.giveBack(paymentID: "pay-1", amount: 3_000, cancellableBefore: 3_000, reason: "the rest")
            try await adapter.giveBack(paymentID: "pay-1", amount: 3_000, cancellableBefore: 3_000, reason: "the rest")  // a retry
            #expect(try await adapter.payment(id: "pay-1").status == .cancelled)
            await #expect(throws: GatewayError.self) { try await adapter.payment(id: "nope") }
            let stranger = PortOneGateway(
                configuration: .init(apiURL: base, apiSecret: "wrong", storeID: nil, channelKey: nil, webhookSecret: "x"), logger: logger)
            await #expect(throws: GatewayError.self) { try await stranger.payment(id: "pay-1") }

            let webhook = server.signedWebhook(type: "Transaction.Paid", paymentID: "pay-1")
            #expect(try adapter.verifyWebhook(body: webhook.body, headers: webhook.headers).paymentID == "pay-1")
            #expect(throws: Problem.self) { try adapter.verifyWebhook(body: webhook.body + [0x20], headers: webhook.headers) }
            #expect(throws: Problem.self) { try stranger.verifyWebhook(body: webhook.body, headers: webhook.headers) }
        }
    }
}
