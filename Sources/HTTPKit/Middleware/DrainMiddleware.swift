import BoxofficeKit
import Hummingbird
import Synchronization

/// Whether this node is shutting down. Once draining, `/ready` fails so load balancers stop
/// sending traffic, and new application requests are refused while in-flight ones finish.
public final class DrainState: Sendable {
    private let draining = Atomic<Bool>(false)

    public init() {}

    public var isDraining: Bool { draining.load(ordering: .acquiring) }

    public func beginDraining() { draining.store(true, ordering: .releasing) }
}

/// Refuses new application requests with 503 while the node drains, asking the client to
/// close the connection so its retry goes to another node. Operational endpoints stay open.
public struct DrainMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    private let state: DrainState
    private let exemptPaths: Set<String>

    public init(state: DrainState, exemptPaths: Set<String>) {
        self.state = state
        self.exemptPaths = exemptPaths
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if state.isDraining, !exemptPaths.contains(request.uri.path) {
            return Problem.serviceUnavailable(detail: "This node is shutting down; retry and another will answer.")
                .response(requestID: context.requestID, headers: [.connection: "close", .retryAfter: "1"])
        }
        return try await next(request, context)
    }
}
