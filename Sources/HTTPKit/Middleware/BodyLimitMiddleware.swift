import BoxofficeKit
import Hummingbird

/// Caps request bodies: a declared `Content-Length` over the limit is refused with 413 before
/// any of the body is read, and handlers collect at most the limit from chunked bodies.
public struct BodyLimitMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    private let maximumBytes: Int

    public init(maximumBytes: Int) {
        self.maximumBytes = maximumBytes
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.maxUploadSize = maximumBytes
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maximumBytes {
            throw Problem.payloadTooLarge(limit: maximumBytes)
        }
        return try await next(request, context)
    }
}
