import BoxofficeKit
import HTTPKit
import Hummingbird

/// `/v1/wallet` for fans and `/v1/admin/wallets` for administrators.
public struct PaymentsController: Sendable {
    let service: PaymentService
    /// Set when payments go to the built-in sandbox gateway, whose pay page this serves.
    let sandbox: SandboxGateway?

    public init(service: PaymentService, sandbox: SandboxGateway?) {
        self.service = service
        self.sandbox = sandbox
    }

    struct TopUpRequest: Decodable {
        let amount: Int64
    }

    struct SandboxPayRequest: Decodable {
        let outcome: SandboxGateway.Outcome?
        let amount: Int64?
    }

    struct SandboxPaid: Encodable {
        let paymentId: String
        let status: String
        let paidAmount: Int64
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
        signedIn.post("/wallet/topups") { request, context in
            let key = try request.idempotencyKey()
            let body = try await request.decodeJSON(as: TopUpRequest.self, context: context)
            let started = try await service.startTopUp(userID: context.principal.userID, amount: body.amount, idempotencyKey: key)
            return Response.recordedJSON(status: started.status, body: started.body)
        }
        signedIn.get("/payments/:paymentId") { _, context in
            try Response.json(try await service.payment(id: try context.parameters.require("paymentId"), viewer: context.principal))
        }
        signedIn.post("/payments/:paymentId/complete") { _, context in
            try Response.json(
                try await service.confirmGatewayPayment(id: try context.parameters.require("paymentId"), viewer: context.principal))
        }
        routes.post("/v1/payments/webhooks/:provider") { request, context in
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            try await service.receiveWebhook(
                provider: try context.parameters.require("provider"), body: Array(body.readableBytesView), headers: headers)
            return try Response.json(["received": true])
        }
        if let sandbox {
            routes.get("/v1/sandbox/payments/:paymentId") { _, context in
                try Response.json(try sandbox.payPage(paymentID: try context.parameters.require("paymentId")))
            }
            routes.post("/v1/sandbox/payments/:paymentId/pay") { request, context in
                let body: SandboxPayRequest? =
                    try await request.decodeOptionalJSON(as: SandboxPayRequest.self, context: context)
                let paid = try sandbox.pay(
                    paymentID: try context.parameters.require("paymentId"), outcome: body?.outcome ?? .paid, amount: body?.amount)
                return try Response.json(SandboxPaid(paymentId: paid.id, status: paid.status.rawValue, paidAmount: paid.paidAmount))
            }
        }
        signedIn.post("/admin/wallets/:userId/grants") { request, context in
            try context.principal.require(anyOf: .admin)
            let key = try request.idempotencyKey()
            let body = try await request.decodeJSON(as: GrantRequest.self, context: context)
            let granted = try await service.grant(
                to: try context.parameters.require("userId"), amount: body.amount, note: body.reason, idempotencyKey: key,
                by: context.principal)
            return Response.recordedJSON(status: granted.status, body: granted.body)
        }
    }
}
