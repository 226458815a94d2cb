import BoxofficeKit
import Foundation
import HTTPKit
import Hummingbird

/// `/v1/venues`, `/v1/events`, `/v1/performances`.
public struct CatalogController: Sendable {
    let service: CatalogService

    public init(service: CatalogService) {
        self.service = service
    }

    struct VenueRequest: Decodable {
        let name: String
        let address: String
    }

    struct SeatMapJSON: Decodable {
        let seats: [SeatInput]
    }

    /// The answer to a seat map upload; a dry run also gives back the seats as read, so the
    /// organizer sees the drawn map before anything is saved.
    struct SeatMapAnswer: Encodable {
        let seatCount: Int
        let saved: Bool
        let seats: [SeatInput]?
    }

    struct SeatList: Encodable {
        let seats: [Seat]
    }

    struct Items<Item: Encodable>: Encodable {
        let items: [Item]
    }

    struct StaffList: Encodable {
        let items: [CatalogService.StaffMember]
    }

    public func addRoutes(to routes: RouteRegistrar<AppRequestContext>) {
        // An organizer's door staff: who may scan the tickets of all their performances.
        let staff = routes.group("/v1/organizers/me/staff", context: AuthenticatedContext.self)
        staff.get("") { _, context in
            try Response.json(StaffList(items: try await service.staff(of: context.principal)))
        }
        staff.put("/:userId") { _, context in
            try await service.addStaff(try context.parameters.require("userId"), by: context.principal)
            return HTTPResponse.Status.noContent
        }
        staff.delete("/:userId") { _, context in
            try await service.removeStaff(try context.parameters.require("userId"), by: context.principal)
            return HTTPResponse.Status.noContent
        }
        // The organizer's desk: their own venues and events, drafts included.
        let desk = routes.group("/v1/organizers/me", context: AuthenticatedContext.self)
            .add(middleware: RequireRoleMiddleware(anyOf: .organizer, .admin))
        desk.get("/venues") { _, context in
            try Response.json(Items(items: try await service.organizerVenues(of: context.principal)))
        }
        desk.get("/events") { _, context in
            try Response.json(Items(items: try await service.organizerEvents(of: context.principal)))
        }
        // Reading the catalog is public; drafts are shown to their organizer only.
        routes.get("/v1/venues/:venueId") { _, context in
            try Response.json(try await service.venue(id: try context.parameters.require("venueId")))
        }
        routes.get("/v1/venues/:venueId/seatmap") { _, context in
            let venue = try await service.venue(id: try context.parameters.require("venueId"))
            return try Response.json(SeatList(seats: try await service.seatMap(venueID: venue.id)))
        }
        routes.get("/v1/events") { request, _ in
            try Response.json(try await service.listEvents(try Self.listQuery(request.uri.queryParameters)))
        }
        routes.get("/v1/events/:eventId") { _, context in
            try Response.json(try await service.event(id: try context.parameters.require("eventId"), viewer: context.principal))
        }
        routes.get("/v1/performances/:performanceId") { _, context in
            try Response.json(try await service.performance(id: try context.parameters.require("performanceId"), viewer: context.principal))
        }

        let organizer = routes.group("/v1", context: AuthenticatedContext.self)
            .add(middleware: RequireRoleMiddleware(anyOf: .organizer, .admin))
        organizer.post("/venues") { request, context in
            let body = try await request.decodeJSON(as: VenueRequest.self, context: context)
            return try Response.json(
                try await service.createVenue(name: body.name, address: body.address, by: context.principal), status: .created)
        }
        organizer.put("/venues/:venueId/seatmap") { request, context in
            let seats: [SeatInput]
            let contentType = request.headers[.contentType]?.lowercased() ?? ""
            if contentType.hasPrefix("text/csv") {
                let buffer = try await request.body.collect(upTo: context.maxUploadSize)
                seats = try SeatMapParser.parseCSV(String(buffer: buffer))
            } else {
                seats = try SeatMapParser.validate(try await request.decodeJSON(as: SeatMapJSON.self, context: context).seats)
            }
            let venueID = try context.parameters.require("venueId")
            if try request.isDryRun() {
                try context.principal.requireOwnership(of: try await service.venue(id: venueID).organizerId, resource: "venue")
                return try Response.json(SeatMapAnswer(seatCount: seats.count, saved: false, seats: seats))
            }
            let count = try await service.replaceSeatMap(venueID: venueID, seats: seats, by: context.principal)
            return try Response.json(SeatMapAnswer(seatCount: count, saved: true, seats: nil))
        }
        organizer.post("/events") { request, context in
            let draft = try await request.decodeJSON(as: CatalogService.EventDraft.self, context: context)
            return try Response.json(try await service.createEvent(draft, by: context.principal), status: .created)
        }
        organizer.patch("/events/:eventId") { request, context in
            let changes = try await request.decodeJSON(as: CatalogService.EventChanges.self, context: context)
            return try Response.json(
                try await service.updateEvent(id: try context.parameters.require("eventId"), changes: changes, by: context.principal))
        }
        organizer.post("/events/:eventId/publish") { _, context in
            try Response.json(try await service.publishEvent(id: try context.parameters.require("eventId"), by: context.principal))
        }
        organizer.post("/events/:eventId/cancel") { _, context in
            try Response.json(try await service.cancelEvent(id: try context.parameters.require("eventId"), by: context.principal))
        }
        organizer.patch("/performances/:performanceId") { request, context in
            let changes = try await request.decodeJSON(as: CatalogService.PerformanceChanges.self, context: context)
            return try Response.json(
                try await service.updatePerformance(id: try context.parameters.require("performanceId"), changes: changes, by: context.principal))
        }
        organizer.post("/performances/:performanceId/cancel") { _, context in
            try Response.json(
                try await service.cancelPerformance(id: try context.parameters.require("performanceId"), by: context.principal))
        }
        organizer.post("/events/:eventId/performances") { request, context in
            let draft = try await request.decodeJSON(as: CatalogService.PerformanceDraft.self, context: context)
            return try Response.json(
                try await service.addPerformance(eventID: try context.parameters.require("eventId"), draft, by: context.principal),
                status: .created)
        }
    }

