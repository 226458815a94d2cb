import BoxofficeKit
import Hummingbird
import Logging

/// Turns every error into an RFC 9457 problem response.
///
/// Known errors (problems, Hummingbird's HTTP errors) become their 4xx. A request body that does
/// not decode is already a problem by the time it gets here (`decodeJSON`), so a bare
/// `DecodingError` is the server failing to read its own data: a bug, like anything else
/// unknown, logged at `error` with the request ID while the client gets a 500 naming no internals.
public struct ProblemMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    private let routes: RouteTable

    public init(routes: RouteTable) {
        self.routes = routes
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return problemResponse(for: error, request: request, context: context)
        }
    }

    private func problemResponse(for error: any Error, request: Request, context: Context) -> Response {
        switch error {
        case let convertible as any ProblemConvertible:
            let problem = convertible.problem
            if problem.status >= 500 {
                var metadata: Logger.Metadata = ["problem": .string(problem.type), "detail": .string(problem.detail ?? "")]
                // An error that speaks for itself as a problem still has its own story for the log.
                if !(error is Problem) { metadata["error"] = .string(String(reflecting: error)) }
                context.logger.error("request failed", metadata: metadata)
            }
            var headers: HTTPFields = [:]
            if case .int(let seconds)? = problem.extensions?["retryAfter"] {
                headers[.retryAfter] = String(seconds)
            }
            return problem.response(requestID: context.requestID, headers: headers)
        case let httpError as HTTPError:
            return problem(for: httpError, request: request, context: context)
        case let responseError as any HTTPResponseError where responseError.status.code < 500:
            return Problem(
                type: Problem.typeURI("http-\(responseError.status.code)"),
                title: responseError.status.reasonPhrase, status: responseError.status.code
            ).response(requestID: context.requestID)
        default:
            context.logger.error(
                "unexpected error",
                metadata: ["error": .string(String(reflecting: error)), "method": .string(request.method.rawValue),
                           "path": .string(request.uri.path)])
            return Problem.internalError().response(requestID: context.requestID)
        }
    }

    private func problem(for error: HTTPError, request: Request, context: Context) -> Response {
        switch error.status {
        case .notFound where context.endpointPath == "NotFound":
            // The router found no route for this method; maybe it has one for another method.
            let allowed = routes.methods(matching: request.uri.path)
            if !allowed.isEmpty {
                return Problem.methodNotAllowed(method: request.method.rawValue, allowed: allowed)
                    .response(requestID: context.requestID, headers: [.allow: allowed.joined(separator: ", ")])
            }
            return Problem.notFound(detail: "No route matches \(request.method.rawValue) \(request.uri.path).")
                .response(requestID: context.requestID)
        case .notFound:
            return Problem.notFound().response(requestID: context.requestID)
        case .contentTooLarge:
            return Problem.payloadTooLarge(limit: context.maxUploadSize).response(requestID: context.requestID)
        case .badRequest:
            return Problem.badRequest(detail: error.body ?? "The request could not be understood.")
                .response(requestID: context.requestID)
        default:
            if error.status.code >= 500 {
                context.logger.error("request failed", metadata: ["status": .stringConvertible(error.status.code)])
                return Problem.internalError().response(requestID: context.requestID)
            }
            return Problem(
                type: Problem.typeURI("http-\(error.status.code)"), title: error.status.reasonPhrase,
                status: error.status.code, detail: error.body
            ).response(requestID: context.requestID, headers: error.headers)
        }
    }
}

extension Problem {
    /// A JSON body that does not fit the expected shape, with the offending field named.
    public init(decoding error: DecodingError) {
        func path(_ codingPath: [any CodingKey]) -> String {
            var result = ""
            for key in codingPath {
                if let index = key.intValue {
                    result += "[\(index)]"
                } else {
                    result += result.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return result
        }
        switch error {
        case .keyNotFound(let key, let context):
            self = .validation([FieldError(field: path(context.codingPath + [key]), message: "is required")])
        case .valueNotFound(_, let context):
            self = .validation([FieldError(field: path(context.codingPath), message: "must not be null")])
        case .typeMismatch(let type, let context):
            self = .validation([FieldError(field: path(context.codingPath), message: "must be \(Self.describe(type))")])
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            self = .badRequest(detail: "The body is not valid JSON.")
        case .dataCorrupted(let context):
            self = .validation([FieldError(field: path(context.codingPath), message: context.debugDescription)])
        @unknown default:
            self = .badRequest(detail: "The body is not valid JSON.")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type, is Int32.Type: "a whole number"
        case is Double.Type, is Float.Type: "a number"
        default: "of another type"
        }
    }
}
