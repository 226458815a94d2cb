import BoxofficeKit
import Commerce
import HTTPKit
import Hummingbird

/// `/v1/checkout` and `/v1/orders`.
public struct CheckoutController: Sendable {
    let service: CheckoutService
    let sales: SalesDesk

    public init(service: CheckoutService, sales: SalesDesk) {
        self.service = service
        self.sales = sales
    }

    struct CheckoutRequest: Decodable {
        let holdId: String?
        /// Goods bought in the same order, beside or instead of the hold.
        let items: [GoodsRequest]?
        /// A coupon the fan holds (its `couponId`), off the goods it covers.
        let couponId: String?
        /// Where the goods go (one of the fan's addresses, for a shipping fee); none: picked up at the venue.
        let addressId: String?
        let method: CheckoutService.Method
    }

    struct CancelRequest: Decodable {
        let ticketIds: [String]?
        let goodsIds: [String]?
    }

    public func addRoutes(to routes: RouteRegistrar<AppRequestContext>) {
        let signedIn = routes.group("/v1", context: AuthenticatedContext.self)
        signedIn.post("/checkout") { request, context in
            let key = try request.idempotencyKey()
            let body = try await request.decodeJSON(as: CheckoutRequest.self, context: context)
            let result = try await service.checkout(
                holdID: body.holdId, items: body.items ?? [], couponID: body.couponId, addressID: body.addressId, method: body.method, idempotencyKey: key, fan: context.principal,
                accessToken: request.headers[.queueAccess])
            return Response.recordedJSON(status: result.status, body: result.body)
        }
        signedIn.get("/orders") { request, context in
            try Response.json(try await service.orders(fan: context.principal, page: try request.pageRequest()))
        }
        signedIn.get("/orders/:orderId") { _, context in
            let viewer = context.principal
            return try Response.json(try await service.order(id: try context.parameters.require("orderId"), viewer: viewer) {
                try await sales.mayView(performanceID: $0, viewer: viewer)
            })
        }
        // The organizer's view of a performance's sales.
        let desk = signedIn.group("/performances/:performanceId").add(middleware: RequireRoleMiddleware(anyOf: .organizer, .admin))
        desk.get("/sales") { _, context in
            try Response.json(
                try await sales.summary(performanceID: try context.parameters.require("performanceId"), viewer: context.principal))
        }
        desk.get("/orders") { request, context in
            let parameters = request.uri.queryParameters
            let search = SalesDesk.OrderSearch(
                text: parameters["q"].map(String.init), status: parameters["status"].flatMap { $0.isEmpty ? nil : String($0) },
                page: try request.pageRequest())
            return try Response.json(
                try await sales.orders(performanceID: try context.parameters.require("performanceId"), search: search, viewer: context.principal))
        }
        desk.get("/orders/export") { _, context in
            let performanceID = try context.parameters.require("performanceId")
            let csv = try await sales.ordersCSV(performanceID: performanceID, viewer: context.principal)
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/csv; charset=utf-8", .cacheControl: "no-store",
                    .contentDisposition: "attachment; filename=\"orders-\(performanceID.filter { $0.isLetter || $0.isNumber }).csv\"",
                ],
                body: ResponseBody(byteBuffer: ByteBuffer(string: csv)))
        }
        signedIn.post("/orders/:orderId/cancel") { request, context in
            // The body is optional: no body (or no ticketIds) cancels the whole order. With dryRun=true
            // the answer is what would come back, and nothing changes.
            let dryRun = try request.isDryRun()
            let body: CancelRequest? =
                try await request.decodeOptionalJSON(as: CancelRequest.self, context: context)
            let orderID = try context.parameters.require("orderId")
            if dryRun {
                return try Response.json(try await service.cancellationQuote(
                    orderID: orderID, ticketIDs: body?.ticketIds, goodsIDs: body?.goodsIds, by: context.principal))
            }
            return try Response.json(try await service.cancel(
                orderID: orderID, ticketIDs: body?.ticketIds, goodsIDs: body?.goodsIds, by: context.principal))
        }
    }
}
