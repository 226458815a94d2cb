import BoxofficeKit
import HTTPKit
import Hummingbird

/// `/v1/wallet` for fans and `/v1/admin/wallets` for administrators.
public struct PaymentsController: Sendable {
    let service: PaymentService

    public init(service: PaymentService) {
        self.service = service
    }

    struct GrantRequest: Decodable {
        let amount: Int64
        let reason: String
    }

    public func addRoutes(to routes: RouteRegistrar<AppRequestContext>) {
        let signedIn = routes.group("/v1", context: AuthenticatedContext.self)
        signedIn.get("/wallet") { _, context in
            try Response.json(try await service.balance(userID: context.principal.userID))
        }
        signedIn.get("/wallet/ledger") { request, context in
            try Response.json(try await service.ledger(userID: context.principal.userID, page: try request.pageRequest()))
        }
        signedIn.post("/admin/wallets/:userId/grants") { request, context in
            try context.principal.require(anyOf: .admin)
            let body = try await request.decodeJSON(as: GrantRequest.self, context: context)
            let entry = try await service.grant(
                to: try context.parameters.require("userId"), amount: body.amount, note: body.reason, by: context.principal)
            return try Response.json(entry, status: .created)
        }
    }
}
