import BoxofficeKit
import BoxofficeServer
import Catalog
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Persistence
import SQLKit
import TestSupport
import Testing

/// Calls the real application as organizers and fans.
struct CatalogAPI {
    let client: any TestClientProtocol
    let platform: BoxofficePlatform

    struct Reply {
        let status: HTTPResponse.Status
        let json: [String: Any]
        let array: [[String: Any]]
    }

    func call(
        _ method: HTTPRequest.Method, _ path: String, token: String? = nil, body: [String: Any]? = nil,
        csv: String? = nil
    ) async throws -> Reply {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        var buffer: ByteBuffer?
        if let body {
            headers[.contentType] = "application/json"
            buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body))
        } else if let csv {
            headers[.contentType] = "text/csv"
            buffer = ByteBuffer(string: csv)
        }
        return try await client.execute(uri: path, method: method, headers: headers, body: buffer) { response in
            let object = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
            return Reply(
                status: response.status, json: object as? [String: Any] ?? [:],
                array: (object as? [String: Any])?["items"] as? [[String: Any]] ?? [])
        }
    }

    /// A signed-in user with the given roles; returns an access token.
    func user(_ email: String, roles: Set<Role> = [.organizer]) async throws -> String {
        let user = try await platform.identity.signUp(
            email: email, password: "correct horse battery", name: "Org", verification: .trustedCaller)
        _ = try await platform.identity.setRoles(userID: user.id, roles: roles, by: Principal(userID: "test", roles: [.admin]))
        return try await platform.identity.signIn(email: email, password: "correct horse battery", clientAddress: nil).accessToken
    }

    static let seatCSV = """
        section,row,seat,x,y,tier,attributes
        A,1,1,10,10,VIP,accessible
        A,1,2,20,10,VIP,
        B,1,1,10,40,R,restricted-view;aisle
        B,1,2,20,40,R
        """

    /// A venue with the four-seat map above; returns its ID.
    func venue(_ token: String) async throws -> String {
        let venue = try await call(.post, "/v1/venues", token: token, body: ["name": "Olympic Hall", "address": "424 Olympic-ro, Seoul"])
        let id = try #require(venue.json["id"] as? String)
        #expect(try await call(.put, "/v1/venues/\(id)/seatmap", token: token, csv: Self.seatCSV).json["seatCount"] as? Int == 4)
        return id
    }

    func event(_ token: String, venue: String, title: String = "Winter Concert", category: String = "concert") async throws -> String {
        let reply = try await call(.post, "/v1/events", token: token, body: [
            "title": title, "description": "An evening of songs", "artist": "IU", "category": category, "venueId": venue,
            "imageUrls": ["https://images.example/winter.jpg"],
        ])
        #expect(reply.status == .created)
        return try #require(reply.json["id"] as? String)
    }

    static func time(_ offset: TimeInterval) -> String {
        Date().addingTimeInterval(offset).formatted(Date.ISO8601FormatStyle())
    }

    func performance(_ token: String, event: String, startsIn days: Double = 30, body extra: [String: Any] = [:]) async throws -> Reply {
        var body: [String: Any] = [
            "startsAt": Self.time(days * 86400), "onSaleFrom": Self.time(3600), "onSaleUntil": Self.time(days * 86400 - 3600),
            "prices": [["tier": "VIP", "price": ["amount": 165_000, "currency": "KRW"]],
                       ["tier": "R", "price": ["amount": 132_000, "currency": "KRW"]]],
        ]
        body.merge(extra) { _, new in new }
        return try await call(.post, "/v1/events/\(event)/performances", token: token, body: body)
    }
}

