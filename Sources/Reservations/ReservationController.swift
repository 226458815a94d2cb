import BoxofficeKit
import HTTPKit
import Hummingbird

/// `/v1/performances/{id}/holds` and `/v1/holds/{id}`.
public struct ReservationController: Sendable {
    let service: ReservationService
    let availability: AvailabilityReader

    public init(service: ReservationService, availability: AvailabilityReader) {
        self.service = service
        self.availability = availability
    }

    struct HoldRequest: Decodable {
        let seatIds: [String]?
        let tier: String?
        let quantity: Int?
    }

    public func addRoutes(to routes: RouteRegistrar<AppRequestContext>) {
        routes.get("/v1/performances/:performanceId/availability") { _, context in
            try Response.json(
                try await availability.availability(performanceID: try context.parameters.require("performanceId")),
                headers: [.cacheControl: "public, max-age=1"])
        }
        let fans = routes.group("/v1", context: AuthenticatedContext.self)
        fans.post("/performances/:performanceId/holds") { request, context in
            let body = try await request.decodeJSON(as: HoldRequest.self, context: context)
            let holdRequest: ReservationService.HoldRequest
            switch (body.seatIds, body.tier, body.quantity) {
            case (let seatIDs?, nil, nil):
                holdRequest = .seats(seatIDs)
            case (nil, let tier?, let quantity?):
                holdRequest = .generalAdmission(tier: tier, quantity: quantity)
            default:
                throw Problem.validation([.init(field: "seatIds", message: "send either seatIds, or tier and quantity")])
            }
            let hold = try await service.hold(
                performanceID: try context.parameters.require("performanceId"), holdRequest, fan: context.principal,
                accessToken: request.headers[.queueAccess])
            return try Response.json(hold, status: .created)
        }
        fans.get("/holds/:holdId") { _, context in
            try Response.json(try await service.hold(id: try context.parameters.require("holdId"), viewer: context.principal))
        }
        fans.delete("/holds/:holdId") { _, context in
            try await service.release(id: try context.parameters.require("holdId"), by: context.principal)
            return HTTPResponse.Status.noContent
        }
    }
}
