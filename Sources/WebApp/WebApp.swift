import BoxofficeKit
import Foundation
import HTTPKit
import HTTPTypes
import Hummingbird
import Logging
import Mustache

/// The pages fans open in a browser, rendered on the server from Mustache templates and
/// served by the same binary: the event listing (`/`) and each event's page (`/events/{id}`),
/// their CSS and JavaScript (`/static/…`), and a readable 404 for any other page address.
/// Everything ships in the binary's resources: no CDN, no external fonts or scripts.
public struct WebApp: Sendable {
    private let showcase: any Showcase
    private let templates: MustacheLibrary
    private let assets: StaticAssets
    private let clock: any WallClock
    /// Whether a card payment can be made from the pages: the built-in sandbox gateway has a
    /// page of its own; PortOne needs its browser script, which pages that load nothing from
    /// outside cannot run, so there the pages offer points only.
    private let cardPayments: Bool

    public init(showcase: any Showcase, clock: any WallClock, cardPayments: Bool = true) throws {
        guard let resources = Bundle.module.resourceURL else { throw MissingResources() }
        var templates = MustacheLibrary()
        let directory = resources.appendingPathComponent("templates")
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            try templates.register(text, named: String(name.dropLast(".mustache".count)))
        }
        self.templates = templates
        self.assets = try StaticAssets(directory: resources.appendingPathComponent("static"))
        self.showcase = showcase
        self.clock = clock
        self.cardPayments = cardPayments
    }

    struct MissingResources: Error, CustomStringConvertible {
        var description: String { "the WebApp resources (templates, static files) are missing from the build" }
    }

    /// Paths that belong to the JSON API and operations: they keep problem+json for a 404.
    static let apiPrefixes = ["/v1/", "/health", "/ready", "/metrics", "/openapi"]

    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/") { request, _ in try await self.home(request) }
        router.get("/events/:eventId") { request, context in
            try await self.eventPage(request, id: try context.parameters.require("eventId"))
        }
        router.get("/performances/:performanceId") { request, context in
            try await self.performancePage(request, id: try context.parameters.require("performanceId"))
        }
        router.get("/performances/:performanceId/queue") { request, context in
            try await self.queuePage(request, id: try context.parameters.require("performanceId"))
        }
        router.get("/scan") { request, _ in try await self.scanPage(request) }
        router.get("/organizer") { request, _ in try self.organizerDesk(request) }
        router.get("/organizer/performances/:performanceId") { request, context in
            try await self.salesPage(request, id: try context.parameters.require("performanceId"))
        }
        router.get("/tickets") { request, _ in try self.ticketsPage(request) }
        router.get("/orders") { request, _ in try self.ordersPage(request) }
        router.get("/sandbox/payments/:paymentId") { request, context in
            try self.sandboxPayPage(request, paymentID: try context.parameters.require("paymentId"))
        }
        router.get("/wallet") { request, _ in try self.walletPage(request) }
        router.get("/shop") { request, _ in try self.shopPage(request) }
        router.get("/products/:productId") { request, context in
            try self.productPage(request, id: try context.parameters.require("productId"))
        }
        router.get("/cart") { request, _ in try self.cartPage(request) }
        router.get("/staff/shipments") { request, _ in try self.shipmentsPage(request) }
        // At the root so it may control /tickets; it is told the assets' hashed names to keep.
        router.get("/tickets-sw.js") { _, _ in
            guard let worker = self.assets.source(of: "tickets-sw.js") else { throw HTTPError(.notFound) }
            let names = ["app.css", "app.js", "pagekit.js", "qr.js", "tickets.js"].map { "\"\(self.assets.path($0))\"" }.joined(separator: ", ")
            return Response(
                status: .ok,
                headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "no-cache", .xContentTypeOptions: "nosniff"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "self.BOXOFFICE_ASSETS = [\(names)];\n" + worker)))
        }
        router.get("/signin") { request, _ in try self.accountPage(request, signUp: false) }
        router.get("/signup") { request, _ in try self.accountPage(request, signUp: true) }
        router.get("/static/:file") { _, context in
            guard let asset = self.assets.asset(named: try context.parameters.require("file")) else {
                throw HTTPError(.notFound)
            }
            return Response(
                status: .ok,
                headers: [.contentType: asset.contentType, .cacheControl: "public, max-age=31536000, immutable", .xContentTypeOptions: "nosniff"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes)))
        }
    }

    /// Turns the JSON API's 404 into the friendly page for addresses a browser asked for.
    public var notFoundPages: PageNotFoundMiddleware<AppRequestContext> { PageNotFoundMiddleware(app: self) }

    // MARK: Pages

    private func home(_ request: Request) async throws -> Response {
        let language = Self.language(of: request)
        let query = request.uri.queryParameters
        let from = query["from"].flatMap { Self.day(String($0)) }
        let to = query["to"].flatMap { Self.day(String($0)) }.map { $0.addingTimeInterval(86_400) }
        let text = query["q"].map(String.init)?.trimmingCharacters(in: .whitespacesAndNewlines)
        let category = query["category"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let events = try await showcase.events(matching: EventSearch(
            text: text?.isEmpty == false ? text : nil, category: category, from: from, to: to))
        let now = clock.now()
        let cards: [[String: Any]] = events.map { card in
            var row: [String: Any] = [
                "id": card.id, "title": card.title, "artist": card.artist, "category": Self.category(card.category, language),
                "venue": card.venueName, "soldOut": card.soldOut, "onSaleNow": card.onSaleNow && !card.soldOut,
                "soldOutLabel": language.text(.soldOut), "onSaleLabel": language.text(.onSaleNow), "opensAtLabel": language.text(.opensAt),
            ]
            if let startsAt = card.firstStartsAt { row["startsAt"] = language.dateTime(startsAt); row["startsAtISO"] = Self.iso(startsAt) }
            if let opensAt = card.opensAt, opensAt > now, !card.onSaleNow {
                row["opensAt"] = language.dateTime(opensAt)
                row["opensAtISO"] = Self.iso(opensAt)
            }
            return row
        }
        let categories: [[String: Any]] = [("", PageText.anyCategory)] .map { value, label in
            ["value": value, "label": language.text(label), "selected": category == nil]
        } + Self.categories.map { value, label in
            ["value": value, "label": language.text(label), "selected": category == value]
        }
        let body: [String: Any] = [
            "heading": language.text(.search), "tagline": language.text(.tagline), "searchLabel": language.text(.search),
            "searchPlaceholder": language.text(.searchPlaceholder), "categoryLabel": language.text(.category), "categories": categories,
            "fromLabel": language.text(.from), "toLabel": language.text(.to), "find": language.text(.find),
            "q": text ?? "", "from": query["from"].map(String.init) ?? "", "to": query["to"].map(String.init) ?? "",
            "events": cards, "hasEvents": !cards.isEmpty, "noEvents": language.text(.noEvents),
        ]
        return try page("home", body, title: language.text(.search), language: language, request: request)
    }

    private func eventPage(_ request: Request, id: String) async throws -> Response {
        let language = Self.language(of: request)
        guard let event = try await showcase.event(id: id) else { return try notFound(request) }
        let now = clock.now()
        let showings: [[String: Any]] = event.showings.map { showing in
            let onSale = !showing.cancelled && showing.onSaleFrom <= now && now < showing.onSaleUntil
            let soldOut = !showing.tiers.isEmpty && showing.tiers.allSatisfy { $0.left == 0 }
            var row: [String: Any] = [
                "id": showing.id, "startsAt": language.dateTime(showing.startsAt), "startsAtISO": Self.iso(showing.startsAt),
                "cancelled": showing.cancelled, "onSaleNow": onSale && !soldOut, "soldOut": !showing.cancelled && soldOut,
                "pickSeats": language.text(showing.seated ? .pickSeats : .pickTickets), "canPick": onSale && !soldOut,
                "closed": !showing.cancelled && now >= showing.onSaleUntil,
                "cancelledLabel": language.text(.cancelled), "onSaleLabel": language.text(.onSaleNow), "soldOutLabel": language.text(.soldOut),
                "opensAtLabel": language.text(.opensAt), "closedLabel": language.text(.salesClosed), "priceAndLeft": language.text(.priceAndLeft),
                // Dearest first, as box offices list them.
                "tiers": showing.tiers.sorted { ($0.price.amount, $1.name) > ($1.price.amount, $0.name) }.map { tier -> [String: Any] in
                    ["name": tier.name, "price": language.money(tier.price), "hasLeft": tier.left != nil, "left": tier.left ?? 0,
                     "leftLabel": language.text(.left)]
                },
            ]
            if !showing.cancelled, now < showing.onSaleFrom {
                row["opensAt"] = language.dateTime(showing.onSaleFrom)
                row["opensAtISO"] = Self.iso(showing.onSaleFrom)
            }
            return row
        }
        let body: [String: Any] = [
            "back": language.text(.back), "title": event.card.title, "artist": event.card.artist,
            "category": Self.category(event.card.category, language), "venueLabel": language.text(.venue), "venue": event.card.venueName,
            "venueAddress": event.venueAddress, "description": event.description, "hasDescription": !event.description.isEmpty,
            "performancesLabel": language.text(.performances), "showings": showings,
        ]
        return try page("event", body, title: event.card.title, language: language, request: request)
    }

    /// A performance's seat map: drawn and kept live by `seatmap.js` from the availability API;
    /// holding and paying go through the API too.
    private func performancePage(_ request: Request, id: String) async throws -> Response {
        let language = Self.language(of: request)
        guard let performance = try await showcase.performance(id: id) else { return try notFound(request) }
        let ga = performance.generalAdmission
        let tiers = performance.showing.tiers.sorted { ($0.price.amount, $1.name) > ($1.price.amount, $0.name) }
        let body: [String: Any] = [
            "id": id, "eventId": performance.eventID, "eventTitle": performance.eventTitle, "venue": performance.venueName,
            "startsAt": language.dateTime(performance.showing.startsAt), "startsAtISO": Self.iso(performance.showing.startsAt),
            "max": performance.maxSeatsPerOrder, "language": language.rawValue, "ga": ga,
            "tAdmissionTiers": language.text(.admissionTiers), "tHowMany": language.text(.howMany),
            "tOneFewer": language.text(.oneFewer), "tOneMore": language.text(.oneMore), "tNotThatMany": language.text(.notThatManyLeft),
            "tMaxNote": language.text(.perOrderTickets).replacingOccurrences(of: "{max}", with: String(performance.maxSeatsPerOrder)),
            "selfPath": ("/performances/" + id).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/",
            "tiers": tiers.enumerated().map { index, tier -> [String: Any] in
                ["index": index % 5, "name": tier.name, "price": language.money(tier.price), "amount": tier.price.amount,
                 "hasLeft": tier.left != nil, "left": tier.left ?? 0, "leftLabel": language.text(.left)]
            },
            "tSelected": language.text(.seatsSelected), "tNone": language.text(ga ? .chooseTier : .noSeatsSelected), "tMax": language.text(.perOrderLimit),
            "tTaken": language.text(.seatTaken), "tHeld": language.text(.seatsHeld), "tExpired": language.text(.holdExpired),
            "tPaid": language.text(.ticketsPaid), "tSignin": language.text(.signInToBuy), "tAvailable": language.text(.seatAvailable),
            "tUnavailable": language.text(.seatUnavailable), "tSection": language.text(.section), "tRow": language.text(.row),
            "tSeat": language.text(.seat), "tQueue": language.text(.queueFirst), "tError": language.text(.somethingWrong),
            "legendLabel": language.text(.legend), "zoomIn": language.text(.zoomIn), "zoomOut": language.text(.zoomOut),
            "keyboardHint": language.text(.keyboardHint), "mapLabel": language.text(.seatMap), "loading": language.text(.loadingMap),
            "holdLabel": language.text(ga ? .holdTickets : .holdSeats), "holdEndsIn": language.text(.holdEndsIn), "payLabel": language.text(.payFromWallet),
            "payCardLabel": language.text(.payByCard), "cardPayments": cardPayments,
            "releaseLabel": language.text(.releaseSeats), "tWithCart": WordTable.fan.word("withCart", language),
        ]
        return try page(
            "performance", body, title: performance.eventTitle, language: language, request: request, scripts: ["cart-store.js", "seatmap.js"])
    }

    /// A performance's waiting room (`queue.js`): join, live position, on to the seat map when admitted.
    private func queuePage(_ request: Request, id: String) async throws -> Response {
        let language = Self.language(of: request)
        guard let performance = try await showcase.performance(id: id) else { return try notFound(request) }
        let body: [String: Any] = [
            "id": id, "eventId": performance.eventID, "eventTitle": performance.eventTitle, "venue": performance.venueName,
            "startsAt": language.dateTime(performance.showing.startsAt), "startsAtISO": Self.iso(performance.showing.startsAt),
            "heading": language.text(.waitingRoom), "language": language.rawValue,
            "selfPath": ("/performances/" + id + "/queue").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/",
            "tWaiting": language.text(.queueWaiting), "tAdmitted": language.text(.queueAdmitted), "tExpired": language.text(.queueExpired),
            "tClosed": language.text(.queueClosed), "tMinutes": language.text(.minutesLeft), "tSoon": language.text(.almostThere),
            "tError": language.text(.somethingWrong), "tJoining": language.text(.joiningQueue), "positionLabel": language.text(.position),
            "aheadLabel": language.text(.ahead), "etaLabel": language.text(.waitLeft), "keepOpen": language.text(.keepPageOpen),
        ]
        return try page("queue", body, title: language.text(.waitingRoom), language: language, request: request, scripts: ["queue.js"])
    }

    /// The wallet's balance and ledger, and a top-up by card (`wallet.js`).
    private func walletPage(_ request: Request) throws -> Response {
        let language = Self.language(of: request)
        let body: [String: Any] = [
            "heading": language.text(.wallet), "language": language.rawValue, "balanceLabel": language.text(.balance),
            "ledgerLabel": language.text(.ledger), "loading": language.text(.loadingHistory),
            "tNone": language.text(.noEntries), "tTopup": language.text(.topUp), "tGrant": language.text(.grant),
            "tPurchase": language.text(.purchase), "tRefund": language.text(.refund),
            "t": WordTable.fan.chosen(language), "texts": WordTable.fan.json(language), "cardPayments": cardPayments,
        ]
        return try page(
            "wallet", body, title: language.text(.wallet), language: language, request: request, scripts: ["pagekit.js", "wallet.js"])
    }

    /// My tickets, each with a QR code of its signed code drawn in the page; kept for offline use.
    private func ticketsPage(_ request: Request) throws -> Response {
        let language = Self.language(of: request)
        let body: [String: Any] = [
            "heading": language.text(.myTickets), "language": language.rawValue, "loading": language.text(.loadingTickets),
            "tNone": language.text(.noTickets), "tOffline": language.text(.offlineTickets), "tValid": language.text(.valid),
            "tUsed": language.text(.alreadyUsed), "tCancelled": language.text(.cancelled), "tSignin": language.text(.signInFirst),
            "t": WordTable.fan.chosen(language), "texts": WordTable.fan.json(language),
        ]
        return try page(
            "tickets", body, title: language.text(.myTickets), language: language, request: request,
            scripts: ["pagekit.js", "qr.js", "tickets.js"])
    }

    /// My orders (`orders.js`): tickets, money and history of each, and cancellation after the
    /// page has shown what would come back.
    private func ordersPage(_ request: Request) throws -> Response {
        let language = Self.language(of: request)
        let body: [String: Any] = [
            "t": WordTable.fan.chosen(language), "texts": WordTable.fan.json(language), "cardPayments": cardPayments,
        ]
        return try page(
            "orders", body, title: WordTable.fan.word("myOrders", language), language: language, request: request,
            scripts: ["pagekit.js", "orders.js"])
    }

    /// The shop (`shop.js`): goods on sale, searchable, optionally of one event (`?event=`).
    private func shopPage(_ request: Request) throws -> Response {
        let language = Self.language(of: request)
        let query = request.uri.queryParameters
        let body: [String: Any] = [
            "t": WordTable.fan.chosen(language), "texts": WordTable.fan.json(language), "q": query["q"].map(String.init) ?? "",
            "eventId": query["event"].map(String.init) ?? "",
        ]
        return try page("shop", body, title: WordTable.fan.word("shop", language), language: language, request: request, scripts: ["pagekit.js", "shop.js"])
    }

    /// One product (`product.js`): its options with what is left, and the cart.
    private func productPage(_ request: Request, id: String) throws -> Response {
        let language = Self.language(of: request)
        let body: [String: Any] = ["t": WordTable.fan.chosen(language), "texts": WordTable.fan.json(language), "productId": id]
        return try page(
            "product", body, title: WordTable.fan.word("shop", language), language: language, request: request,
            scripts: ["pagekit.js", "cart-store.js", "product.js"])
    }

    /// The cart (`cart.js`), paid for with points in one checkout.
    private func cartPage(_ request: Request) throws -> Response {
        let language = Self.language(of: request)
        let body: [String: Any] = ["t": WordTable.fan.chosen(language), "texts": WordTable.fan.json(language), "cardPayments": cardPayments]
        return try page(
            "cart", body, title: WordTable.fan.word("cart", language), language: language, request: request,
            scripts: ["pagekit.js", "cart-store.js", "cart.js"])
    }

    /// The shipping desk (`shipments.js`): staff pack, send and deliver.
    private func shipmentsPage(_ request: Request) throws -> Response {
        let language = Self.language(of: request)
        let body: [String: Any] = ["t": WordTable.organizer.chosen(language), "texts": WordTable.organizer.json(language)]
        return try page(
            "shipments", body, title: WordTable.organizer.word("shipments", language), language: language, request: request,
            scripts: ["pagekit.js", "shipments.js"])
    }

    /// The sandbox gateway's pay page (`sandbox-pay.js`), where a card payment started in the
    /// page is paid or declined; `return` is where the fan goes next (a path on this site only).
    private func sandboxPayPage(_ request: Request, paymentID: String) throws -> Response {
        let language = Self.language(of: request)
        let body: [String: Any] = [
            "t": WordTable.fan.chosen(language), "texts": WordTable.fan.json(language), "paymentId": paymentID,
            "returnTo": Self.safeNext(request.uri.queryParameters["return"].map(String.init)),
        ]
        return try page(
            "sandbox-pay", body, title: WordTable.fan.word("sandboxTitle", language), language: language, request: request,
            scripts: ["pagekit.js", "sandbox-pay.js"])
    }

    /// The door: staff check tickets by code (typed, or read by the camera) with `scan.js`.
    private func scanPage(_ request: Request) async throws -> Response {
        let language = Self.language(of: request)
        let performances = try await showcase.upcomingPerformances().map { performance -> [String: Any] in
            ["id": performance.id, "label": "\(performance.eventTitle) · \(language.dateTime(performance.startsAt))"]
        }
        let body: [String: Any] = [
            "heading": language.text(.door), "performanceLabel": language.text(.performances), "performances": performances,
            "gateLabel": language.text(.gate), "gatePlaceholder": language.text(.gatePlaceholder), "codeLabel": language.text(.ticketCode),
            "check": language.text(.checkTicket), "cameraLabel": language.text(.useCamera), "language": language.rawValue,
            "tValid": language.text(.valid), "tUsed": language.text(.alreadyUsed), "tInvalid": language.text(.invalid),
            "tAt": language.text(.firstUsedAt), "tGate": language.text(.gate), "tSignin": language.text(.signInFirst),
            "tForbidden": language.text(.staffOnly), "tError": language.text(.somethingWrong), "tNoCamera": language.text(.noCamera),
        ]
        return try page("scan", body, title: language.text(.door), language: language, request: request, scripts: ["scan.js"])
    }

    /// The organizer's desk (`organizer.js`): their events, new venues with a checked seat map,
    /// new events and performances. Everything on it comes from the JSON API, which also decides
    /// who may see it.
    private func organizerDesk(_ request: Request) throws -> Response {
        let language = Self.language(of: request)
        let body: [String: Any] = [
            "t": WordTable.organizer.chosen(language), "texts": WordTable.organizer.json(language),
            "language": language.rawValue,
            "categories": Self.categories.map { value, label in ["value": value, "label": language.text(label)] },
        ]
        return try page(
            "organizer", body, title: WordTable.organizer.word("desk", language), language: language, request: request,
            scripts: ["pagekit.js", "organizer.js"])
    }

    /// One performance's sales, waiting room and orders for its organizer (`organizer-sales.js`).
    private func salesPage(_ request: Request, id: String) async throws -> Response {
        let language = Self.language(of: request)
        // A draft is not on the public showcase; the page then names it by its figures alone.
        let performance = try await showcase.performance(id: id)
        var body: [String: Any] = [
            "t": WordTable.organizer.chosen(language), "texts": WordTable.organizer.json(language),
            "language": language.rawValue, "id": id, "eventTitle": performance?.eventTitle ?? WordTable.organizer.word("sales", language),
            "venue": performance?.venueName ?? "", "eventId": performance?.eventID ?? "",
            "selfPath": ("/organizer/performances/" + id).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/",
        ]
        if let performance {
            body["startsAt"] = language.dateTime(performance.showing.startsAt)
            body["startsAtISO"] = Self.iso(performance.showing.startsAt)
        }
        return try page(
            "organizer-sales", body, title: WordTable.organizer.word("sales", language), language: language, request: request,
            scripts: ["pagekit.js", "organizer-sales.js"])
    }

    /// Sign-in or sign-up: the form posts to the JSON API from `auth.js`; `next` is where to go
    /// afterwards (a path on this site only).
    private func accountPage(_ request: Request, signUp: Bool) throws -> Response {
        let language = Self.language(of: request)
        let next = Self.safeNext(request.uri.queryParameters["next"].map(String.init))
        let nextQuery = next == "/" ? "" : "?next=" + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        let body: [String: Any] = [
            "heading": language.text(signUp ? .signUp : .signIn), "submit": language.text(signUp ? .signUp : .signIn),
            "emailLabel": language.text(.email), "passwordLabel": language.text(.password), "rememberLabel": language.text(.rememberMe),
            "orWith": language.text(.orWith), "noAccount": language.text(.noAccount), "signupLink": language.text(.signUp),
            "haveAccount": language.text(.haveAccount), "signinLink": language.text(.signIn), "nameLabel": language.text(.name),
            "passwordHint": language.text(.passwordHint), "checking": language.text(.checking), "checked": language.text(.checked),
            "next": next, "nextQuery": nextQuery,
        ]
        return try page(
            signUp ? "signup" : "signin", body, title: language.text(signUp ? .signUp : .signIn), language: language, request: request,
            scripts: ["auth.js"])
    }

    /// A path on this site to return to, never another site (`//host`, `/\host`) or a scheme.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"), !next.contains("\r"), !next.contains("\n")
        else { return "/" }
        return next
    }

    func notFound(_ request: Request) throws -> Response {
        let language = Self.language(of: request)
        let body: [String: Any] = [
            "heading": language.text(.notFoundTitle), "body": language.text(.notFoundBody), "home": language.text(.home),
        ]
        return try page("not-found", body, title: language.text(.notFoundTitle), language: language, request: request, status: .notFound)
    }

    // MARK: Rendering

    /// A whole page: the body template inside the layout, with the headers every page sends.
    private func page(
        _ template: String, _ body: [String: Any], title: String, language: PageLanguage, request: Request,
        status: HTTPResponse.Status = .ok, scripts: [String] = []
    ) throws -> Response {
        guard let inner = templates.render(body, withTemplate: template) else { throw MissingTemplate(name: template) }
        // The same page in the other language, with the same search.
        var switchLink = URLComponents()
        switchLink.path = request.uri.path
        switchLink.queryItems = request.uri.queryParameters.filter { $0.key != "lang" }
            .map { URLQueryItem(name: String($0.key), value: String($0.value)) }
            .sorted { $0.name < $1.name } + [URLQueryItem(name: "lang", value: language.other.rawValue)]
        let layout: [String: Any] = [
            "language": language.rawValue, "otherLanguage": language.other.rawValue, "title": title,
            "siteName": language.text(.siteName), "tagline": language.text(.tagline), "skip": language == .ko ? "본문 바로가기" : "Skip to content",
            "switchLanguage": language.text(.switchLanguage), "switchHref": switchLink.string ?? "/?lang=\(language.other.rawValue)",
            "css": assets.path("app.css"), "js": assets.path("app.js"), "body": inner,
            "signIn": language.text(.signIn), "signOut": language.text(.signOut), "myTickets": language.text(.myTickets), "wallet": language.text(.wallet),
            "desk": WordTable.organizer.word("desk", language), "shop": WordTable.fan.word("shop", language),
            "shipments": WordTable.organizer.word("shipments", language),
        ]
        var layoutWithScript = layout
        layoutWithScript["pageScripts"] = scripts.map { ["src": assets.path($0), "powWorker": assets.path("pow-worker.js")] }
        guard let html = templates.render(layoutWithScript, withTemplate: "layout") else { throw MissingTemplate(name: "layout") }
        var headers = Self.pageHeaders
        // The switch remembers the choice for the next pages.
        if let chosen = request.uri.queryParameters["lang"], PageLanguage(rawValue: String(chosen)) != nil {
            headers[.setCookie] = "\(PageLanguage.cookieName)=\(chosen); Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly"
        }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    struct MissingTemplate: Error, CustomStringConvertible {
        let name: String
        var description: String { "the page template \(name) is missing or did not render" }
    }

    /// No inline script or style anywhere, so the policy needs no 'unsafe-inline'; no framing.
    static let pageHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .contentSecurityPolicy:
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        .xContentTypeOptions: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "same-origin",
        .cacheControl: "no-cache",
        .vary: "Accept-Language, Cookie",
    ]

    static func language(of request: Request) -> PageLanguage {
        let cookie = request.cookies[PageLanguage.cookieName]?.value
        return PageLanguage.choose(
            query: request.uri.queryParameters["lang"].map(String.init), cookie: cookie, acceptLanguage: request.headers[.acceptLanguage])
    }

    static let categories: [(String, PageText)] = [
        ("concert", .concert), ("musical", .musical), ("theatre", .theatre), ("sports", .sports), ("exhibition", .exhibition),
    ]

    static func category(_ value: String, _ language: PageLanguage) -> String {
        categories.first { $0.0 == value }.map { language.text($0.1) } ?? value
    }

    private static func iso(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle()) }

    /// A `yyyy-MM-dd` from a date input, as the start of that day in the venues' time zone.
    private static func day(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = PageLanguage.venueTimeZone
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.date(from: text)
    }
}

/// Answers a browser's request for an unknown page with the friendly 404 page; the JSON API's
/// paths, and clients that do not ask for HTML, keep their problem+json.
public struct PageNotFoundMiddleware<Context: RequestContext>: RouterMiddleware {
    let app: WebApp

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        guard response.status == .notFound, request.method == .get || request.method == .head,
              request.headers[.accept]?.contains("text/html") == true,
              !WebApp.apiPrefixes.contains(where: { request.uri.path.hasPrefix($0) })
        else { return response }
        return try app.notFound(request)
    }
}
