import BoxofficeKit
import Foundation

/// The mails fans get, in their language, with amounts and times written as the pages write
/// them. The composition root gathers the facts from the contexts; this only words them.
public enum FanMail {
    /// The show a mail is about.
    public struct Show: Sendable {
        public let title: String
        public let venue: String
        public let startsAt: Date

        public init(title: String, venue: String, startsAt: Date) {
            self.title = title
            self.venue = venue
            self.startsAt = startsAt
        }
    }

    public struct TicketLine: Sendable {
        /// The seat's label; nil for general admission.
        public let seat: String?
        public let tier: String
        public let price: Money

        public init(seat: String?, tier: String, price: Money) {
            self.seat = seat
            self.tier = tier
            self.price = price
        }
    }

    /// Goods bought: one line per product option.
    public struct GoodsLine: Sendable {
        public let name: String
        public let option: String
        public let quantity: Int
        /// What the line cost (all its units, before any coupon).
        public let total: Money

        public init(name: String, option: String, quantity: Int, total: Money) {
            self.name = name
            self.option = option
            self.quantity = quantity
            self.total = total
        }
    }

    public struct Confirmation: Sendable {
        public let orderID: String
        public let show: Show
        public let tickets: [TicketLine]
        /// Goods bought in the same order.
        public let goods: [GoodsLine]
        /// Whether the goods are sent to the fan's address (else picked up at the venue).
        public let delivered: Bool
        public let total: Money
        /// What a coupon took off (nil or zero: none).
        public let discount: Money?
        /// wallet or gateway.
        public let method: String
        /// Until when tickets can be cancelled (nil: no longer), and the fee then kept.
        public let cancelUntil: Date?
        public let feePercent: Int

        public init(
            orderID: String, show: Show, tickets: [TicketLine], goods: [GoodsLine] = [], delivered: Bool = false, total: Money,
            discount: Money? = nil, method: String, cancelUntil: Date?, feePercent: Int
        ) {
            self.orderID = orderID
            self.show = show
            self.tickets = tickets
            self.goods = goods
            self.delivered = delivered
            self.total = total
            self.discount = discount
            self.method = method
            self.cancelUntil = cancelUntil
            self.feePercent = feePercent
        }
    }

    /// An order of goods alone.
    public struct GoodsConfirmation: Sendable {
        public let orderID: String
        public let goods: [GoodsLine]
        public let delivered: Bool
        public let total: Money
        /// What a coupon took off (nil or zero: none).
        public let discount: Money?
        public let method: String

        public init(orderID: String, goods: [GoodsLine], delivered: Bool, total: Money, discount: Money? = nil, method: String) {
            self.orderID = orderID
            self.goods = goods
            self.delivered = delivered
            self.total = total
            self.discount = discount
            self.method = method
        }
    }

    /// The order is paid and its tickets are issued.
    public static func orderConfirmed(_ order: Confirmation, to fan: FanContact, publicURL: String) -> MailMessage {
        let words = Words(fan)
        let ticketsLink = link(publicURL, "/tickets")
        let orderLink = link(publicURL, "/orders?order=\(order.orderID)")
        let lines = order.tickets.map { "\(words.seat($0)) · \(words.language.money($0.price))" }
        let paidWith = order.method == "wallet" ? (words.ko ? "포인트" : "points") : (words.ko ? "카드" : "card")
        let fee = order.feePercent > 0
            ? (words.ko ? " (수수료 \(order.feePercent)%)" : " (a \(order.feePercent)% fee is kept)") : ""
        let cancel = order.cancelUntil.map { until in
            words.ko ? "\(words.language.dateTime(until))까지 취소할 수 있습니다\(fee)." : "You can cancel until \(words.language.dateTime(until))\(fee)."
        } ?? (words.ko ? "이 주문은 이제 취소할 수 없습니다." : "This order can no longer be cancelled.")
        let summary = [
            (words.ko ? "공연" : "Show", order.show.title),
            (words.ko ? "일시" : "When", words.language.dateTime(order.show.startsAt)),
            (words.ko ? "장소" : "Where", order.show.venue),
            (words.ko ? "주문번호" : "Order", order.orderID),
        ] + words.discountRow(order.discount) + [
            (words.ko ? "결제" : "Paid", "\(words.language.money(order.total)) (\(paidWith))"),
        ]
        let greeting = words.ko ? "\(fan.name)님, 예매가 완료되었습니다." : "Hello \(fan.name), your tickets are booked."
        let ticketsHeading = words.ko ? "티켓 \(order.tickets.count)매" : "\(order.tickets.count) ticket\(order.tickets.count == 1 ? "" : "s")"
        let showAtDoor = words.ko ? "입장할 때 보여 줄 QR 코드는 내 티켓에 있습니다:" : "The QR codes to show at the door are in My tickets:"
        let manage = words.ko ? "주문 내역과 취소:" : "Your order and cancellation:"
        let goods = order.goods.isEmpty ? nil : words.goodsSection(order.goods, delivered: order.delivered)
        let text = ([greeting, ""] + summary.map { "\($0.0): \($0.1)" } + ["", ticketsHeading] + lines.map { "- \($0)" }
            + (goods.map { ["", $0.heading] + $0.lines.map { "- \($0)" } + [$0.delivery] } ?? [])
            + ["", showAtDoor, ticketsLink, "", manage, orderLink, cancel]).joined(separator: "\n")
        let html = page([
            "<p>\(escape(greeting))</p>",
            table(summary),
            "<h2>\(escape(ticketsHeading))</h2>",
            "<ul>" + lines.map { "<li>\(escape($0))</li>" }.joined() + "</ul>",
            goods.map(Self.html) ?? "",
            "<p>\(escape(showAtDoor)) <a href=\"\(escape(ticketsLink))\">\(escape(ticketsLink))</a></p>",
            "<p>\(escape(manage)) <a href=\"\(escape(orderLink))\">\(escape(orderLink))</a><br>\(escape(cancel))</p>",
        ])
        let subject = words.ko ? "[박스오피스] 예매 완료: \(order.show.title)" : "Your tickets for \(order.show.title)"
        return MailMessage(to: fan.email, subject: words.subject(subject), text: text, html: html)
    }

