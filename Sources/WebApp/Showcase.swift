import BoxofficeKit
import Foundation

/// What the fan pages show, asked of the contexts that know it. WebApp imports no context: the
/// composition root answers from the catalog and the seat inventory.
public protocol Showcase: Sendable {
    /// Published events matching the search, soonest first.
    func events(matching search: EventSearch) async throws -> [EventCard]
    /// A published event with its performances, or nil when there is none to show.
    func event(id: String) async throws -> EventPage?
    /// One performance of a published event, for its seat map page; nil when there is none to show.
    func performance(id: String) async throws -> PerformancePage?
    /// Performances that have not ended yet, soonest first, for the door's choice.
    func upcomingPerformances() async throws -> [UpcomingPerformance]
}

public struct UpcomingPerformance: Sendable {
    public let id: String
    public let eventTitle: String
    public let startsAt: Date

    public init(id: String, eventTitle: String, startsAt: Date) {
        self.id = id
        self.eventTitle = eventTitle
        self.startsAt = startsAt
    }
}

/// A performance's seat map page: what it is and its rules; the seats come from the JSON API.
public struct PerformancePage: Sendable {
    public let eventID: String
    public let eventTitle: String
    public let venueName: String
    public let showing: EventPage.Showing
    public let maxSeatsPerOrder: Int
    /// Standing tiers are bought by quantity, not from the map.
    public let generalAdmission: Bool

    public init(eventID: String, eventTitle: String, venueName: String, showing: EventPage.Showing, maxSeatsPerOrder: Int, generalAdmission: Bool) {
        self.eventID = eventID
        self.eventTitle = eventTitle
        self.venueName = venueName
        self.showing = showing
        self.maxSeatsPerOrder = maxSeatsPerOrder
        self.generalAdmission = generalAdmission
    }
}

public struct EventSearch: Sendable, Equatable {
    public var text: String?
    public var category: String?
    public var venueID: String?
    public var from: Date?
    public var to: Date?

    public init(text: String? = nil, category: String? = nil, venueID: String? = nil, from: Date? = nil, to: Date? = nil) {
        self.text = text
        self.category = category
        self.venueID = venueID
        self.from = from
        self.to = to
    }
}

/// An event as a card in the listing.
public struct EventCard: Sendable {
    public let id: String
    public let title: String
    public let artist: String
    public let category: String
    public let venueName: String
    public let firstStartsAt: Date?
    /// When the next of its performances goes on sale, if none is on sale yet.
    public let opensAt: Date?
    public let onSaleNow: Bool
    public let soldOut: Bool

    public init(
        id: String, title: String, artist: String, category: String, venueName: String, firstStartsAt: Date?, opensAt: Date?,
        onSaleNow: Bool, soldOut: Bool
    ) {
        self.id = id
        self.title = title
        self.artist = artist
        self.category = category
        self.venueName = venueName
        self.firstStartsAt = firstStartsAt
        self.opensAt = opensAt
        self.onSaleNow = onSaleNow
        self.soldOut = soldOut
    }
}

/// An event's page: its description, venue and performances with what each tier costs and has left.
public struct EventPage: Sendable {
    public struct Tier: Sendable {
        public let name: String
        public let price: Money
        /// Seats or units left to buy; nil when not known yet (the seat map is being built).
        public let left: Int?

        public init(name: String, price: Money, left: Int?) {
            self.name = name
            self.price = price
            self.left = left
        }
    }

    public struct Showing: Sendable {
        public let id: String
        public let startsAt: Date
        public let onSaleFrom: Date
        public let onSaleUntil: Date
        public let cancelled: Bool
        public let tiers: [Tier]
        /// Seats picked on a map (reserved seating), not a count per standing tier.
        public let seated: Bool

        public init(id: String, startsAt: Date, onSaleFrom: Date, onSaleUntil: Date, cancelled: Bool, tiers: [Tier], seated: Bool = true) {
            self.seated = seated
            self.id = id
            self.startsAt = startsAt
            self.onSaleFrom = onSaleFrom
            self.onSaleUntil = onSaleUntil
            self.cancelled = cancelled
            self.tiers = tiers
        }
    }

    public let card: EventCard
    public let description: String
    public let venueAddress: String
    public let showings: [Showing]

    public init(card: EventCard, description: String, venueAddress: String, showings: [Showing]) {
        self.card = card
        self.description = description
        self.venueAddress = venueAddress
        self.showings = showings
    }
}
