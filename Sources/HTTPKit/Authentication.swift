import BoxofficeKit
import Hummingbird
import Logging

/// Turns an access token into a principal; the identity context provides the implementation.
public protocol AccessTokenVerifier: Sendable {
    /// The principal the token names; throws a 401 problem when it is invalid or expired.
    func principal(fromAccessToken token: String) async throws -> Principal
}

/// Reads `Authorization: Bearer <token>` and puts the principal in the context.
///
/// A request without credentials passes through anonymous (public routes serve it; protected
/// groups refuse it); a request with a bad token is refused at once with 401, so a client
/// never silently acts as anonymous because its token expired.
public struct AuthenticationMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    private let verifier: any AccessTokenVerifier

    public init(verifier: any AccessTokenVerifier) {
        self.verifier = verifier
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let authorization = request.headers[.authorization] else {
            return try await next(request, context)
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw Problem.unauthorized(detail: "Send the access token as 'Authorization: Bearer <token>'.")
        }
        var context = context
        context.principal = try await verifier.principal(fromAccessToken: String(parts[1]))
        context.logger[metadataKey: "user_id"] = .string(context.principal?.userID ?? "")
        return try await next(request, context)
    }
}

/// The context of routes that need a signed-in user: it cannot exist without a principal, so
/// handlers of these routes never check for one.
public struct AuthenticatedContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let requestID: String
    public let principal: Principal
    public var maxUploadSize: Int
    public let clientAddress: String?

    public init(context: AppRequestContext) throws {
        guard let principal = context.principal else {
            throw Problem.unauthorized()
        }
        self.coreContext = context.coreContext
        self.requestID = context.requestID
        self.principal = principal
        self.maxUploadSize = context.maxUploadSize
        self.clientAddress = context.clientAddress
    }
}

/// Refuses (403) principals that have none of the given roles.
public struct RequireRoleMiddleware: RouterMiddleware {
    public typealias Context = AuthenticatedContext

    private let roles: Set<Role>

    public init(anyOf roles: Role...) {
        self.roles = Set(roles)
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard !context.principal.roles.isDisjoint(with: roles) else {
            throw Problem.forbidden(detail: "This needs the \(roles.map(\.rawValue).sorted().joined(separator: " or ")) role.")
        }
        return try await next(request, context)
    }
}
