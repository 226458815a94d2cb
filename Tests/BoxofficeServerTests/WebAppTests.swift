import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

/// The fan pages through the real router: what they show, in which language, with which
/// headers, and that what people typed is never rendered as markup.
@Suite struct WebAppTests {
    private func page(
        _ client: some TestClientProtocol, _ path: String, headers: HTTPFields = [:]
    ) async throws -> (status: Int, headers: HTTPFields, body: String) {
        try await client.execute(uri: path, method: .get, headers: headers) { response in
            (Int(response.status.code), response.headers, String(buffer: response.body))
        }
    }

    @Test func theListingAndTheEventPageShowPublishedEventsEscapedInTheFansLanguage() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, rows: 2)
                let organizer = try await OnSale.token(platform, userID: "organizer", roles: [.organizer])
                // What an organizer typed, markup included, comes out as text.
                _ = try await sale.call(.patch, "/v1/events/\(sale.eventID)", fan: organizer, body: [
                    "title": "<script>alert(1)</script> Tour", "description": "Line one\n<img src=x onerror=alert(2)>",
                ])

                let korean = try await page(client, "/", headers: [.acceptLanguage: "ko-KR,ko;q=0.9,en;q=0.8"])
                #expect(korean.status == 200)
                #expect(korean.headers[.contentType] == "text/html; charset=utf-8")
                #expect(korean.body.contains("<html lang=\"ko\">"))
                #expect(korean.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; Tour"))
                #expect(!korean.body.contains("<script>alert(1)"))
                #expect(korean.body.contains("예매 중"), "the performance is on sale")
                #expect(korean.body.contains("href=\"/events/\(sale.eventID)\""))

                let english = try await page(client, "/events/\(sale.eventID)", headers: [.acceptLanguage: "en-US,en;q=0.9"])
                #expect(english.status == 200)
                #expect(english.body.contains("<html lang=\"en\">"))
                #expect(english.body.contains("&lt;img src=x onerror=alert(2)&gt;"))
                #expect(english.body.contains("₩110,000"))
                #expect(english.body.contains("20 left"), "two rows of ten seats, none sold")
                #expect(english.body.contains("On sale"))

                // The switch: ?lang= wins over Accept-Language and is remembered in a cookie.
                let switched = try await page(client, "/events/\(sale.eventID)?lang=ko", headers: [.acceptLanguage: "en-US"])
                #expect(switched.body.contains("110,000원"))
                #expect(switched.headers[.setCookie]?.hasPrefix("bo_lang=ko;") == true)
                let remembered = try await page(client, "/", headers: [.acceptLanguage: "en-US", .cookie: "bo_lang=ko"])
                #expect(remembered.body.contains("<html lang=\"ko\">"))

                // Searching: a text that matches nothing says so.
                let none = try await page(client, "/?q=nothing-like-this&lang=en")
                #expect(none.body.contains("No shows match."))
                #expect(!none.body.contains("/events/\(sale.eventID)"))
            }
        }
    }

    @Test func pagesSendAStrictContentSecurityPolicyAndAssetsAreHashedAndKeptForAYear() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let home = try await page(client, "/")
                let policy = try #require(home.headers[.contentSecurityPolicy])
                #expect(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"))
                #expect(!policy.contains("unsafe-inline"))
                #expect(home.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                #expect(!home.body.contains("<script>"), "no inline script: the policy forbids it")
                #expect(!home.body.contains("style="), "no inline style either")

                let stylesheet = try #require(home.body.firstMatch(of: /href="(\/static\/app\.[0-9a-f]{10}\.css)"/)?.1)
                let css = try await page(client, String(stylesheet))
                #expect(css.status == 200)
                #expect(css.headers[.contentType] == "text/css; charset=utf-8")
                #expect(css.headers[.cacheControl] == "public, max-age=31536000, immutable")
                #expect(try await page(client, "/static/app.0000000000.css").status == 404)
            }
        }
    }

    @Test func theOrganizersPagesCarryTheirWordsAsDataAndEscapeWhatOrganizersTyped() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let sale = try await OnSale.make(client, platform, rows: 2)
                let organizer = try await OnSale.token(platform, userID: "organizer", roles: [.organizer])
                _ = try await sale.call(.patch, "/v1/events/\(sale.eventID)", fan: organizer, body: ["title": "</script><b>Night</b>"])
                for (language, word) in [("ko", "주최자 콘솔"), ("en", "Organizer desk")] {
                    let desk = try await page(client, "/organizer?lang=\(language)")
                    #expect(desk.status == 200 && desk.headers[.contentSecurityPolicy] != nil)
                    #expect(desk.body.contains("<h1>\(word)</h1>"))
                    // The words travel as a JSON block the page scripts read; it must parse as JSON.
                    let block = try #require(desk.body.firstMatch(of: /id="page-text">([^<]*)<\/script>/)?.1)
                    let words = try JSONSerialization.jsonObject(with: Data(block.utf8)) as? [String: String]
                    #expect(words?["desk"] == word)
                    #expect(desk.body.contains("/static/organizer."))
                }
                let sales = try await page(client, "/organizer/performances/\(sale.performanceID)?lang=en")
                #expect(sales.status == 200)
                #expect(sales.body.contains("&lt;/script&gt;&lt;b&gt;Night&lt;/b&gt;"))
                #expect(!sales.body.contains("<b>Night</b>"))
                #expect(sales.body.contains("data-performance=\"\(sale.performanceID)\""))
            }
        }
    }

    @Test func theOrdersAndTicketsPagesLoadThePageKitWithTheFansWordsAndLinkToEachOther() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                for (language, heading) in [("ko", "주문 내역"), ("en", "My orders")] {
                    let orders = try await page(client, "/orders?lang=\(language)")
                    #expect(orders.status == 200 && orders.headers[.contentSecurityPolicy] != nil)
                    #expect(orders.body.contains("<h1>\(heading)</h1>"))
                    let block = try #require(orders.body.firstMatch(of: /id="page-text">([^<]*)<\/script>/)?.1)
                    let words = try JSONSerialization.jsonObject(with: Data(block.utf8)) as? [String: String]
                    #expect(words?["myOrders"] == heading)
                    #expect(words?["quoteFee"]?.contains("%d") == true, "the fee's percentage is filled in by the page")
                    #expect(orders.body.contains("/static/pagekit.") && orders.body.contains("/static/orders."))
                    #expect(orders.body.contains("href=\"/tickets\""))
                    let tickets = try await page(client, "/tickets?lang=\(language)")
                    #expect(tickets.body.contains("href=\"/orders\""))
                    #expect(tickets.body.contains("/static/pagekit.") && tickets.body.contains("id=\"page-text\""))
                }
                // The offline copy of /tickets must keep every script the page loads.
                let worker = try await client.execute(uri: "/tickets-sw.js", method: .get) { String(buffer: $0.body) }
                let tickets = try await page(client, "/tickets")
                for script in tickets.body.matches(of: /<script src="([^"]+)"/).map({ String($0.1) }) {
                    #expect(worker.contains("\"\(script)\""), "\(script) is kept for offline use")
                }
            }
        }
    }

    @Test func anUnknownPageIsAFriendlyPageAndTheAPIKeepsProblemJSON() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let browser = try await page(client, "/no/such/page", headers: [.accept: "text/html,*/*", .acceptLanguage: "en"])
                #expect(browser.status == 404)
                #expect(browser.headers[.contentType] == "text/html; charset=utf-8")
                #expect(browser.body.contains("Page not found"))
                let api = try await page(client, "/v1/no-such-thing", headers: [.accept: "text/html,*/*"])
                #expect(api.status == 404)
                #expect(api.headers[.contentType] == "application/problem+json")
                let script = try await page(client, "/no/such/page")
                #expect(script.headers[.contentType] == "application/problem+json", "a client that does not ask for HTML")
                #expect(try await page(client, "/events/no-such-event", headers: [.accept: "text/html"]).status == 404)
            }
        }
    }

    @Test func theSignInPageReturnsOnlyToAPathOnThisSite() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let local = try await page(client, "/signin?next=%2Fevents%2Fabc&lang=en")
                #expect(local.status == 200)
                #expect(local.body.contains("data-next=\"/events/abc\""))
                #expect(local.body.contains("/static/auth."), "the page's script, by its hashed name")
                for elsewhere in ["//evil.example/x", "https://evil.example/", "/\\evil.example"] {
                    let encoded = elsewhere.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                    let answer = try await page(client, "/signin?next=\(encoded)")
                    #expect(answer.body.contains("data-next=\"/\""), "\(elsewhere) is not followed")
                }
                let signup = try await page(client, "/signup?lang=ko")
                #expect(signup.body.contains("회원가입"))
                #expect(signup.body.contains("data-pow-worker=\"/static/pow-worker."))
            }
        }
    }

    @Test func anOnSalePerformanceLinksToItsSeatMapPageAndAStandingOneToItsQuantityPicker() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let seated = try await OnSale.make(client, platform, rows: 2)
                let event = try await page(client, "/events/\(seated.eventID)?lang=en")
                #expect(event.body.contains("href=\"/performances/\(seated.performanceID)\""))
                #expect(event.body.contains("Choose seats"))
                let map = try await page(client, "/performances/\(seated.performanceID)?lang=en")
                #expect(map.status == 200)
                #expect(map.body.contains("data-performance=\"\(seated.performanceID)\""))
                #expect(map.body.contains("data-ga=\"false\""))
                #expect(map.body.contains("id=\"seatmap\"") && !map.body.contains("ga-picker"))
                #expect(map.body.contains("data-max=\""))
                #expect(map.body.contains("/static/seatmap."))
                #expect(map.body.contains("₩110,000"))

                // Standing: no map; each tier with its price and what is left, and how many.
                let standing = try await OnSale.make(client, platform, quota: 50)
                let standingEvent = try await page(client, "/events/\(standing.eventID)?lang=en")
                #expect(standingEvent.body.contains("href=\"/performances/\(standing.performanceID)\""))
                #expect(standingEvent.body.contains("Choose tickets"))
                let picker = try await page(client, "/performances/\(standing.performanceID)?lang=ko")
                #expect(picker.status == 200)
                #expect(picker.body.contains("data-ga=\"true\"") && !picker.body.contains("id=\"seatmap\""))
                #expect(picker.body.contains("data-tier=\"Standing\"") && picker.body.contains("110,000원") && picker.body.contains("50 남음"))
                #expect(picker.body.contains("id=\"quantity\"") && picker.body.contains("max=\"4\""))
                #expect(picker.body.contains("티켓 잡기") && picker.body.contains("한 번에 4매까지"))
                #expect(try await page(client, "/performances/no-such", headers: [.accept: "text/html"]).status == 404)
            }
        }
    }

    @Test func withPortOneThePagesOfferPointsOnlyInsteadOfACardButtonThatCannotWork() async throws {
        for gateway in [ServerConfiguration.PaymentGatewayMode.sandbox, .portone] {
            try await withPlatform(configure: { $0.paymentGateway = gateway }) { platform in
                try await platform.buildApplication().test(.router) { client in
                    let sale = try await OnSale.make(client, platform, rows: 1)
                    let map = try await page(client, "/performances/\(sale.performanceID)?lang=en")
                    let wallet = try await page(client, "/wallet?lang=en")
                    let orders = try await page(client, "/orders?lang=en")
                    let offered = gateway == .sandbox
                    #expect(map.body.contains("id=\"paycard\"") == offered, "\(gateway)")
                    #expect(map.body.contains("id=\"pay\""), "points are always offered")
                    #expect(wallet.body.contains("id=\"topup\"") == offered, "\(gateway)")
                    #expect(orders.body.contains("data-card-payments=\"\(offered)\""), "\(gateway)")
                }
            }
        }
    }
}
