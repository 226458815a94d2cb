import BoxofficeKit
import BoxofficeServer
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import Identity
import Persistence
import TestSupport
import Testing

/// Two nodes on one database with no secret configured sign alike, and keep doing so through a
/// rotation of the keys.
@Suite struct SharedSigningKeyTests {
    @Test(arguments: DatabaseDialect.allCases)
    func aTokenFromOneNodeWorksOnAnotherAndOldTokensOutliveARotation(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock, configure: { $0.jwtSecret = nil }) { nodeA in
            var configurationB = nodeA.configuration
            configurationB.dataDirectory = nodeA.configuration.dataDirectory + "-b"
            defer { try? FileManager.default.removeItem(atPath: configurationB.dataDirectory) }
            let nodeB = try await BoxofficePlatform(configuration: configurationB, database: nodeA.database, logger: TestDatabases.logger, clock: clock)
            #expect(nodeA.signingKeys.signing == nodeB.signingKeys.signing)
            #expect(nodeA.signingKeys.signing.generation == 1)

            try await nodeA.buildApplication().test(.router) { clientA in
                try await nodeB.buildApplication().test(.router) { clientB in
                    let a = API(client: clientA), b = API(client: clientB)
                    try await a.signUp("roaming@example.com")
                    let session = try await a.signIn("roaming@example.com")
                    let access = try #require(session.json["accessToken"] as? String)
                    let firstRefresh = try #require(session.json["refreshToken"] as? String)
                    #expect(try await b.call(.get, "/v1/me", token: access).status == .ok, "node B accepts node A's token")

                    let refreshedOnA = try await a.call(.post, "/v1/auth/refresh", body: ["refreshToken": firstRefresh])
                    let secondRefresh = try #require(refreshedOnA.json["refreshToken"] as? String)

                    // An operator rotates; both nodes reload (as `SigningKeyRefresh` does every few seconds).
                    let store = SigningKeyStore(database: nodeA.database, clock: clock)
                    try await store.rotate(overlap: 3600, activationDelay: 0)
                    try await store.refresh(nodeA.signingKeys)
                    try await store.refresh(nodeB.signingKeys)
                    #expect(nodeB.signingKeys.signing.generation == 2)

                    // Tokens of the old key still work on both nodes.
                    #expect(try await a.call(.get, "/v1/me", token: access).status == .ok)
                    #expect(try await b.call(.get, "/v1/me", token: access).status == .ok)
                    // A second tab refreshing with the same token, on the other node, after the
                    // rotation, still gets the pair the first got instead of being taken for a thief.
                    let sameAgain = try await b.call(.post, "/v1/auth/refresh", body: ["refreshToken": firstRefresh])
                    #expect(sameAgain.status == .ok)
                    #expect(sameAgain.json["refreshToken"] as? String == secondRefresh)

                    // New tokens carry the new generation, and the other node takes them.
                    let fresh = try #require(try await b.signIn("roaming@example.com").json["accessToken"] as? String)
                    #expect(try Self.keyID(of: fresh) == "g2")
                    #expect(try await a.call(.get, "/v1/me", token: fresh).status == .ok)

                    // Past the overlap the old key is gone: a token it signed (were one still
                    // unexpired) is refused. Tokens last 15 minutes, so sign one that lasts longer.
                    let oldKey = try #require(nodeA.signingKeys.snapshot.verifying.first { $0.generation == 1 })
                    let longLived = AccessTokens(keys: SigningKeys(signing: oldKey), lifetime: 86_400, clock: clock)
                    let oldToken = try await longLived.issue(for: User(id: "someone", email: "s@example.com", name: "S", roles: [.fan]))
                    clock.advance(by: 3601)
                    try await store.refresh(nodeA.signingKeys)
                    #expect(nodeA.signingKeys.snapshot.verifying.map(\.generation) == [2])
                    #expect(try await a.call(.get, "/v1/me", token: oldToken).status == .unauthorized)
                }
            }
        }
    }

    private static func keyID(of token: String) throws -> String? {
        let header = try #require(token.split(separator: ".").first)
        var base64 = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        let json = try JSONSerialization.jsonObject(with: try #require(Data(base64Encoded: base64))) as? [String: Any]
        return json?["kid"] as? String
    }
}
