import BoxofficeKit
import Foundation
import HTTPKit
import Hummingbird

/// `/v1/products`: the shop's goods, and the organizer's desk for them.
public struct CommerceController: Sendable {
    let products: ProductService
    let coupons: CouponService

    public init(products: ProductService, coupons: CouponService) {
        self.products = products
        self.coupons = coupons
    }

    struct StockRequest: Decodable {
        let stock: Int
    }

    struct Items<Item: Encodable>: Encodable {
        let items: [Item]
    }

    public func addRoutes(to routes: RouteRegistrar<AppRequestContext>) {
        let desk = routes.group("/v1", context: AuthenticatedContext.self).add(middleware: RequireRoleMiddleware(anyOf: .organizer, .admin))
        desk.post("/products") { request, context in
            let draft = try await request.decodeJSON(as: ProductService.ProductDraft.self, context: context)
            return try Response.json(try await products.createProduct(draft, by: context.principal), status: .created)
        }
        desk.patch("/products/:productId") { request, context in
            let changes = try await request.decodeJSON(as: ProductService.ProductChanges.self, context: context)
            return try Response.json(
                try await products.updateProduct(id: try context.parameters.require("productId"), changes: changes, by: context.principal))
        }
        desk.put("/products/:productId/options/:optionId/stock") { request, context in
            let body = try await request.decodeJSON(as: StockRequest.self, context: context)
            return try Response.json(try await products.setStock(
                productID: try context.parameters.require("productId"), optionID: try context.parameters.require("optionId"),
                stock: body.stock, by: context.principal))
        }
        desk.post("/coupons") { request, context in
            let draft = try await request.decodeJSON(as: CouponService.CouponDraft.self, context: context)
            return try Response.json(try await coupons.createCoupon(draft, by: context.principal), status: .created)
        }
        desk.get("/organizers/me/coupons") { _, context in
            try Response.json(Items(items: try await coupons.coupons(of: context.principal)))
        }
        let fans = routes.group("/v1", context: AuthenticatedContext.self)
        fans.post("/coupons/:couponId/claim") { _, context in
            try Response.json(try await coupons.claim(couponID: try context.parameters.require("couponId"), by: context.principal), status: .created)
        }
        fans.get("/me/coupons") { _, context in
            try Response.json(Items(items: try await coupons.coupons(ofFan: context.principal)))
        }
        routes.get("/v1/products/:productId/coupons") { _, context in
            try Response.json(Items(items: try await coupons.claimable(forProduct: try context.parameters.require("productId"))))
        }
        routes.get("/v1/coupons/:couponId") { _, context in
            try Response.json(try await coupons.coupon(id: try context.parameters.require("couponId")))
        }
        // The organizer's own products, archived ones too.
        desk.get("/organizers/me/products") { request, context in
            try Response.json(try await products.listProducts(.init(organizerID: context.principal.userID, page: try request.pageRequest())))
        }
        // The shop is public.
        routes.get("/v1/products") { request, _ in
            let parameters = request.uri.queryParameters
            let query = ProductService.ListQuery(
                text: parameters["q"].map(String.init), eventID: parameters["eventId"].flatMap { $0.isEmpty ? nil : String($0) },
                page: try request.pageRequest())
            return try Response.json(try await products.listProducts(query))
        }
        routes.get("/v1/products/popular") { _, _ in
            try Response.json(Items(items: try await products.popular()))
        }
        routes.get("/v1/products/:productId") { _, context in
            try Response.json(try await products.product(id: try context.parameters.require("productId")))
        }
    }
}
