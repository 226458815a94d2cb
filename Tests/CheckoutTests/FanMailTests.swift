import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Mail
import Persistence
import SQLKit
import Synchronization
import TestSupport
import Testing
import WaitingRoom

/// The mails fans get from what happened, through the real API, the relay and the mail queue,
/// read back from the embedded mailer's files.
@Suite struct FanMailTests {
    /// A real account (mail needs an address and a language), and a token for it.
    private func account(_ sale: OnSale, _ email: String, name: String, language: String) async throws -> (id: String, token: String) {
        let reply = try await sale.client.execute(
            uri: "/v1/auth/signup", method: .post, headers: [.contentType: "application/json"],
            body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: [
                "email": email, "password": "correct horse battery", "name": name, "language": language,
            ]))
        ) { response in
            (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] ?? [:]
        }
        let id = try #require((reply["user"] as? [String: Any])?["id"] as? String, "\(reply)")
        return (id, try await OnSale.token(sale.platform, userID: id))
    }

    /// The decoded text of every mail sent to `address`, oldest first.
    private func mails(to address: String, _ platform: BoxofficePlatform) async throws -> [String] {
        try await platform.sentMail().filter { $0.contains("To: \(address)") }.compactMap { MailMessage.decodedText(ofRaw: $0) }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aPaidOrderMailsItsTicketsOnceInTheBuyersLanguageAndAGivenTicketMailsItsReceiver(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let buyer = try await account(sale, "minji@example.com", name: "김민지", language: "ko")
                _ = try await account(sale, "alex@example.com", name: "Alex", language: "en")
                try await sale.grant(300_000, to: buyer.id)
                let paid = try await sale.checkout(hold: try await sale.holdID(Array(sale.seatIDs.prefix(2)), fan: buyer.token), fan: buyer.token)
                #expect(paid.status == 201, "\(paid.rawBody)")
                let orderID = try #require(paid.order["id"] as? String)
                let labels = paid.tickets.compactMap { ($0["seat"] as? [String: Any])?["label"] as? String }
                #expect(labels.count == 2)
                try await platform.relay.deliverPending()

                let confirmation = try #require(try await mails(to: "minji@example.com", platform).first { $0.contains(orderID) })
                #expect(confirmation.contains("김민지님, 예매가 완료되었습니다."), "\(confirmation)")
                for label in labels { #expect(confirmation.contains("\(label) (R석) · 110,000원"), "\(confirmation)") }
                #expect(confirmation.contains("결제: 220,000원 (포인트)"))
                #expect(confirmation.contains("/tickets") && confirmation.contains("/orders?order=\(orderID)"))
                #expect(confirmation.contains("까지 취소할 수 있습니다"), "the deadline is spelled out: \(confirmation)")

                // A redelivered event queues nothing twice: the mail is keyed by its order.
                let again = try await platform.database.withTransaction { transaction in
                    try await platform.mailQueue.enqueue(
                        MailMessage(to: "minji@example.com", subject: "again", text: "again"), key: "order-confirmed:\(orderID)", in: transaction)
                }
                #expect(again == false)
                try await platform.relay.deliverPending()
                #expect(try await mails(to: "minji@example.com", platform).filter { $0.contains(orderID) }.count == 1)

                // The buyer gives one ticket to a friend, who reads about it in English.
                let ticketID = try #require(paid.tickets.first?["id"] as? String)
                let given = try await sale.call(
                    .post, "/v1/tickets/\(ticketID)/transfer", fan: buyer.token, body: ["email": "alex@example.com"])
                #expect(given.status == 200, "\(given.rawBody)")
                try await platform.relay.deliverPending()
                let received = try #require(try await mails(to: "alex@example.com", platform).first { $0.contains("gave you a ticket") })
                #expect(received.contains("Hello Alex, 김민지 gave you a ticket."), "\(received)")
                #expect(received.contains("Seat: \(labels[0]) (R)") || received.contains("Seat: \(labels[1]) (R)"), "\(received)")
                #expect(received.contains("Show: On-sale") && received.contains("/tickets"))
                let figures = try await platform.mailQueue.figures()
                #expect(figures.waiting == 0 && figures.failed == 0 && figures.sent >= 2, "\(figures)")
            }
        }
    }

    /// Goods bought alone get a confirmation of their own; goods bought with a ticket are in the
    /// ticket's confirmation: one mail an order either way, saying how the goods reach the fan.
    @Test(arguments: DatabaseDialect.allCases)
    func goodsAloneAndGoodsWithATicketEachGetOneConfirmationThatListsThem(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let shop = try await MerchandiseTests.Shop.make(sale)
                let buyer = try await account(sale, "seoyeon@example.com", name: "서연", language: "ko")
                try await sale.grant(500_000, to: buyer.id)
                let address = try await sale.call(.post, "/v1/me/addresses", fan: buyer.token, body: [
                    "recipient": "서연", "phone": "010-1234-5678", "postcode": "05551", "address1": "서울 송파구 올림픽로 1", "address2": "101동",
                    "note": "문 앞",
                ])
                let addressID = try #require(address.json["id"] as? String, "\(address.rawBody)")
                // A coupon of 7,000 off the goods: the mail says what it took off.
                let coupon = try #require(try await CouponTests.coupon(sale, shop, ["discount": ["amount": 7_000]]).json["id"] as? String)
                #expect(try await sale.call(.post, "/v1/coupons/\(coupon)/claim", fan: buyer.token).status == 201)
                let alone = try await sale.call(
                    .post, "/v1/checkout", fan: buyer.token,
                    body: ["items": [["optionId": shop.medium, "quantity": 2]], "addressId": addressID, "method": "wallet", "couponId": coupon],
                    headers: OnSale.idempotencyKey())
                #expect(alone.status == 201, "\(alone.rawBody)")
                let together = try await shop.buy(
                    [["optionId": shop.large, "quantity": 1]], hold: try await sale.holdID([sale.seatIDs[0]], fan: buyer.token), fan: buyer.token)
                #expect(together.status == 201, "\(together.rawBody)")
                let aloneID = try #require(alone.order["id"] as? String)
                let togetherID = try #require(together.order["id"] as? String)
                for _ in 0..<3 { try await platform.relay.deliverPending() }

                let received = try await mails(to: "seoyeon@example.com", platform)
                let goodsMails = received.filter { $0.contains(aloneID) }
                #expect(goodsMails.count == 1, "\(received)")
                let goods = try #require(goodsMails.first)
                #expect(goods.contains("서연님, 주문이 완료되었습니다."), "\(goods)")
                #expect(goods.contains("Tour T-shirt (M) × 2 · 70,000원"), "\(goods)")
                #expect(goods.contains("쿠폰 할인: −7,000원"), "\(goods)")
                #expect(goods.contains("결제: 66,000원 (포인트)"), "the goods less the coupon, and one shipping fee: \(goods)")
                #expect(goods.contains("배송지로 보내 드립니다") && goods.contains("/orders?order=\(aloneID)"), "\(goods)")
                #expect(!goods.contains("예매"), "no tickets in this order: \(goods)")

                let ticketMails = received.filter { $0.contains(togetherID) }
                #expect(ticketMails.count == 1, "\(received)")
                let both = try #require(ticketMails.first)
                #expect(both.contains("서연님, 예매가 완료되었습니다."), "\(both)")
                #expect(both.contains("(R석) · 110,000원") && both.contains("Tour T-shirt (L) × 1 · 35,000원"), "\(both)")
                #expect(both.contains("결제: 145,000원 (포인트)") && both.contains("공연장에서 수령합니다."), "\(both)")
                #expect(!both.contains("쿠폰"), "no coupon line without a coupon: \(both)")
            }
        }
    }

    /// At an on-sale the relay hands the mail subscriber many confirmations at once; each fan
    /// still gets one mail, in their language, with their own seats and total.
    @Test(arguments: DatabaseDialect.allCases)
    func confirmationsDeliveredTogetherMailEachFanTheirOwnOrder(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let fans = [
                    try await account(sale, "one@example.com", name: "One", language: "en"),
                    try await account(sale, "two@example.com", name: "둘", language: "ko"),
                    try await account(sale, "three@example.com", name: "Three", language: "en"),
                ]
                var bought: [(orderID: String, labels: [String])] = []
                for (index, fan) in fans.enumerated() {
                    try await sale.grant(500_000, to: fan.id)
                    let seats = Array(sale.seatIDs.dropFirst(2 * index).prefix(index + 1))
                    let paid = try await sale.checkout(hold: try await sale.holdID(seats, fan: fan.token), fan: fan.token)
                    #expect(paid.status == 201, "\(paid.rawBody)")
                    bought.append((
                        try #require(paid.order["id"] as? String),
                        paid.tickets.compactMap { ($0["seat"] as? [String: Any])?["label"] as? String }))
                }
                try await platform.relay.deliverPending()

                for (index, fan) in ["one@example.com", "two@example.com", "three@example.com"].enumerated() {
                    let received = try await mails(to: fan, platform).filter { mail in bought.contains { mail.contains($0.orderID) } }
                    #expect(received.count == 1, "one confirmation for \(fan): \(received)")
                    let mail = try #require(received.first)
                    #expect(mail.contains(bought[index].orderID))
                    for label in bought[index].labels { #expect(mail.contains(label), "\(mail)") }
                    for (other, order) in bought.enumerated() where other != index {
                        #expect(!mail.contains(order.orderID) && order.labels.allSatisfy { !mail.contains("\($0) (R") }, "\(mail)")
                    }
                    let total = 110_000 * (index + 1)
                    #expect(mail.contains(total.formatted(.number.locale(Locale(identifier: "en_US")))), "\(mail)")
                }
                #expect(try await mails(to: "two@example.com", platform).contains { $0.contains("둘님, 예매가 완료되었습니다.") })
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aFanWhosePageWasClosedIsMailedWhenTheirTurnComesAndAFanWatchingIsNot(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform)
                let organizer = try await OnSale.token(platform, userID: "organizer", roles: [.organizer])
                let configured = try await sale.call(.put, "/v1/performances/\(sale.performanceID)/queue", fan: organizer, body: [
                    "enabled": true, "opensAt": clock.now().addingTimeInterval(-60).formatted(Date.ISO8601FormatStyle()),
                    "admitPerMinute": 600, "maxActiveShoppers": 1000,
                ])
                #expect(configured.status == 200, "\(configured.rawBody)")
                let watching = try await account(sale, "watching@example.com", name: "Watcher", language: "en")
                let away = try await account(sale, "away@example.com", name: "이서준", language: "ko")
                var tickets: [String: String] = [:]
                for fan in [watching, away] {
                    let joined = try await sale.call(.post, "/v1/performances/\(sale.performanceID)/queue/join", fan: fan.token)
                    #expect(joined.status == 200, "\(joined.rawBody)")
                    tickets[fan.id] = try #require(joined.json["queueTicket"] as? String)
                }
                // For 30 s one fan's page keeps asking while the other's is closed (still within
                // the minute's keep-alive); then the gate lets both in.
                for _ in 0..<3 {
                    clock.advance(by: 10)
                    let status = try await client.execute(
                        uri: "/v1/performances/\(sale.performanceID)/queue/status", method: .get, headers: [.queueTicket: tickets[watching.id]!]
                    ) { $0.status }
                    #expect(status == .ok)
                    try await platform.waitingRoom.flush()
                }
                try await QueueGate(service: platform.waitingRoom).step()
                let admitted = try await platform.database.read { sql in
                    try await sql.raw("""
                        SELECT fan_id FROM queue_places WHERE performance_id = \(bind: sale.performanceID) AND admitted_at IS NOT NULL
                        """).all().map { try $0.decode(column: "fan_id", as: String.self) }
                }
                #expect(Set(admitted) == [watching.id, away.id], "both were let in (the closed page within its keep-alive)")
                try await platform.relay.deliverPending()

                let turn = try #require(try await mails(to: "away@example.com", platform).first { $0.contains("차례") })
                #expect(turn.contains("이서준님, 대기열에서 차례가 되었습니다."), "\(turn)")
                #expect(turn.contains("/performances/\(sale.performanceID)/queue"))
                #expect(turn.contains("까지 좌석을 고르고 결제하세요."), "the end of the shopping time is given: \(turn)")
                #expect(try await mails(to: "watching@example.com", platform).allSatisfy { !$0.contains("your turn") },
                        "a fan looking at the page needs no mail")
            }
        }
    }

    /// A mail server that is down for a while, and one that refuses a message outright.
    private final class FlakyMailer: Mailer, Sendable {
        let outagesLeft = Mutex(2)
        let delivered = Mutex<[String]>([])

        func send(_ message: MailMessage) async throws {
            if message.to.hasPrefix("refused") { throw MailError.refused("550 no such mailbox") }
            let down = outagesLeft.withLock { left in
                defer { left -= 1 }
                return left > 0
            }
            if down { throw MailError.unavailable("connection refused") }
            delivered.withLock { $0.append(message.to) }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func queuedMailOutlastsAServerThatIsDownAndARefusedMessageIsGivenUpNotRetried(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            let queue = MailQueue(database: platform.database, clock: clock)
            let mailer = FlakyMailer()
            let sender = MailSender(queue: queue, mailer: mailer, logger: platform.logger)
            let queued = try await platform.database.withTransaction { transaction in
                [
                    try await queue.enqueue(MailMessage(to: "fan@example.com", subject: "s", text: "t"), key: "test:1", in: transaction),
                    try await queue.enqueue(MailMessage(to: "refused@example.com", subject: "s", text: "t"), key: "test:2", in: transaction),
                ]
            }
            #expect(queued == [true, true])
            #expect(try await sender.sendDue() == 2)
            #expect(try await queue.figures() == .init(waiting: 1, sent: 0, failed: 1), "the refusal is final")
            #expect(try await sender.sendDue() == 0, "the retry waits")
            clock.advance(by: 31)
            #expect(try await sender.sendDue() == 1)
            #expect(mailer.delivered.withLock { $0 }.isEmpty, "still down")
            clock.advance(by: 61)
            #expect(try await sender.sendDue() == 1)
            #expect(mailer.delivered.withLock { $0 } == ["fan@example.com"])
            #expect(try await queue.figures() == .init(waiting: 0, sent: 1, failed: 1))
            clock.advance(by: 3600)
            #expect(try await sender.sendDue() == 0, "nothing is sent twice")
        }
    }
}
