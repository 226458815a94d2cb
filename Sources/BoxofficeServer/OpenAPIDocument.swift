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
            guard let object = try Yams.load(yaml: yaml()) else { return .failure(.missing) }
            return .success(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
        } catch let error as OpenAPIDocumentError {
            return .failure(error)
        } catch {
            return .failure(.invalid(String(describing: error)))
        }
    }()
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
