import BoxofficeKit
import Catalog
import Foundation
import Reservations
import WebApp

/// What the fan pages show, answered from the catalog (events, performances, venues) and the
/// seat inventory's read model (what each tier has left).
struct CatalogShowcase: Showcase {
    let catalog: CatalogService
    let availability: AvailabilityReader
    let clock: any WallClock

    func events(matching search: EventSearch) async throws -> [EventCard] {
        var query = CatalogService.ListQuery()
        query.text = search.text
        query.category = search.category
        query.venueID = search.venueID
        query.from = search.from
        query.to = search.to
        query.limit = 30
        let listed = try await catalog.listEvents(query).items
        // Which of them still have something to sell, in one more indexed read.
        query.onlyAvailable = true
        let available = Set(try await catalog.listEvents(query).items.map(\.id))
        let now = clock.now()
        return try await withThrowingTaskGroup(of: (Int, EventCard).self) { group in
            for (index, event) in listed.enumerated() {
                group.addTask {
                    let detailed = try await catalog.event(id: event.id, viewer: nil)
                    let venue = try? await catalog.venue(id: event.venueId)
                    return (index, card(for: detailed, venueName: venue?.name ?? "", hasSeatsLeft: available.contains(event.id), now: now))
                }
            }
            var cards: [(Int, EventCard)] = []
            for try await card in group { cards.append(card) }
            return cards.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    func event(id: String) async throws -> EventPage? {
        let event: Event
        do {
            event = try await catalog.event(id: id, viewer: nil)
        } catch let problem as Problem where problem.status == 404 {
            return nil
        }
        guard event.status != .draft else { return nil }
        let venue = try? await catalog.venue(id: event.venueId)
        let showings = await (event.performances ?? []).asyncMap { performance in
            let left = try? await availability.availability(performanceID: performance.id).tiers
            return EventPage.Showing(
                id: performance.id, startsAt: performance.startsAt, onSaleFrom: performance.onSaleFrom,
                onSaleUntil: performance.onSaleUntil, cancelled: performance.status == "cancelled",
                tiers: performance.tiers.map { tier in
                    EventPage.Tier(name: tier.tier, price: tier.price, left: left?.first { $0.tier == tier.tier }?.available)
                },
                seated: performance.seating == .reserved)
        }
        let soldOut = !showings.isEmpty && showings.allSatisfy { $0.cancelled || $0.tiers.allSatisfy { $0.left == 0 } }
        return EventPage(
            card: card(for: event, venueName: venue?.name ?? "", hasSeatsLeft: !soldOut, now: clock.now()),
            description: event.description, venueAddress: venue?.address ?? "", showings: showings)
    }

    func performance(id: String) async throws -> PerformancePage? {
        guard let event = try await eventFor(performanceID: id), let performance = event.performances?.first(where: { $0.id == id })
        else { return nil }
        let venue = try? await catalog.venue(id: event.venueId)
        let left = try? await availability.availability(performanceID: id).tiers
        return PerformancePage(
            eventID: event.id, eventTitle: event.title, venueName: venue?.name ?? "",
            showing: EventPage.Showing(
                id: id, startsAt: performance.startsAt, onSaleFrom: performance.onSaleFrom, onSaleUntil: performance.onSaleUntil,
                cancelled: performance.status == "cancelled",
                tiers: performance.tiers.map { tier in
                    EventPage.Tier(name: tier.tier, price: tier.price, left: left?.first { $0.tier == tier.tier }?.available)
                }),
            maxSeatsPerOrder: performance.maxSeatsPerOrder, generalAdmission: performance.seating == .general)
    }

    func upcomingPerformances() async throws -> [UpcomingPerformance] {
        var query = CatalogService.ListQuery()
        query.limit = 50
        // A door opens before the show and stays open a while after it starts.
        let since = clock.now().addingTimeInterval(-6 * 3600)
        query.from = since
        var upcoming: [UpcomingPerformance] = []
        for listed in try await catalog.listEvents(query).items {
            let event = try await catalog.event(id: listed.id, viewer: nil)
            for performance in event.performances ?? [] where performance.status != "cancelled" && performance.startsAt >= since {
                upcoming.append(UpcomingPerformance(id: performance.id, eventTitle: event.title, startsAt: performance.startsAt))
            }
        }
        return upcoming.sorted { $0.startsAt < $1.startsAt }
    }

    /// The published event a performance belongs to, with its performances.
    private func eventFor(performanceID: String) async throws -> Event? {
        let performance: Performance
        do {
            performance = try await catalog.performance(id: performanceID, viewer: nil)
        } catch let problem as Problem where problem.status == 404 {
            return nil
        }
        guard let event = try? await catalog.event(id: performance.eventId, viewer: nil), event.status != .draft else { return nil }
        return event
    }

    private func card(for event: Event, venueName: String, hasSeatsLeft: Bool, now: Date) -> EventCard {
        let running = (event.performances ?? []).filter { $0.status != "cancelled" && now < $0.onSaleUntil }
        let onSaleNow = running.contains { $0.onSaleFrom <= now }
        return EventCard(
            id: event.id, title: event.title, artist: event.artist, category: event.category, venueName: venueName,
            firstStartsAt: event.startsAt, opensAt: running.map(\.onSaleFrom).filter { $0 > now }.min(), onSaleNow: onSaleNow,
            soldOut: !hasSeatsLeft && !running.isEmpty)
    }
}
