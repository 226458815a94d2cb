import BoxofficeKit
import Foundation
import HTTPKit
import Hummingbird

/// `/v1/me/addresses` and `/v1/shipments`: fans' delivery addresses, and the staff's desk for
/// packing and sending.
public struct FulfilmentController: Sendable {
    let service: FulfilmentService

    public init(service: FulfilmentService) {
        self.service = service
    }

    struct Items<Item: Encodable>: Encodable {
        let items: [Item]
    }

    struct MergeRequest: Decodable {
        let orderIds: [String]
    }

    struct AddressChange: Decodable {
        let addressId: String
    }

    public func addRoutes(to routes: RouteRegistrar<AppRequestContext>) {
        let signedIn = routes.group("/v1", context: AuthenticatedContext.self)
        signedIn.post("/me/addresses") { request, context in
            let draft = try await request.decodeJSON(as: FulfilmentService.AddressDraft.self, context: context)
            return try Response.json(try await service.addAddress(draft, by: context.principal), status: .created)
        }
        signedIn.get("/me/addresses") { _, context in
            try Response.json(Items(items: try await service.addresses(of: context.principal)))
        }
        signedIn.get("/shipments/:shipmentId") { _, context in
            let shipment = try await service.shipment(id: try context.parameters.require("shipmentId"))
            if !context.principal.has(.staff) { try context.principal.requireOwnership(of: shipment.fanId, resource: "shipment") }
            return try Response.json(shipment)
        }
        signedIn.put("/shipments/:shipmentId/address") { request, context in
            let body = try await request.decodeJSON(as: AddressChange.self, context: context)
            return try Response.json(try await service.changeAddress(
                shipmentID: try context.parameters.require("shipmentId"), addressID: body.addressId, by: context.principal))
        }
        let staff = signedIn.group("/shipments").add(middleware: RequireRoleMiddleware(anyOf: .staff, .admin))
        staff.get("") { request, context in
            let status = request.uri.queryParameters["status"].flatMap { $0.isEmpty ? nil : String($0) }
            return try Response.json(try await service.shipments(status: status, page: try request.pageRequest(), by: context.principal))
        }
        staff.post("/:shipmentId/status") { request, context in
            let change = try await request.decodeJSON(as: FulfilmentService.StatusChange.self, context: context)
            return try Response.json(try await service.changeStatus(shipmentID: try context.parameters.require("shipmentId"), change, by: context.principal))
        }
        staff.post("/merge") { request, context in
            let body = try await request.decodeJSON(as: MergeRequest.self, context: context)
            return try Response.json(try await service.merge(orderIDs: body.orderIds, by: context.principal))
        }
    }
}
