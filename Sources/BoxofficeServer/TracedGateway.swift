import Payments
import Tracing

/// A span around every call to the payment gateway (PortOne or the sandbox), so a slow or
/// failing gateway shows in the trace of the checkout or webhook that waited on it.
struct TracedGateway: PaymentGateway {
    let gateway: any PaymentGateway

    var provider: String { gateway.provider }

    func prepare(_ request: GatewayPaymentRequest) async throws -> PaymentIntent {
        try await traced("prepare", paymentID: request.paymentID) { try await gateway.prepare(request) }
    }

    func payment(id: String) async throws -> GatewayPayment {
        try await traced("get payment", paymentID: id) { try await gateway.payment(id: id) }
    }

    func cancel(paymentID: String, amount: Int64, cancellableBefore: Int64, reason: String) async throws {
        try await traced("cancel", paymentID: paymentID) {
            try await gateway.cancel(paymentID: paymentID, amount: amount, cancellableBefore: cancellableBefore, reason: reason)
        }
    }

    /// Local work (a signature check): no span.
    func verifyWebhook(body: [UInt8], headers: [String: String]) throws -> GatewayWebhook {
        try gateway.verifyWebhook(body: body, headers: headers)
    }

    private func traced<Result: Sendable>(
        _ operation: String, paymentID: String, _ body: () async throws -> Result
    ) async throws -> Result {
        try await withSpan("gateway \(operation)", ofKind: .client) { span in
            span.attributes["payment.gateway"] = gateway.provider
            span.attributes["payment.id"] = paymentID
            return try await body()
        }
    }
}
