import BoxofficeKit
import Foundation
import HTTPTypes
import Hummingbird

/// Which other sites' pages may call the API from a browser. Listed origins may send
/// credentials (cookies, the Authorization header); `*` lets any origin read without them.
/// Nobody by default: the pages this binary serves are same-origin and need none of this.
public struct CORSPolicy: Sendable, Equatable {
    public let origins: Set<String>
    public let anyOriginWithoutCredentials: Bool

    public init(origins: Set<String> = [], anyOriginWithoutCredentials: Bool = false) {
        self.origins = origins
        self.anyOriginWithoutCredentials = anyOriginWithoutCredentials
    }

    public struct InvalidOrigin: Error, CustomStringConvertible {
        public let description: String
    }

    /// `https://shop.example.com, http://localhost:3000` or `*`.
    public init(list: String) throws(InvalidOrigin) {
        var origins: Set<String> = []
        var any = false
        for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            if item == "*" {
                any = true
                continue
            }
            guard let url = URL(string: item), ["http", "https"].contains(url.scheme ?? ""), let host = url.host, !host.isEmpty,
                  url.path.isEmpty || url.path == "/", url.query == nil, url.user == nil
            else { throw InvalidOrigin(description: "'\(item)' is not an origin (scheme://host[:port])") }
            origins.insert(Self.normalized(item))
        }
        self.init(origins: origins, anyOriginWithoutCredentials: any)
    }

    public var isEnabled: Bool { !origins.isEmpty || anyOriginWithoutCredentials }

    /// How a browser's `Origin` compares: lower-case, no trailing slash.
    static func normalized(_ origin: String) -> String {
        var origin = origin.lowercased()
        if origin.hasSuffix("/") { origin.removeLast() }
        return origin
    }

    enum Grant {
        case withCredentials
        case withoutCredentials
    }

    func grant(for origin: String) -> Grant? {
        if origins.contains(Self.normalized(origin)) { return .withCredentials }
        return anyOriginWithoutCredentials ? .withoutCredentials : nil
    }
}

/// Answers preflights and adds the CORS headers to every answer (problems included) for the
/// origins the policy allows; requests from any other origin get no CORS headers, so browsers
/// keep their pages from reading the answer.
public struct CORSMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    private let policy: CORSPolicy
    private static let origin = HTTPField.Name("Origin")!
    private static let requestMethod = HTTPField.Name("Access-Control-Request-Method")!
    private static let allowOrigin = HTTPField.Name("Access-Control-Allow-Origin")!
    private static let allowCredentials = HTTPField.Name("Access-Control-Allow-Credentials")!
    private static let allowMethods = HTTPField.Name("Access-Control-Allow-Methods")!
    private static let allowHeaders = HTTPField.Name("Access-Control-Allow-Headers")!
    private static let exposeHeaders = HTTPField.Name("Access-Control-Expose-Headers")!
    private static let maxAge = HTTPField.Name("Access-Control-Max-Age")!
    private static let vary = HTTPField.Name("Vary")!

    /// The request headers the API reads.
    static let requestHeaders = "Authorization, Content-Type, Idempotency-Key, X-CSRF-Token, Queue-Access, Queue-Ticket, X-Request-ID"
    /// The response headers a page may need to read.
    static let responseHeaders = "Retry-After, X-Request-ID, Location"

    public init(policy: CORSPolicy) {
        self.policy = policy
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard policy.isEnabled, let origin = request.headers[Self.origin] else { return try await next(request, context) }
        guard let grant = policy.grant(for: origin) else {
            var response = try await next(request, context)
            response.headers[Self.vary] = "Origin"
            return response
        }
        if request.method == .options, request.headers[Self.requestMethod] != nil {
            var headers = headers(for: origin, grant: grant)
            headers[Self.allowMethods] = "GET, POST, PUT, PATCH, DELETE"
            headers[Self.allowHeaders] = Self.requestHeaders
            headers[Self.maxAge] = "600"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        for field in headers(for: origin, grant: grant) { response.headers[field.name] = field.value }
        response.headers[Self.exposeHeaders] = Self.responseHeaders
        return response
    }

    private func headers(for origin: String, grant: CORSPolicy.Grant) -> HTTPFields {
        var headers: HTTPFields = [Self.vary: "Origin"]
        switch grant {
        case .withCredentials:
            headers[Self.allowOrigin] = origin
            headers[Self.allowCredentials] = "true"
        case .withoutCredentials:
            headers[Self.allowOrigin] = "*"
        }
        return headers
    }
}