@Suite struct CatalogTests {
    @Test(arguments: DatabaseDialect.allCases)
    func anOrganizerListsAnEventThatFansCanBrowse(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = CatalogAPI(client: client, platform: platform)
                let organizer = try await api.user("org@example.com")
                let venue = try await api.venue(organizer)
                let event = try await api.event(organizer, venue: venue)

                // A draft is the organizer's alone.
                #expect(try await api.call(.get, "/v1/events/\(event)").status == .notFound)
                #expect(try await api.call(.get, "/v1/events").array.isEmpty)
                #expect(try await api.call(.post, "/v1/events/\(event)/publish", token: organizer).status == .conflict)

                let performance = try await api.performance(organizer, event: event)
                #expect(performance.status == .created)
                #expect(performance.json["seating"] as? String == "reserved")
                #expect(performance.json["holdMinutes"] as? Int == 5)
                #expect(performance.json["maxSeatsPerOrder"] as? Int == 4)
                let published = try await api.call(.post, "/v1/events/\(event)/publish", token: organizer)
                #expect(published.json["status"] as? String == "published")

                let listed = try await api.call(.get, "/v1/events")
                #expect(listed.array.map { $0["id"] as? String } == [event])
                let detail = try await api.call(.get, "/v1/events/\(event)")
                let performances = try #require(detail.json["performances"] as? [[String: Any]])
                #expect(performances.count == 1)
                let tiers = try #require(performances.first?["tiers"] as? [[String: Any]])
                #expect(tiers.map { $0["tier"] as? String } == ["R", "VIP"])
                let performanceID = try #require(performance.json["id"] as? String)
                #expect(try await api.call(.get, "/v1/performances/\(performanceID)").json["eventId"] as? String == event)

                // The changes others care about are in the outbox.
                let types = try await platform.database.read { sql in
                    try await sql.raw("SELECT event_type FROM outbox ORDER BY position").all().map { try $0.decode(column: "event_type", as: String.self) }
                }
                #expect(types.filter { $0 != "user.registered" && $0 != "user.roles_changed" } == ["performance.scheduled", "event.published"])
            }
        }
    }

    /// The event page is what an on-sale's crowd reloads: it comes from the cache, and every
    /// change through the API drops the cached copy at once.
    @Test func aPublishedEventIsServedFromTheCacheUntilItChanges() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = CatalogAPI(client: client, platform: platform)
                let organizer = try await api.user("org@example.com")
                let event = try await api.event(organizer, venue: try await api.venue(organizer))
                _ = try await api.performance(organizer, event: event)
                #expect(try await api.call(.post, "/v1/events/\(event)/publish", token: organizer).status == .ok)
                #expect(try await api.call(.get, "/v1/events/\(event)").json["title"] as? String != "Changed behind its back")

                // A change that bypasses the service is not seen while the copy lives…
                try await platform.database.withTransaction { transaction in
                    try await transaction.sql.raw("UPDATE events SET title = 'Changed behind its back' WHERE id = \(bind: event)").run()
                }
                #expect(try await api.call(.get, "/v1/events/\(event)").json["title"] as? String != "Changed behind its back")
                // …one through the API is seen at once.
                let patched = try await api.call(.patch, "/v1/events/\(event)", token: organizer, body: ["title": "Encore"])
                #expect(patched.status == .ok)
                #expect(try await api.call(.get, "/v1/events/\(event)").json["title"] as? String == "Encore")
            }
        }
    }

    @Test func fansCannotCreateVenuesAndOrganizersCannotTouchOthersEvents() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = CatalogAPI(client: client, platform: platform)
                let fan = try await api.user("fan@example.com", roles: [])
                #expect(try await api.call(.post, "/v1/venues", token: fan, body: ["name": "X", "address": "Y"]).status == .forbidden)
                #expect(try await api.call(.post, "/v1/venues", body: ["name": "X", "address": "Y"]).status == .unauthorized)

                let organizerA = try await api.user("a@example.com")
                let organizerB = try await api.user("b@example.com")
                let venue = try await api.venue(organizerA)
                let event = try await api.event(organizerA, venue: venue)
                #expect(try await api.call(.patch, "/v1/events/\(event)", token: organizerB, body: ["title": "Mine now"]).status == .notFound)
                #expect(try await api.call(.post, "/v1/events/\(event)/cancel", token: organizerB).status == .notFound)
                #expect(try await api.call(.put, "/v1/venues/\(venue)/seatmap", token: organizerB, csv: CatalogAPI.seatCSV).status == .notFound)
                // B cannot put an event in A's venue either.
                let borrowed = try await api.call(.post, "/v1/events", token: organizerB, body: [
                    "title": "T", "description": "", "artist": "A", "category": "c", "venueId": venue,
                ])
                #expect(borrowed.status == .notFound)
                let renamed = try await api.call(.patch, "/v1/events/\(event)", token: organizerA, body: ["title": "Winter Concert II"])
                #expect(renamed.json["title"] as? String == "Winter Concert II")
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aSeatMapImportsExactlyOrReportsEveryBadLineByNumber(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = CatalogAPI(client: client, platform: platform)
                let organizer = try await api.user("org@example.com")
                let venue = try await api.venue(organizer)
                let seats = try await platform.database.read { sql in
                    try await sql.raw("SELECT section, row_label, seat_label, x, tier, attributes FROM seats WHERE venue_id = \(bind: venue) ORDER BY position").all()
                }
                #expect(seats.count == 4)
                #expect(try seats[2].decode(column: "attributes", as: String.self) == "restricted-view,aisle")
                #expect(try seats[1].decode(column: "x", as: Double.self) == 20)

                let bad = """
                    A,1,1,10,10,VIP
                    A,1,2,twenty,10,VIP
                    A,1
                    "B",1,1,10,40,R
                    A,1,1,30,10,VIP
                    """
                let reply = try await api.call(.put, "/v1/venues/\(venue)/seatmap", token: organizer, csv: bad)
                #expect(reply.status == .unprocessableContent)
                let errors = try #require(reply.json["errors"] as? [[String: String]])
                #expect(errors.map { $0["field"]! } == ["line 2", "line 3", "line 5"])
                #expect(errors[0]["message"] == "x 'twenty' is not a number")
                #expect(errors[2]["message"] == "seat A-1-1 is already at line 1")
                // Nothing changed: the good map is still there.
                #expect(try await api.call(.get, "/v1/venues/\(venue)").json["seatCount"] as? Int == 4)

                let json = try await api.call(.put, "/v1/venues/\(venue)/seatmap", token: organizer, body: ["seats": [
                    ["section": "C", "row": "1", "seat": "1", "x": 0, "y": 0, "tier": "S"],
                    ["section": "", "row": "1", "seat": "2", "x": 0, "y": 0, "tier": "S"],
                ]])
                #expect((json.json["errors"] as? [[String: String]])?.first?["field"] == "seats[1]")
            }
        }
    }

    @Test func aSeatMapInUseCannotBeReplacedAndPricesMustCoverItsTiers() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = CatalogAPI(client: client, platform: platform)
                let organizer = try await api.user("org@example.com")
                let venue = try await api.venue(organizer)
                let event = try await api.event(organizer, venue: venue)
                let missingTier = try await api.performance(organizer, event: event, body: [
                    "prices": [["tier": "VIP", "price": ["amount": 1000, "currency": "KRW"]]],
                ])
                #expect(missingTier.status == .unprocessableContent)
                #expect((missingTier.json["errors"] as? [[String: String]])?.first?["message"] == "tier 'R' of the seat map has no price")
                let badDates = try await api.performance(organizer, event: event, body: ["onSaleUntil": CatalogAPI.time(40 * 86400)])
                #expect((badDates.json["errors"] as? [[String: String]])?.contains { $0["field"] == "onSaleUntil" } == true)

                #expect(try await api.performance(organizer, event: event).status == .created)
                let replaced = try await api.call(.put, "/v1/venues/\(venue)/seatmap", token: organizer, csv: CatalogAPI.seatCSV)
                #expect(replaced.status == .conflict)
            }
        }
    }

    @Test func aPriceNearTheLimitOfInt64IsRefusedInsteadOfOverflowingASum() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = CatalogAPI(client: client, platform: platform)
                let organizer = try await api.user("org@example.com")
                let event = try await api.event(organizer, venue: try await api.venue(organizer))
                for amount in [Int64(1) << 62, Int64.max, Money.maximumAmount + 1] {
                    let huge = try await api.performance(organizer, event: event, body: [
                        "prices": [["tier": "R", "price": ["amount": amount, "currency": "KRW"]]],
                    ])
                    #expect(huge.status == .unprocessableContent, "\(amount)")
                    #expect((huge.json["errors"] as? [[String: String]])?.first?["field"] == "prices[0].price.amount")
                }
                let dearest = try await api.performance(organizer, event: event, body: [
                    "prices": [
                        ["tier": "R", "price": ["amount": Money.maximumAmount, "currency": "KRW"]],
                        ["tier": "VIP", "price": ["amount": Money.maximumAmount, "currency": "KRW"]],
                    ],
                ])
                #expect(dearest.status == .created, "\(dearest.json)")
            }
        }
        // Sums go through Money's checked arithmetic: an overflow is an error, never a crash.
        #expect(throws: MoneyError.overflow) {
            try Money.sum([Money(amount: .max - 1, currency: .krw), Money(amount: 2, currency: .krw)], currency: .krw)
        }
        #expect(throws: MoneyError.overflow) { try Money(amount: .max / 2, currency: .krw).percentage(30) }
        #expect(try Money(amount: 110_000, currency: .krw).percentage(15) == Money(amount: 16_500, currency: .krw))
    }

    @Test func generalAdmissionPerformancesSellAQuotaPerTier() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = CatalogAPI(client: client, platform: platform)
                let organizer = try await api.user("org@example.com")
                let venue = try await api.venue(organizer)
                let event = try await api.event(organizer, venue: venue)
                let performance = try await api.performance(organizer, event: event, body: [
                    "prices": [["tier": "Standing", "price": ["amount": 99_000, "currency": "KRW"]]],
                    "generalAdmission": [["tier": "Standing", "quota": 100]],
                    "maxSeatsPerOrder": 2, "maxSeatsPerFan": 6,
                ])
                #expect(performance.status == .created)
                #expect(performance.json["seating"] as? String == "general")
                #expect((performance.json["tiers"] as? [[String: Any]])?.first?["quota"] as? Int == 100)
                #expect(performance.json["maxSeatsPerFan"] as? Int == 6)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func theListingSearchesFiltersSortsAndPagesWithACursor(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = CatalogAPI(client: client, platform: platform)
                let organizer = try await api.user("org@example.com")
                let venue = try await api.venue(organizer)
                let shows: [(String, String, Double)] = [
                    ("Delta Jazz Night", "jazz", 5), ("Alpha Rock", "concert", 10), ("Echo 100% Live", "concert", 15),
                    ("Bravo Ballet", "dance", 20), ("Charlie Rock", "concert", 25),
                ]
                for (title, category, days) in shows {
                    let event = try await api.event(organizer, venue: venue, title: title, category: category)
                    #expect(try await api.performance(organizer, event: event, startsIn: days).status == .created)
                    #expect(try await api.call(.post, "/v1/events/\(event)/publish", token: organizer).status == .ok)
                }
                func titles(_ query: String) async throws -> [String] {
                    try await api.call(.get, "/v1/events?\(query)").array.compactMap { $0["title"] as? String }
                }
                #expect(try await titles("") == shows.map(\.0))
                #expect(try await titles("sort=title") == shows.map(\.0).sorted())
                #expect(try await titles("q=ROCK") == ["Alpha Rock", "Charlie Rock"])
                #expect(try await titles("q=100%25") == ["Echo 100% Live"])  // % is literal, not a wildcard
                #expect(try await titles("category=Concert") == ["Alpha Rock", "Echo 100% Live", "Charlie Rock"])
                #expect(try await titles("from=\(CatalogAPI.time(12 * 86400))&to=\(CatalogAPI.time(22 * 86400))") == ["Echo 100% Live", "Bravo Ballet"])

                var seen: [String] = []
                var cursor: String?
                repeat {
                    let page = try await api.call(.get, "/v1/events?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                    seen += page.array.compactMap { $0["title"] as? String }
                    cursor = page.json["nextCursor"] as? String
                } while cursor != nil
                #expect(seen == shows.map(\.0))

                #expect(try await api.call(.get, "/v1/events?sort=price").status == .badRequest)
                #expect(try await api.call(.get, "/v1/events?limit=0").status == .badRequest)
                #expect(try await api.call(.get, "/v1/events?cursor=garbage").status == .notFound)
            }
        }
    }
}

