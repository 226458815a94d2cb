import Foundation
import Yams

/// The API description: `openapi.yaml`, shipped inside the binary's resources and served as
/// JSON at `/openapi.json`.
public enum OpenAPIDocument {
    /// The document as written.
    public static func yaml() throws -> String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw OpenAPIDocumentError.missing
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// The document as JSON, converted once per process: it never changes while running, and
    /// Yams' resolver shares regular expressions that are not safe to use from several threads
    /// at once on Linux.
    public static func json() throws -> Data {
        try converted.get()
    }

    private static let converted: Result<Data, OpenAPIDocumentError> = {
        do {
            guard let object = try Yams.load(yaml: yaml()) as? [String: Any] else { return .failure(.missing) }
            return .success(try JSONSerialization.data(
                withJSONObject: withSharedResponses(object), options: [.sortedKeys, .withoutEscapingSlashes]))
        } catch let error as OpenAPIDocumentError {
            return .failure(error)
        } catch {
            return .failure(.invalid(String(describing: error)))
        }
    }()
}

extension OpenAPIDocument {
    /// Answers the middleware in front of every route can give, whatever the route: written
    /// here once instead of on every operation of the YAML. Any request with a bad
    /// `Authorization` header gets 401; signed-in callers over their rate 429; a draining node
    /// 503; and where an operation reads parameters or a body, 400 for malformed ones, and 413
    /// and 415 for bodies too large or not JSON, 422 for a body of the wrong shape; a list with a cursor, 404 for a cursor it never
    /// issued. An operation's own entry for a status wins.
    static func withSharedResponses(_ document: [String: Any]) -> [String: Any] {
        guard var paths = document["paths"] as? [String: Any] else { return document }
        let problem: [String: Any] = ["$ref": "#/components/responses/Problem"]
        for (path, item) in paths {
            guard var operations = item as? [String: Any] else { continue }
            for method in ["get", "put", "post", "delete", "patch"] {
                guard var operation = operations[method] as? [String: Any] else { continue }
                var responses = operation["responses"] as? [String: Any] ?? [:]
                var shared = ["401", "429", "503"]
                let hasBody = operation["requestBody"] != nil
                let hasParameters = !((operation["parameters"] as? [Any]) ?? []).isEmpty || !((operations["parameters"] as? [Any]) ?? []).isEmpty
                if hasBody || hasParameters { shared.append("400") }
                if hasBody { shared += ["413", "415", "422"] }
                // A list's cursor that this server never issued names no page.
                let parameters = ((operation["parameters"] as? [Any]) ?? []).compactMap { $0 as? [String: Any] }
                if parameters.contains(where: { $0["name"] as? String == "cursor" || ($0["$ref"] as? String)?.hasSuffix("/Cursor") == true }) {
                    shared.append("404")
                }
                for status in shared where responses[status] == nil { responses[status] = problem }
                operation["responses"] = responses
                operations[method] = operation
            }
            paths[path] = operations
        }
        var document = document
        document["paths"] = paths
        return document
    }
}

public enum OpenAPIDocumentError: Error, CustomStringConvertible {
    case missing
    case invalid(String)

    public var description: String {
        switch self {
        case .missing: "openapi.yaml is missing from the BoxofficeServer resources"
        case .invalid(let reason): "openapi.yaml is not valid: \(reason)"
        }
    }
}
