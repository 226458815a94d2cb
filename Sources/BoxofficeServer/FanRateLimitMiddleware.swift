import BoxofficeKit
import Coordination
import HTTPKit
import Hummingbird
import Logging

/// Limits each signed-in user but administrators to `limit` requests, shared by every node through the rate
/// limiter's store (Redis with several nodes): at an on-sale a script hammering the API from one
/// account gets 429s with `Retry-After` instead of crowding out the fans. Anonymous requests are
/// not limited here (sign-in and sign-up have throttles of their own). Only the API counts:
/// opening a page fetches its HTML, styles and scripts with the session cookie too — a dozen
/// requests in a moment, answered from memory — and a fan moving from the cart to the payment
/// page was refused mid-way.
struct FanRateLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let limiter: any RateLimiter
    let limit: RateLimit
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Administrators run the operators' tools (`boxoffice drill` funds thousands of wallets
        // in a few seconds); the limit is for fans' accounts.
        guard let principal = context.principal, request.uri.path.hasPrefix("/v1/"), !principal.roles.contains(.admin) else {
            return try await next(request, context)
        }
        let decision: RateLimitDecision
        do {
            decision = try await limiter.consume("requests:\(principal.userID)", limit: limit)
        } catch {
            // The limit protects the service; it must not take it down when its store is away.
            logger.warning("rate limiter unavailable; letting the request through", metadata: [
                "request_id": .string(context.requestID), "error": .string(String(describing: error)),
            ])
            return try await next(request, context)
        }
        guard decision.allowed else { throw Problem.tooManyRequests(retryAfterSeconds: decision.retryAfterSeconds) }
        return try await next(request, context)
    }
}
