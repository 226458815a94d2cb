import BoxofficeServer
import Foundation
import HummingbirdTesting
import TestSupport
import Testing

@Suite struct OpenAPIDocumentTests {
    /// `METHOD /path` for every operation the document describes, in router syntax.
    private func documentedOperations() throws -> Set<String> {
        let document = try #require(try JSONSerialization.jsonObject(with: OpenAPIDocument.json()) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: Any])
        var operations = Set<String>()
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
        for (path, item) in paths {
            let routerPath = path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
            for key in (item as? [String: Any] ?? [:]).keys where methods.contains(key) {
                operations.insert("\(key.uppercased()) \(routerPath)")
            }
        }
        return operations
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsRouted() async throws {
        try await withPlatform { platform in
            _ = try platform.buildRouter()
            let routed = Set(platform.routes.all.map(\.description))
            let documented = try documentedOperations()
            #expect(routed.subtracting(documented).isEmpty, "routes missing from openapi.yaml: \(routed.subtracting(documented).sorted())")
            #expect(documented.subtracting(routed).isEmpty, "documented but not routed: \(documented.subtracting(routed).sorted())")
            #expect(!routed.isEmpty)
        }
    }

    @Test func theDocumentIsServedAsJSON() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                try await client.execute(uri: "/openapi.json", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType] == "application/json")
                    let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                    #expect(object["openapi"] as? String == "3.1.0")
                    #expect((object["paths"] as? [String: Any])?["/health"] != nil)
                }
            }
        }
    }
}
