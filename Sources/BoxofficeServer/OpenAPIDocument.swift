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

    /// The document converted to JSON once, for serving.
    public static func json() throws -> Data {
        guard let object = try Yams.load(yaml: yaml()) else { throw OpenAPIDocumentError.missing }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}

public enum OpenAPIDocumentError: Error, CustomStringConvertible {
    case missing
    public var description: String { "openapi.yaml is missing from the BoxofficeServer resources" }
}