    /// An order of goods alone is paid.
    public static func goodsOrderConfirmed(_ order: GoodsConfirmation, to fan: FanContact, publicURL: String) -> MailMessage {
        let words = Words(fan)
        let orderLink = link(publicURL, "/orders?order=\(order.orderID)")
        let paidWith = order.method == "wallet" ? (words.ko ? "포인트" : "points") : (words.ko ? "카드" : "card")
        let summary = [
            (words.ko ? "주문번호" : "Order", order.orderID),
        ] + words.discountRow(order.discount) + [
            (words.ko ? "결제" : "Paid", "\(words.language.money(order.total)) (\(paidWith))"),
        ]
        let goods = words.goodsSection(order.goods, delivered: order.delivered)
        let greeting = words.ko ? "\(fan.name)님, 주문이 완료되었습니다." : "Hello \(fan.name), your order is confirmed."
        let manage = words.ko ? "주문 내역, 배송 조회와 취소:" : "Your order, its delivery and cancellation:"
        let text = ([greeting, ""] + summary.map { "\($0.0): \($0.1)" } + ["", goods.heading] + goods.lines.map { "- \($0)" }
            + [goods.delivery, "", manage, orderLink]).joined(separator: "\n")
        let html = page([
            "<p>\(escape(greeting))</p>",
            table(summary),
            Self.html(goods),
            "<p>\(escape(manage)) <a href=\"\(escape(orderLink))\">\(escape(orderLink))</a></p>",
        ])
        let subject = words.ko ? "[박스오피스] 주문 완료: \(order.orderID)" : "Your order \(order.orderID) is confirmed"
        return MailMessage(to: fan.email, subject: words.subject(subject), text: text, html: html)
    }

    private static func html(_ goods: GoodsSection) -> String {
        "<h2>\(escape(goods.heading))</h2><ul>" + goods.lines.map { "<li>\(escape($0))</li>" }.joined() + "</ul><p>\(escape(goods.delivery))</p>"
    }

    /// The goods of an order as a mail lists them.
    private struct GoodsSection {
        let heading: String
        let lines: [String]
        let delivery: String
    }

    /// Someone gave the fan a ticket.
    public static func ticketReceived(show: Show, ticket: TicketLine, from giver: FanContact?, to fan: FanContact, publicURL: String) -> MailMessage {
        let words = Words(fan)
        let giverName = giver?.name ?? (words.ko ? "다른 회원" : "Another fan")
        let seat = words.seat(ticket)
        let ticketsLink = link(publicURL, "/tickets")
        let greeting = words.ko
            ? "\(fan.name)님, \(giverName)님이 티켓을 보냈습니다."
            : "Hello \(fan.name), \(giverName) gave you a ticket."
        let summary = [
            (words.ko ? "공연" : "Show", show.title),
            (words.ko ? "일시" : "When", words.language.dateTime(show.startsAt)),
            (words.ko ? "장소" : "Where", show.venue),
            (words.ko ? "좌석" : "Seat", seat),
        ]
        let yours = words.ko
            ? "이제 이 티켓은 회원님의 것입니다. 입장용 QR 코드는 새로 만들어졌고, 보낸 분의 코드는 더 이상 쓸 수 없습니다:"
            : "The ticket is yours now. Its QR code is new, and the giver's copy no longer opens the door:"
        let text = ([greeting, ""] + summary.map { "\($0.0): \($0.1)" } + ["", yours, ticketsLink]).joined(separator: "\n")
        let html = page([
            "<p>\(escape(greeting))</p>",
            table(summary),
            "<p>\(escape(yours)) <a href=\"\(escape(ticketsLink))\">\(escape(ticketsLink))</a></p>",
        ])
        let subject = words.ko ? "[박스오피스] \(giverName)님이 보낸 티켓: \(show.title)" : "\(giverName) gave you a ticket for \(show.title)"
        return MailMessage(to: fan.email, subject: words.subject(subject), text: text, html: html)
    }

