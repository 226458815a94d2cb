import BoxofficeKit
import Catalog
import Commerce
import Foundation
import HTTPKit
import Identity
import Logging
import Messaging
import Payments
import Persistence
import SQLKit
import WaitingRoom

/// What `boxoffice serve --demo` puts into an empty embedded database, through the same
/// services (and so the same rules) as the API: an organizer, a fan and door staff, a venue
/// with a seat map of four sections in three tiers, two seated events on sale now, a standing
/// one (general admission) on sale now, one that opens in a few minutes behind a waiting room,
/// and a funded wallet for the fan.
public enum DemoData {
    public struct Account: Sendable {
        public let role: String
        public let email: String
        public let password: String
    }

    /// Demo accounts have fixed passwords: the demo serves only on loopback with the sandbox gateway.
    public static let accounts = [
        Account(role: "organizer", email: "organizer@demo.boxoffice.local", password: "demo organizer 2026"),
        Account(role: "fan", email: "fan@demo.boxoffice.local", password: "demo fan 2026"),
        Account(role: "staff", email: "staff@demo.boxoffice.local", password: "demo staff 2026"),
    ]

    /// Fills the database unless it already holds an event; returns whether it did.
    @discardableResult
    public static func fillIfEmpty(_ platform: BoxofficePlatform) async throws -> Bool {
        let events = try await platform.database.read { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM events").first()?.decode(column: "n", as: Int.self) ?? 0
        }
        guard events == 0 else { return false }
        // The relay's service is not running yet; publishing waits for its sales to open, which
        // takes the relay delivering the publication: deliver meanwhile.
        let delivery = Task {
            while !Task.isCancelled {
                _ = try? await platform.relay.deliverPending()
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer { delivery.cancel() }
        let identity = platform.identity
        var users: [String: User] = [:]
        for account in accounts {
            let roles: Set<Role> = account.role == "organizer" ? [.organizer] : account.role == "staff" ? [.staff] : []
            users[account.role] = try await identity.signUp(
                email: account.email, password: account.password, name: "Demo \(account.role)", roles: roles, verification: .trustedCaller)
        }
        guard let organizerUser = users["organizer"], let fan = users["fan"], let staff = users["staff"] else { return false }
        let organizer = Principal(userID: organizerUser.id, roles: [.organizer])
        let catalog = platform.catalog

        let venue = try await catalog.createVenue(name: "Olympic Hall", address: "424 Olympic-ro, Songpa-gu, Seoul", by: organizer)
        _ = try await catalog.replaceSeatMap(venueID: venue.id, seats: seatMap(), by: organizer)
        try await catalog.addStaff(staff.id, by: organizer)

        let now = platform.clock.now()
        let day: TimeInterval = 86_400
        func draft<T: Decodable>(_ type: T.Type, _ json: [String: Any]) throws -> T {
            try JSONCoding.decoder.decode(T.self, from: JSONSerialization.data(withJSONObject: json))
        }
        func iso(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle()) }
        func prices(_ vip: Int, _ r: Int, _ s: Int) -> [[String: Any]] {
            [("VIP", vip), ("R", r), ("S", s)].map { ["tier": $0.0, "price": ["amount": $0.1, "currency": "KRW"]] }
        }
        let standing: [[String: Any]] = [("Standing A", 99_000, 300), ("Standing B", 77_000, 300)].map {
            ["tier": $0.0, "price": ["amount": $0.1, "currency": "KRW"], "quota": $0.2]
        }
        let shows: [(title: String, artist: String, category: String, description: String, prices: [[String: Any]], opensIn: TimeInterval)] = [
            ("Aurora Nights — Seoul", "Aurora", "concert",
             "Two nights of the Aurora tour in Seoul.\n투어의 서울 공연, 이틀 밤.", prices(165_000, 143_000, 110_000), -3_600),
            ("The Lantern Keeper", "Hanbit Company", "musical",
             "A new musical about a lighthouse and the people it guides home.\n등대와 사람들에 관한 창작 뮤지컬.", prices(150_000, 130_000, 90_000), -3_600),
            ("Hanbit Live 2027", "Hanbit", "concert",
             "Opens in a few minutes behind a waiting room: join the queue when it opens.\n잠시 후 대기열과 함께 예매가 열립니다.",
             prices(176_000, 154_000, 121_000), 300),
            ("Daybreak Club Night", "Daybreak", "concert",
             "Standing only: choose a block and how many tickets.\n전석 스탠딩: 구역과 매수를 고르세요.", standing, -3_600),
        ]
        var eventIDs: [String] = []
        for (index, show) in shows.enumerated() {
            let event = try await catalog.createEvent(
                try draft(CatalogService.EventDraft.self, [
                    "title": show.title, "description": show.description, "artist": show.artist, "category": show.category,
                    "venueId": venue.id,
                ]), by: organizer)
            let opensAt = now.addingTimeInterval(show.opensIn)
            var performanceIDs: [String] = []
            for night in 0..<(index == 0 ? 2 : 1) {
                // Curtain at 19:00 in Seoul (10:00 UTC), as real shows are.
                let startDay = (now.timeIntervalSince1970 / day).rounded(.down) + Double(20 + index * 7 + night)
                let startsAt = Date(timeIntervalSince1970: startDay * day + 10 * 3_600)
                var performanceDraft: [String: Any] = [
                    "startsAt": iso(startsAt), "onSaleFrom": iso(opensAt), "onSaleUntil": iso(startsAt.addingTimeInterval(-3_600)),
                    "prices": show.prices.map { $0.filter { $0.key != "quota" } }, "holdMinutes": 8, "maxSeatsPerOrder": 4, "maxSeatsPerFan": 4,
                ]
                // Standing tiers are sold by the number, up to each block's capacity.
                let quotas = show.prices.compactMap { price in (price["quota"] as? Int).map { ["tier": price["tier"] ?? "", "quota": $0] } }
                if !quotas.isEmpty { performanceDraft["generalAdmission"] = quotas }
                let performance = try await catalog.addPerformance(
                    eventID: event.id, try draft(CatalogService.PerformanceDraft.self, performanceDraft), by: organizer)
                performanceIDs.append(performance.id)
            }
            _ = try await catalog.publishEvent(id: event.id, by: organizer)
            eventIDs.append(event.id)
            if show.opensIn > 0 {
                for performanceID in performanceIDs {
                    _ = try await platform.waitingRoom.configure(
                        performanceID: performanceID,
                        try draft(WaitingRoomService.QueueRequest.self, [
                            "enabled": true, "opensAt": iso(opensAt), "prequeueMinutes": 5, "admitPerMinute": 60, "maxActiveShoppers": 50,
                        ]), by: organizer)
                }
            }
        }
        // The Aurora tour's merchandise, sold beside its tickets.
        func won(_ amount: Int64) -> Money { Money(amount: amount, currency: .krw) }
        let goods: [ProductService.ProductDraft] = [
            .init(
                name: "Aurora Tour T-shirt", description: "Black cotton, the tour's dates on the back.\n투어 날짜가 새겨진 검정 면 티셔츠.",
                eventId: eventIDs.first, options: ["S", "M", "L", "XL"].map { .init(name: $0, price: won(39_000), stock: 120) }, maxPerFan: 4),
            .init(
                name: "Aurora Light Stick", description: "The official light stick; pairs with the show's lighting.\n공식 응원봉.",
                eventId: eventIDs.first, options: [.init(name: "Standard", price: won(45_000), stock: 300)], maxPerFan: 2),
            .init(
                name: "Aurora Photo Book", description: "96 pages from the rehearsals.\n리허설 사진 96쪽.", eventId: eventIDs.first,
                options: [.init(name: "Hardcover", price: won(32_000), stock: 80)]),
        ]
        for product in goods { _ = try await platform.products.createProduct(product, by: organizer) }
        _ = try await platform.coupons.createCoupon(
            try draft(CouponService.CouponDraft.self, [
                "name": "Aurora tour 10%", "discount": ["percent": 10], "totalIssuable": 100, "minimumOrder": 50_000,
                "validFrom": iso(now.addingTimeInterval(-3_600)), "validUntil": iso(now.addingTimeInterval(30 * day)), "eventId": eventIDs.first ?? "",
            ]), by: organizer)
        _ = try await platform.payments.grant(
            to: fan.id, amount: 2_000_000, note: "demo points", idempotencyKey: "demo-fan-wallet",
            by: Principal(userID: "demo", roles: [.admin]))
        return true
    }

    /// Four sections of ten rows of twenty seats: VIP in front, then R, then S.
    static func seatMap() -> [SeatInput] {
        var seats: [SeatInput] = []
        for (sectionIndex, section) in ["A", "B", "C", "D"].enumerated() {
            for row in 1...10 {
                for seat in 1...20 {
                    let tier = row <= 3 ? "VIP" : row <= 7 ? "R" : "S"
                    seats.append(SeatInput(
                        section: section, row: String(row), seat: String(seat),
                        x: Double(sectionIndex * 22 + seat), y: Double(row), tier: tier))
                }
            }
        }
        return seats
    }
}
