import Hummingbird
import Synchronization

/// Every route the application mounted, as `(method, path pattern)`.
///
/// Hummingbird's router does not list its routes, and two things need the list: the problem
/// middleware, to answer 405 (with `Allow`) instead of 404 when the path exists under other
/// methods, and the test that keeps `openapi.yaml` and the router in step.
public final class RouteTable: Sendable {
    public struct Entry: Hashable, Sendable, CustomStringConvertible {
        public let method: String
        /// Hummingbird syntax: `/v1/holds/:holdId`.
        public let path: String
        public var description: String { "\(method) \(path)" }
    }

    private let entries = Mutex<[Entry]>([])

    public init() {}

    public var all: [Entry] { entries.withLock { $0 } }

    func record(method: HTTPRequest.Method, path: String) {
        entries.withLock { $0.append(Entry(method: method.rawValue, path: path)) }
    }

    /// The methods mounted on a concrete request path, e.g. `["GET", "DELETE"]`. As in the
    /// router, a literal segment wins over a parameter: `/v1/shipments/merge` is not also
    /// `/v1/shipments/:shipmentId`.
    public func methods(matching requestPath: String) -> [String] {
        let requested = Self.segments(requestPath)
        var candidates = all.map { ($0, Self.segments($0.path)) }.filter { Self.matches(pattern: $0.1, path: requested) }
        for index in requested.indices {
            let literal = candidates.contains { index < $0.1.count && $0.1[index] == requested[index] }
            if literal { candidates = candidates.filter { index >= $0.1.count || $0.1[index] == requested[index] || $0.1[index] == "**" } }
        }
        return Array(Set(candidates.map(\.0.method))).sorted()
    }

    static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    private static func matches(pattern: [Substring], path: [Substring]) -> Bool {
        for (index, segment) in pattern.enumerated() {
            if segment == "**" { return true }
            guard index < path.count else { return false }
            if segment == "*" || segment.hasPrefix(":") || (segment.hasPrefix("{") && segment.hasSuffix("}")) { continue }
            if segment != path[index] { return false }
        }
        return pattern.count == path.count
    }
}

/// Mounts routes on a Hummingbird router (or group) and records each in a `RouteTable`.
///
/// Contexts receive one of these in their `addRoutes(to:)`, so nothing can be routed without
/// also being known to the 405 logic and the OpenAPI check.
public struct RouteRegistrar<Context: RequestContext> {
    private let router: any RouterMethods<Context>
    private let prefix: String
    private let table: RouteTable

    public init(router: any RouterMethods<Context>, table: RouteTable, prefix: String = "") {
        self.router = router
        self.table = table
        self.prefix = prefix
    }

    /// Routes under `path`, with their own middleware if added to the returned registrar.
    public func group(_ path: String) -> RouteRegistrar<Context> {
        RouteRegistrar(router: router.group(RouterPath(path)), table: table, prefix: Self.join(prefix, path))
    }

    /// Routes under `path` whose handlers get a `Child` context, made from this one; a `Child`
    /// that cannot be made (e.g. no signed-in user) refuses the request with its error.
    public func group<Child: ChildRequestContext>(
        _ path: String, context _: Child.Type
    ) -> RouteRegistrar<Child> where Child.ParentContext == Context {
        RouteRegistrar<Child>(
            router: router.group(RouterPath(path), context: Child.self), table: table, prefix: Self.join(prefix, path))
    }

    /// Adds middleware to the routes mounted through the returned registrar afterwards.
    public func add(middleware: any MiddlewareProtocol<Request, Response, Context>) -> RouteRegistrar<Context> {
        RouteRegistrar(router: router.add(middleware: middleware), table: table, prefix: prefix)
    }

    @discardableResult
    public func on(
        _ path: String,
        method: HTTPRequest.Method,
        use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator
    ) -> RouteRegistrar<Context> {
        router.on(RouterPath(path), method: method, use: handler)
        table.record(method: method, path: Self.join(prefix, path))
        return self
    }

    @discardableResult
    public func get(_ path: String, use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator) -> Self {
        on(path, method: .get, use: handler)
    }

    @discardableResult
    public func post(_ path: String, use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator) -> Self {
        on(path, method: .post, use: handler)
    }

    @discardableResult
    public func put(_ path: String, use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator) -> Self {
        on(path, method: .put, use: handler)
    }

    @discardableResult
    public func patch(_ path: String, use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator) -> Self {
        on(path, method: .patch, use: handler)
    }

    @discardableResult
    public func delete(_ path: String, use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator) -> Self {
        on(path, method: .delete, use: handler)
    }

    private static func join(_ prefix: String, _ path: String) -> String {
        let parts = (segments(prefix) + segments(path)).map(String.init)
        return "/" + parts.joined(separator: "/")
    }

    private static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }
}
