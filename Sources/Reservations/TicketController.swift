import BoxofficeKit
import HTTPKit
import Hummingbird

/// `/v1/tickets` for fans and `/v1/scans` for door staff.
public struct TicketController: Sendable {
    let service: TicketService

    public init(service: TicketService) {
        self.service = service
    }

    struct TransferRequest: Decodable {
        let email: String
    }

    struct ScanRequest: Decodable {
        let code: String
        let gate: String
        /// When given, a ticket for any other performance is refused at this gate.
        let performanceId: String?
    }

    public func addRoutes(to routes: RouteRegistrar<AppRequestContext>) {
        let signedIn = routes.group("/v1", context: AuthenticatedContext.self)
        signedIn.get("/tickets") { request, context in
            try Response.json(try await service.tickets(holder: context.principal, page: try request.pageRequest()))
        }
        signedIn.post("/tickets/:ticketId/transfer") { request, context in
            let body = try await request.decodeJSON(as: TransferRequest.self, context: context)
            return try Response.json(
                try await service.transfer(ticketID: try context.parameters.require("ticketId"), toEmail: body.email, by: context.principal))
        }
        signedIn.post("/scans") { request, context in
            let body = try await request.decodeJSON(as: ScanRequest.self, context: context)
            return try Response.json(
                try await service.scan(code: body.code, gate: body.gate, performanceID: body.performanceId, by: context.principal))
        }
    }
}
