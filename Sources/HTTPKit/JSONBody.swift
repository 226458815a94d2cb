import BoxofficeKit
import Foundation
import Hummingbird
import NIOCore

extension Request {
    /// Reads the body as JSON of type `Body`.
    ///
    /// Answers with problems a client can act on: 415 for a non-JSON content type, 413 past the
    /// body limit, 400 for text that is not JSON, 422 naming the field for a wrong shape.
    public func decodeJSON<Body: Decodable>(as _: Body.Type, context: some RequestContext) async throws -> Body {
        try requireJSONContentType()
        return try Self.decode(Body.self, from: try await body.collect(upTo: context.maxUploadSize))
    }

    /// Reads an optional JSON body: nil when the request has none, whatever its headers say
    /// (clients often send `Content-Type: application/json` with an empty body).
    public func decodeOptionalJSON<Body: Decodable>(as _: Body.Type, context: some RequestContext) async throws -> Body? {
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { return nil }
        try requireJSONContentType()
        return try Self.decode(Body.self, from: buffer)
    }

    private func requireJSONContentType() throws {
        if let contentType = headers[.contentType]?.lowercased(),
           !contentType.hasPrefix("application/json"), !contentType.contains("+json") {
            throw Problem.unsupportedMediaType(detail: "Send the body as application/json.")
        }
    }

    private static func decode<Body: Decodable>(_: Body.Type, from buffer: ByteBuffer) throws -> Body {
        do {
            return try JSONCoding.decoder.decode(Body.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw Problem(decoding: error)
        }
    }
}

/// The JSON conventions of the API: camelCase keys, RFC 3339 times.
public enum JSONCoding {
    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

extension Response {
    /// A JSON response in the API's conventions.
    public static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(
            status: status, headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JSONCoding.encoder.encode(value))))
    }

    /// A JSON answer recorded under an Idempotency-Key, sent byte for byte as first sent.
    public static func recordedJSON(status: Int, body: String) -> Response {
        Response(
            status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
