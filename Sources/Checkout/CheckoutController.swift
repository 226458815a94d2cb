import BoxofficeKit
import HTTPKit
import Hummingbird

/// `/v1/checkout` and `/v1/orders`.
public struct CheckoutController: Sendable {
    let service: CheckoutService

    public init(service: CheckoutService) {
        self.service = service
    }

    struct CheckoutRequest: Decodable {
        let holdId: String
        let method: CheckoutService.Method
    }

    struct CancelRequest: Decodable {
        let ticketIds: [String]?
    }

    public func addRoutes(to routes: RouteRegistrar<AppRequestContext>) {
        let signedIn = routes.group("/v1", context: AuthenticatedContext.self)
        signedIn.post("/checkout") { request, context in
            let key = try request.idempotencyKey()
            let body = try await request.decodeJSON(as: CheckoutRequest.self, context: context)
            let result = try await service.checkout(
                holdID: body.holdId, method: body.method, idempotencyKey: key, fan: context.principal,
                accessToken: request.headers[.queueAccess])
            return Response.recordedJSON(status: result.status, body: result.body)
        }
        signedIn.get("/orders") { request, context in
            try Response.json(try await service.orders(fan: context.principal, page: try request.pageRequest()))
        }
        signedIn.get("/orders/:orderId") { _, context in
            try Response.json(try await service.order(id: try context.parameters.require("orderId"), viewer: context.principal))
        }
        signedIn.post("/orders/:orderId/cancel") { request, context in
            // The body is optional: no body (or no ticketIds) cancels the whole order.
            let body: CancelRequest? =
                try await request.decodeOptionalJSON(as: CancelRequest.self, context: context)
            return try Response.json(
                try await service.cancel(
                    orderID: try context.parameters.require("orderId"), ticketIDs: body?.ticketIds, by: context.principal))
        }
    }
}