@Suite struct PublishingTests {
    @Test(arguments: DatabaseDialect.allCases)
    func aJustPublishedPerformanceAnswersItsSeatMapAndTakesHoldsAtOnce(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect, configure: { $0.publishWaitSeconds = 10 }) { platform in
            try await platform.buildApplication().test(.router) { client in
                // Events are delivered as in production: by the relay, running on its own.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await platform.relay.run() }
                    defer { group.cancelAll() }
                    let sale = try await OnSale.make(client, platform, publish: false)
                    let organizer = try await OnSale.token(platform, userID: "organizer", roles: [.organizer])
                    let fan = try await OnSale.token(platform, userID: "fan-1")
                    #expect(try await sale.call(.post, "/v1/events/\(sale.eventID)/publish", fan: organizer).status == 200)
                    // The answer came only once sales were open (the relay delivers event.published
                    // after the commit, so without the wait they would not be yet).
                    #expect(try await platform.reservations.salesOpen(performanceIDs: [sale.performanceID]))
                    // No pause: the very next requests see the sale open.
                    let map = try await sale.call(.get, "/v1/performances/\(sale.performanceID)/availability", fan: organizer)
                    #expect(map.status == 200, "\(map.rawBody)")
                    #expect((map.json["seats"] as? [Any])?.count == 100)
                    #expect(try await sale.hold(["seatIds": [sale.seatIDs[0]]], fan: fan).status == 201)
                }
            }
        }
    }
}
