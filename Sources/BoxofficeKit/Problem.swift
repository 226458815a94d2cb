/// An RFC 9457 problem: the body of every 4xx and 5xx response.
///
/// Contexts throw these (or errors that convert to them) and the HTTP edge renders them as
/// `application/problem+json`. `type` is a stable identifier clients may switch on; `title`
/// is the same for every instance of a type; `detail` explains this occurrence.
public struct Problem: Error, Codable, Equatable, Sendable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    public var errors: [FieldError]?
    /// Set by the HTTP edge from the request being answered.
    public var requestId: String?
    /// Extra members a problem type documents, such as `takenSeatIds`.
    public var extensions: [String: ProblemValue]?

    public init(
        type: String, title: String, status: Int, detail: String? = nil,
        errors: [FieldError]? = nil, extensions: [String: ProblemValue]? = nil
    ) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.errors = errors
        self.extensions = extensions
    }

    /// One invalid input field: `{ "field": "email", "message": "is not an email address" }`.
    public struct FieldError: Codable, Equatable, Sendable {
        public var field: String
        public var message: String

        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }
    }

    private struct DynamicKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { self.stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private static let standardMembers: Set<String> = ["type", "title", "status", "detail", "errors", "requestId"]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: DynamicKey.self)
        type = try container.decode(String.self, forKey: DynamicKey("type"))
        title = try container.decode(String.self, forKey: DynamicKey("title"))
        status = try container.decode(Int.self, forKey: DynamicKey("status"))
        detail = try container.decodeIfPresent(String.self, forKey: DynamicKey("detail"))
        errors = try container.decodeIfPresent([FieldError].self, forKey: DynamicKey("errors"))
        requestId = try container.decodeIfPresent(String.self, forKey: DynamicKey("requestId"))
        var extra: [String: ProblemValue] = [:]
        for key in container.allKeys where !Self.standardMembers.contains(key.stringValue) {
            extra[key.stringValue] = try container.decode(ProblemValue.self, forKey: key)
        }
        extensions = extra.isEmpty ? nil : extra
    }

    // Extension members are written at the top level, as RFC 9457 asks.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: DynamicKey.self)
        try container.encode(type, forKey: DynamicKey("type"))
        try container.encode(title, forKey: DynamicKey("title"))
        try container.encode(status, forKey: DynamicKey("status"))
        try container.encodeIfPresent(detail, forKey: DynamicKey("detail"))
        try container.encodeIfPresent(errors, forKey: DynamicKey("errors"))
        try container.encodeIfPresent(requestId, forKey: DynamicKey("requestId"))
        for (key, value) in extensions ?? [:] where !Self.standardMembers.contains(key) {
            try container.encode(value, forKey: DynamicKey(key))
        }
    }
}

/// A JSON value carried in a problem's extension members.
public enum ProblemValue: Codable, Equatable, Sendable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case strings([String])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else {
            self = .strings(try container.decode([String].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .strings(let value): try container.encode(value)
        }
    }
}

/// An error a context defines for itself that knows which problem it is at the edge.
public protocol ProblemConvertible: Error {
    var problem: Problem { get }
}

extension Problem: ProblemConvertible {
    public var problem: Problem { self }
}

// MARK: - The problem types every context shares

extension Problem {
    /// Problem `type` values are relative URIs under `/problems/`, stable across releases.
    public static func typeURI(_ slug: String) -> String { "/problems/\(slug)" }

    public static func badRequest(detail: String, field: String? = nil) -> Problem {
        Problem(
            type: typeURI("bad-request"), title: "The request is malformed.", status: 400, detail: detail,
            errors: field.map { [FieldError(field: $0, message: detail)] })
    }

    public static func validation(_ errors: [FieldError], detail: String? = nil) -> Problem {
        Problem(
            type: typeURI("validation-failed"), title: "Some fields are not valid.", status: 422,
            detail: detail ?? errors.map { "\($0.field): \($0.message)" }.joined(separator: "; "),
            errors: errors)
    }

    public static func unauthorized(detail: String = "Sign in to continue.") -> Problem {
        Problem(type: typeURI("unauthorized"), title: "Authentication is required.", status: 401, detail: detail)
    }

    public static func forbidden(detail: String = "You are not allowed to do this.") -> Problem {
        Problem(type: typeURI("forbidden"), title: "Not allowed.", status: 403, detail: detail)
    }

    public static func notFound(detail: String = "There is nothing at this address.") -> Problem {
        Problem(type: typeURI("not-found"), title: "Not found.", status: 404, detail: detail)
    }

    public static func methodNotAllowed(method: String, allowed: [String]) -> Problem {
        Problem(
            type: typeURI("method-not-allowed"), title: "Method not allowed.", status: 405,
            detail: "\(method) is not supported here; use \(allowed.joined(separator: ", ")).",
            extensions: ["allow": .strings(allowed)])
    }

    public static func conflict(detail: String, slug: String = "conflict") -> Problem {
        Problem(type: typeURI(slug), title: "The request conflicts with the current state.", status: 409, detail: detail)
    }

    public static func payloadTooLarge(limit: Int) -> Problem {
        Problem(
            type: typeURI("payload-too-large"), title: "The request body is too large.", status: 413,
            detail: "Request bodies may be at most \(limit) bytes.")
    }

    public static func unsupportedMediaType(detail: String) -> Problem {
        Problem(type: typeURI("unsupported-media-type"), title: "Unsupported media type.", status: 415, detail: detail)
    }

    public static func tooManyRequests(retryAfterSeconds: Int) -> Problem {
        Problem(
            type: typeURI("too-many-requests"), title: "Too many requests.", status: 429,
            detail: "Slow down; try again in \(retryAfterSeconds) second\(retryAfterSeconds == 1 ? "" : "s").",
            extensions: ["retryAfter": .int(retryAfterSeconds)])
    }

    /// The only body an unexpected failure gets: it names no internals.
    public static func internalError() -> Problem {
        Problem(
            type: typeURI("internal-error"), title: "Something went wrong on our side.", status: 500,
            detail: "The error has been logged. Quote the request id when you report it.")
    }

    public static func serviceUnavailable(detail: String) -> Problem {
        Problem(type: typeURI("service-unavailable"), title: "Service unavailable.", status: 503, detail: detail)
    }
}
