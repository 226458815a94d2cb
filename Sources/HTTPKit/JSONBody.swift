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
        // RFC 3339 as clients send it: with or without fractional seconds, any offset.
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = RFC3339.date(from: text) { return date }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be an RFC 3339 date-time, e.g. 2026-12-24T19:00:00+09:00")
        }
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

/// RFC 3339 date-times (`2026-12-24T19:00:00+09:00`, `…19:00:00.25Z`): any fraction, any offset
/// the grammar allows, `t`/`z` in either case. Parsed by hand: Foundation's parsers refuse some
/// that are valid (offsets past 18 hours, long fractions).
public enum RFC3339 {
    public static func date(from text: String) -> Date? {
        let scalars = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= scalars.count else { return nil }
            var value = 0
            for byte in scalars[from..<(from + count)] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard scalars.count >= 20, let year = number(0, 4), scalars[4] == 45, let month = number(5, 2), scalars[7] == 45,
              let day = number(8, 2), scalars[10] == 84 || scalars[10] == 116, let hour = number(11, 2), scalars[13] == 58,
              let minute = number(14, 2), scalars[16] == 58, let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < scalars.count, scalars[index] == 46 {
            index += 1
            var scale = 0.1
            let start = index
            while index < scalars.count, (48...57).contains(scalars[index]) {
                fraction += Double(scalars[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < scalars.count else { return nil }
        var offset = 0
        switch scalars[index] {
        case 90, 122:  // Z z
            guard index + 1 == scalars.count else { return nil }
        case 43, 45:  // + -
            guard index + 6 == scalars.count, let hours = number(index + 1, 2), scalars[index + 3] == 58,
                  let minutes = number(index + 4, 2), hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 3600 + minutes * 60) * (scalars[index] == 45 ? -1 : 1)
        default:
            return nil
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: min(second, 59))
        components.calendar = calendar
        guard components.isValidDate(in: calendar), let base = calendar.date(from: components) else { return nil }
        return base.addingTimeInterval(fraction + Double(second == 60 ? 1 : 0) - Double(offset))
    }
}