    /// Reads `q, category, venueId, from, to, sort, limit, cursor`; a bad value is a 400 naming it.
    static func listQuery(_ parameters: Parameters) throws -> CatalogService.ListQuery {
        var query = CatalogService.ListQuery()
        query.text = parameters["q"].map(String.init)
        query.category = parameters["category"].map(String.init)
        query.venueID = parameters["venueId"].map(String.init)
        query.cursor = parameters["cursor"].map(String.init)
        for (name, keyPath) in [("from", \CatalogService.ListQuery.from), ("to", \CatalogService.ListQuery.to)] {
            guard let text = parameters[Substring(name)] else { continue }
            guard let date = RFC3339.date(from: String(text)) else {
                throw Problem.badRequest(detail: "\(name) must be an RFC 3339 time such as 2026-12-01T00:00:00Z.", field: name)
            }
            query[keyPath: keyPath] = date
        }
        if let available = parameters["available"] {
            guard let value = Bool(String(available)) else {
                throw Problem.badRequest(detail: "available must be true or false.", field: "available")
            }
            query.onlyAvailable = value
        }
        if let sort = parameters["sort"] {
            guard let value = CatalogService.ListQuery.Sort(rawValue: String(sort)) else {
                throw Problem.badRequest(detail: "sort must be date, title or popularity.", field: "sort")
            }
            query.sort = value
        }
        if let limit = parameters["limit"] {
            guard let value = Int(limit), (1...100).contains(value) else {
                throw Problem.badRequest(detail: "limit must be a whole number from 1 to 100.", field: "limit")
            }
            query.limit = value
        }
        return query
    }
}
