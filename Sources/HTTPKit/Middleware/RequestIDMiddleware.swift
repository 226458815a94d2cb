import BoxofficeKit
import Hummingbird
import Logging

/// Gives every request an ID: the caller's `X-Request-ID` when it is short and plain, or a new
/// one. The ID goes into the context, every log line of the request, problem bodies and the
/// response's `X-Request-ID` header, so one ID follows a request through logs and support.
public struct RequestIDMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    private let ids = IDGenerator()

    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let requestID = request.headers[.requestID].flatMap(Self.acceptable) ?? ids.next()
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = .string(requestID)
        context.logger[metadataKey: "hb.request.id"] = nil  // Hummingbird's own ID; ours replaces it
        var response = try await next(request, context)
        response.headers[.requestID] = requestID
        return response
    }

    /// At most 128 characters of letters, digits and `-_.:`, so an ID is safe to log and echo.
    static func acceptable(_ candidate: String) -> String? {
        guard (1...128).contains(candidate.utf8.count) else { return nil }
        let allowed = candidate.utf8.allSatisfy { byte in
            (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: ":")
        }
        return allowed ? candidate : nil
    }
}