    /// The waiting room let the fan in while their page was not watching.
    public static func admitted(
        show: Show, performanceID: String, shopUntil: Date?, to fan: FanContact, publicURL: String
    ) -> MailMessage {
        let words = Words(fan)
        let shopLink = link(publicURL, "/performances/\(performanceID)/queue")
        let greeting = words.ko
            ? "\(fan.name)님, 대기열에서 차례가 되었습니다."
            : "Hello \(fan.name), your turn in the waiting room has come."
        let until = shopUntil.map {
            words.ko ? "\(words.language.dateTime($0))까지 좌석을 고르고 결제하세요." : "Pick your seats and pay by \(words.language.dateTime($0))."
        } ?? (words.ko ? "좌석을 고르고 결제하세요." : "Pick your seats and pay.")
        let text = [
            greeting, "", "\(show.title) · \(words.language.dateTime(show.startsAt)) · \(show.venue)", "", until, shopLink,
            "", words.ko ? "시간이 지나면 다음 분께 차례가 넘어갑니다." : "After that, your turn passes to the next fan in line.",
        ].joined(separator: "\n")
        let html = page([
            "<p>\(escape(greeting))</p>",
            "<p><strong>\(escape(show.title))</strong><br>\(escape(words.language.dateTime(show.startsAt))) · \(escape(show.venue))</p>",
            "<p>\(escape(until)) <a href=\"\(escape(shopLink))\">\(escape(shopLink))</a></p>",
        ])
        let subject = words.ko ? "[박스오피스] 입장 차례입니다: \(show.title)" : "It's your turn: \(show.title)"
        return MailMessage(to: fan.email, subject: words.subject(subject), text: text, html: html)
    }

    private struct Words {
        let language: PageLanguage
        var ko: Bool { language == .ko }

        init(_ fan: FanContact) { language = PageLanguage(rawValue: fan.language) ?? .ko }

        /// "A-1-1 (R석)" / "A-1-1 (R)"; general admission: "Standing석 입장권" / "Standing admission".
        func seat(_ ticket: TicketLine) -> String {
            ticket.seat.map { ko ? "\($0) (\(ticket.tier)석)" : "\($0) (\(ticket.tier))" }
                ?? (ko ? "\(ticket.tier)석 입장권" : "\(ticket.tier) admission")
        }

        /// The summary's coupon line ("−9,000원"), when a coupon took something off.
        func discountRow(_ discount: Money?) -> [(String, String)] {
            guard let discount, discount.amount > 0 else { return [] }
            return [(ko ? "쿠폰 할인" : "Coupon discount", "−" + language.money(discount))]
        }

        /// "투어 티셔츠 (L) × 2 · 70,000원"; how they reach the fan.
        func goodsSection(_ goods: [GoodsLine], delivered: Bool) -> GoodsSection {
            GoodsSection(
                heading: ko ? "상품 \(goods.count)종" : "\(goods.count) item\(goods.count == 1 ? "" : "s")",
                lines: goods.map { "\($0.name) (\($0.option)) × \($0.quantity) · \(language.money($0.total))" },
                delivery: delivered
                    ? (ko ? "배송지로 보내 드립니다. 발송되면 주문 내역에서 운송장 번호를 볼 수 있습니다." : "We send them to your address; once they ship, your order shows the tracking number.")
                    : (ko ? "공연장에서 수령합니다." : "Pick them up at the venue."))
        }

        /// A subject is one header line: titles are organizer-written and may hold line breaks.
        func subject(_ text: String) -> String {
            text.components(separatedBy: .newlines).joined(separator: " ")
        }
    }

    private static func link(_ publicURL: String, _ path: String) -> String {
        (publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL) + path
    }

    /// Label and value rows, escaped.
    private static func table(_ rows: [(String, String)]) -> String {
        "<table>" + rows.map { "<tr><th align=\"left\">\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined() + "</table>"
    }

    private static func page(_ parts: [String]) -> String {
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">" + parts.joined(separator: "\n") + "</body></html>"
    }

    /// Everything in a mail's HTML that a person wrote (titles, names) is escaped.
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
