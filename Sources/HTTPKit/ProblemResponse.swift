import BoxofficeKit
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension HTTPField.Name {
    public static let requestID = HTTPField.Name("X-Request-ID")!
    public static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}

extension Problem {
    /// Renders the problem as `application/problem+json`, stamped with the request ID.
    public func response(requestID: String, headers extraHeaders: HTTPFields = [:]) -> Response {
        var problem = self
        problem.requestId = requestID
        let body = (try? JSONCoding.encoder.encode(problem)) ?? Data(#"{"status":500,"title":"Internal error"}"#.utf8)
        var headers = extraHeaders
        headers[.contentType] = "application/problem+json"
        return Response(
            status: HTTPResponse.Status(code: status),
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
