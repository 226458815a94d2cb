import BoxofficeKit
import RedisClient

/// A request that needed Redis while it could not be reached (a failover, a restart) gets a 503
/// the client may retry, not a 500: nothing is wrong with the request or with our code, and
/// Sentinel promotes a replica within seconds. Anything else Redis answers is a bug of ours.
extension RedisError: ProblemConvertible {
    public var problem: Problem {
        switch self {
        case .timeout, .connectionClosed, .unavailable:
            return Self.failingOver
        case .server(let code, _) where ["READONLY", "MASTERDOWN", "LOADING", "TRYAGAIN"].contains(code):
            return Self.failingOver
        case .server, .protocolViolation:
            return Problem.internalError()
        }
    }

    private static let failingOver = Problem(
        type: Problem.typeURI("service-unavailable"), title: "Service unavailable.", status: 503,
        detail: "A shared service is briefly unavailable; try again in a few seconds.",
        extensions: ["retryAfter": .int(2)])
}
