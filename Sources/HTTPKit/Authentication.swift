import BoxofficeKit
import HTTPTypes
import Hummingbird
import Logging

/// Turns an access token into a principal; the identity context provides the implementation.
public protocol AccessTokenVerifier: Sendable {
    /// The principal the token names; throws a 401 problem when it is invalid or expired.
    func principal(fromAccessToken token: String) async throws -> Principal
}

/// A browser session found from the request's cookies.
public struct CookieSession: Sendable {
    public let principal: Principal
    /// What `X-CSRF-Token` must carry on requests that change something.
    public let csrfToken: String
    /// Cookies to send back, e.g. a fresh session made from a remember-me token.
    public let cookiesToSet: [Cookie]

    public init(principal: Principal, csrfToken: String, cookiesToSet: [Cookie] = []) {
        self.principal = principal
        self.csrfToken = csrfToken
        self.cookiesToSet = cookiesToSet
    }
}

/// Finds the browser session behind a request's cookies; the identity context implements it.
public protocol CookieAuthenticator: Sendable {
    func session(for request: Request, secure: Bool) async throws -> CookieSession?
}

extension HTTPField.Name {
    public static let csrfToken = HTTPField.Name("X-CSRF-Token")!
    public static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    /// The waiting room's signed place in line, sent with status polls.
    public static let queueTicket = HTTPField.Name("Queue-Ticket")!
    /// The waiting room's admission token, sent with holds and checkout.
    public static let queueAccess = HTTPField.Name("Queue-Access")!
}

extension Request {
    /// Whether the client reached us over TLS (directly or through a proxy that says so), which
    /// decides the `Secure` attribute of cookies.
    public var arrivedOverTLS: Bool {
        uri.scheme == .https || headers[.forwardedProto]?.lowercased() == "https"
    }
}

/// Puts the caller's principal in the context: from `Authorization: Bearer <token>` for API
/// clients, else from the session cookie for browsers.
///
/// A request without credentials passes through anonymous (public routes serve it; protected
/// groups refuse it); a bad bearer token is refused at once with 401, so a client never silently
/// acts as anonymous because its token expired. Cookies are sent by browsers on their own, so a
/// cookie-authenticated request that changes something must also carry the session's CSRF token
/// in `X-CSRF-Token`, which another site's page cannot read.
public struct AuthenticationMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    private let verifier: any AccessTokenVerifier
    private let cookies: (any CookieAuthenticator)?
    /// Paths that read credentials of their own (`/metrics` and its scrape token): passed through untouched.
    private let exemptPaths: Set<String>

    public init(verifier: any AccessTokenVerifier, cookies: (any CookieAuthenticator)? = nil, exemptPaths: Set<String> = []) {
        self.verifier = verifier
        self.cookies = cookies
        self.exemptPaths = exemptPaths
    }

    private static let safeMethods: Set<HTTPRequest.Method> = [.get, .head, .options]

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if exemptPaths.contains(request.uri.path) { return try await next(request, context) }
        var context = context
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
                throw Problem.unauthorized(detail: "Send the access token as 'Authorization: Bearer <token>'.")
            }
            context.principal = try await verifier.principal(fromAccessToken: String(parts[1]))
        } else if let cookies, let session = try await cookies.session(for: request, secure: request.arrivedOverTLS) {
            if !Self.safeMethods.contains(request.method) {
                guard let presented = request.headers[.csrfToken], Secrets.constantTimeEquals(presented, session.csrfToken) else {
                    throw Problem(
                        type: Problem.typeURI("csrf-failed"), title: "Not allowed.", status: 403,
                        detail: "Requests signed in by cookie must send the session's X-CSRF-Token header.")
                }
            }
            context.principal = session.principal
            var response = try await next(request, context.withUser())
            for cookie in session.cookiesToSet { response.setCookie(cookie) }
            return response
        }
        return try await next(request, context.withUser())
    }
}

extension AppRequestContext {
    fileprivate func withUser() -> AppRequestContext {
        guard let principal else { return self }
        var context = self
        context.logger[metadataKey: "user_id"] = .string(principal.userID)
        return context
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
