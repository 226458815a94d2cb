import BoxofficeKit
import BoxofficeServer
import Crypto
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Identity
import JWTKit
import Persistence
import Synchronization
import TestSupport
import Testing

/// A small OpenID Connect provider on loopback: authorization endpoint (auto-approving one
/// configured person), token endpoint with PKCE and client-secret checks, and JWKS.
final class FakeOIDCProvider: Sendable {
    static let clientID = "boxoffice-test"
    static let clientSecret = "provider-secret"

    struct Person: Sendable {
        var subject = "provider-user-1"
        var email = "oidc.fan@example.com"
        var emailVerified = true
        var name = "Oidc Fan"
    }

    private struct Grant {
        let challenge: String
        let nonce: String
        let redirectURI: String
    }

    private struct IDToken: JWTPayload {
        var iss: IssuerClaim
        var sub: SubjectClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim
        var nonce: String
        var email: String
        var email_verified: Bool
        var name: String
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    let person = Mutex(Person())
    /// Makes the provider answer with an ID token for another sign-in attempt.
    let sendsWrongNonce = Mutex(false)
    private let key = ES256PrivateKey()
    private let grants = Mutex<[String: Grant]>([:])
    private let issuerURL = Mutex("")

    var issuer: String { issuerURL.withLock { $0 } }

    func provider(named name: String = "local") -> OAuthProvider {
        OAuthProvider(
            name: name, clientID: Self.clientID, clientSecret: Self.clientSecret,
            authorizationURL: issuer + "/authorize", tokenURL: issuer + "/token", issuer: issuer, jwksURL: issuer + "/jwks")
    }

    /// Runs the provider for `body`, which gets the provider and an HTTP client for it.
    static func run(_ body: @escaping @Sendable (FakeOIDCProvider, any TestClientProtocol) async throws -> Void) async throws {
        let provider = FakeOIDCProvider()
        let app = Application(router: provider.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            provider.issuerURL.withLock { $0 = "http://127.0.0.1:\(client.port!)" }
            try await body(provider, client)
        }
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/authorize") { request, _ -> Response in
            let query = request.uri.queryParameters
            guard query["client_id"].map(String.init) == Self.clientID, query["response_type"] == "code",
                  query["code_challenge_method"] == "S256", let challenge = query["code_challenge"],
                  let state = query["state"], let nonce = query["nonce"], let redirect = query["redirect_uri"]
            else { return Response(status: .badRequest) }
            let code = UUID().uuidString
            self.grants.withLock { $0[code] = Grant(challenge: String(challenge), nonce: String(nonce), redirectURI: String(redirect)) }
            var location = URLComponents(string: String(redirect))!
            location.queryItems = [URLQueryItem(name: "code", value: code), URLQueryItem(name: "state", value: String(state))]
            return Response(status: .found, headers: [.location: location.string!])
        }
        router.post("/token") { request, _ -> Response in
            let form = String(buffer: try await request.body.collect(upTo: 65536))
            var fields: [String: String] = [:]
            for pair in form.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            guard let code = fields["code"], let grant = self.grants.withLock({ $0.removeValue(forKey: code) }),
                  fields["grant_type"] == "authorization_code", fields["client_id"] == Self.clientID,
                  fields["client_secret"] == Self.clientSecret, fields["redirect_uri"] == grant.redirectURI,
                  let verifier = fields["code_verifier"],
                  Data(SHA256.hash(data: Data(verifier.utf8))).base64EncodedString()
                    .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                    .replacingOccurrences(of: "=", with: "") == grant.challenge
            else {
                return Response(status: .badRequest, body: .init(byteBuffer: ByteBuffer(string: #"{"error":"invalid_grant"}"#)))
            }
            let person = self.person.withLock { $0 }
            let keys = await JWTKeyCollection().add(ecdsa: self.key, kid: "test-key")
            let idToken = try await keys.sign(IDToken(
                iss: IssuerClaim(value: self.issuer), sub: SubjectClaim(value: person.subject),
                aud: AudienceClaim(value: [Self.clientID]), exp: ExpirationClaim(value: Date().addingTimeInterval(300)),
                iat: IssuedAtClaim(value: Date()), nonce: self.sendsWrongNonce.withLock { $0 } ? "another" : grant.nonce,
                email: person.email, email_verified: person.emailVerified, name: person.name), kid: "test-key")
            let json = #"{"access_token":"at-1","token_type":"Bearer","expires_in":300,"id_token":"\#(idToken)"}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
        }
        router.get("/jwks") { _, _ -> Response in
            let parameters = self.key.parameters!
            let json = #"{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"test-key","x":"\#(parameters.x)","y":"\#(parameters.y)"}]}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
        }
        return router
    }
}

/// Path and query of a URL, for replaying a redirect against a test client.
func pathAndQuery(_ url: String) -> String {
    let components = URLComponents(string: url)!
    return components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
}

@Suite struct OAuthTests {
    /// Follows the whole browser dance: start → provider → callback. Returns the callback reply.
    private func signIn(
        _ api: API, provider: any TestClientProtocol, returnTo: String = "/events/42", otherBrowser: Bool = false
    ) async throws -> API.Reply {
        let start = try await api.call(.get, "/v1/auth/oauth/local/start?returnTo=\(returnTo)")
        #expect(start.status == .found)
        let binding = try #require(start.cookie("bo_oauth"))
        #expect(start.setCookies["bo_oauth"]?.contains("HttpOnly") == true)
        let authorize = try #require(start.headers[.location])
        let approved = try await provider.execute(uri: pathAndQuery(authorize), method: .get) { $0 }
        #expect(approved.status == .found)
        return try await api.call(
            .get, pathAndQuery(try #require(approved.headers[.location])), cookies: otherBrowser ? [:] : ["bo_oauth": binding])
    }

    @Test(arguments: DatabaseDialect.allCases)
    func theCodeFlowWithPKCECreatesAnAccountAndSignsTheBrowserIn(dialect: DatabaseDialect) async throws {
        try await FakeOIDCProvider.run { provider, providerClient in
            try await withPlatform(dialect, configure: {
                $0.oauthProviders = [provider.provider()]
                $0.publicURL = "https://tickets.example"
            }) { platform in
                try await platform.buildApplication().test(.router) { client in
                    let api = API(client: client)
                    #expect(try await api.call(.get, "/v1/auth/oauth/providers").json["providers"] as? [String] == ["local"])

                    let start = try await api.call(.get, "/v1/auth/oauth/local/start")
                    let query = Dictionary(
                        uniqueKeysWithValues: (URLComponents(string: start.headers[.location]!)?.queryItems ?? []).map { ($0.name, $0.value ?? "") })
                    #expect(query["code_challenge_method"] == "S256")
                    #expect(query["redirect_uri"] == "https://tickets.example/v1/auth/oauth/local/callback")
                    #expect(query["scope"] == "openid email profile")
                    #expect(query["state"]?.isEmpty == false && query["nonce"]?.isEmpty == false)

                    let finished = try await signIn(api, provider: providerClient)
                    #expect(finished.status == .found)
                    #expect(finished.headers[.location] == "/events/42")
                    let session = try #require(finished.cookie("bo_session"))
                    let me = try await api.call(.get, "/v1/me", cookies: ["bo_session": session])
                    #expect(me.json["email"] as? String == "oidc.fan@example.com")
                    #expect(me.json["name"] as? String == "Oidc Fan")

                    // A second sign-in finds the same account through the link.
                    let again = try await signIn(api, provider: providerClient)
                    let meAgain = try await api.call(.get, "/v1/me", cookies: ["bo_session": try #require(again.cookie("bo_session"))])
                    #expect(meAgain.json["id"] as? String == me.json["id"] as? String)
                }
            }
        }
    }

    @Test func aTamperedOrReplayedStateIsRejected() async throws {
        try await FakeOIDCProvider.run { provider, providerClient in
            try await withPlatform(configure: { $0.oauthProviders = [provider.provider()] }) { platform in
                try await platform.buildApplication().test(.router) { client in
                    let api = API(client: client)
                    let start = try await api.call(.get, "/v1/auth/oauth/local/start")
                    let cookies = ["bo_oauth": try #require(start.cookie("bo_oauth"))]
                    let approved = try await providerClient.execute(uri: pathAndQuery(start.headers[.location]!), method: .get) { $0 }
                    let callback = try #require(approved.headers[.location])

                    var tampered = URLComponents(string: callback)!
                    tampered.queryItems = tampered.queryItems!.map { $0.name == "state" ? URLQueryItem(name: "state", value: "forged") : $0 }
                    let forged = try await api.call(.get, pathAndQuery(tampered.string!), cookies: cookies)
                    #expect(forged.status == .badRequest)
                    #expect(forged.json["type"] as? String == "/problems/oauth-state-invalid")

                    // Login CSRF: the attacker's callback opened in the victim's browser, which has another binding.
                    let elsewhere = try await api.call(.get, pathAndQuery(callback), cookies: ["bo_oauth": "someone-elses"])
                    #expect(elsewhere.status == .badRequest)
                    #expect(elsewhere.cookie("bo_session") == nil)

                    #expect(try await api.call(.get, pathAndQuery(callback), cookies: cookies).status == .found)
                    let replayed = try await api.call(.get, pathAndQuery(callback), cookies: cookies)
                    #expect(replayed.status == .badRequest)
                }
            }
        }
    }

    @Test func aCallbackInABrowserThatDidNotStartTheFlowSignsNobodyIn() async throws {
        try await FakeOIDCProvider.run { provider, providerClient in
            try await withPlatform(configure: { $0.oauthProviders = [provider.provider()] }) { platform in
                try await platform.buildApplication().test(.router) { client in
                    let reply = try await signIn(API(client: client), provider: providerClient, otherBrowser: true)
                    #expect(reply.status == .badRequest)
                    #expect(reply.cookie("bo_session") == nil)
                }
            }
        }
    }

    @Test func anIDTokenForAnotherAttemptIsRejected() async throws {
        try await FakeOIDCProvider.run { provider, providerClient in
            provider.sendsWrongNonce.withLock { $0 = true }
            try await withPlatform(configure: { $0.oauthProviders = [provider.provider()] }) { platform in
                try await platform.buildApplication().test(.router) { client in
                    let reply = try await signIn(API(client: client), provider: providerClient)
                    #expect(reply.status == .unauthorized)
                    #expect((reply.json["detail"] as? String)?.contains("another sign-in attempt") == true)
                }
            }
        }
    }

    @Test func aVerifiedEmailLinksTheExistingAccountAndAnUnverifiedOneIsRefused() async throws {
        try await FakeOIDCProvider.run { provider, providerClient in
            try await withPlatform(configure: { $0.oauthProviders = [provider.provider()] }) { platform in
                try await platform.buildApplication().test(.router) { client in
                    let api = API(client: client)
                    let existing = try await api.signUp("linked@example.com")
                    let existingID = (existing.json["user"] as? [String: Any])?["id"] as? String

                    provider.person.withLock { $0 = .init(subject: "s-unverified", email: "linked@example.com", emailVerified: false) }
                    let refused = try await signIn(api, provider: providerClient)
                    #expect(refused.status == .forbidden)
                    #expect(refused.json["type"] as? String == "/problems/oauth-email-unverified")

                    // The attack: someone signed up with the victim's address first and never verified it.
                    // The victim's Google sign-in must not land in that account.
                    provider.person.withLock { $0 = .init(subject: "s-verified", email: "Linked@Example.com", emailVerified: true) }
                    let squatted = try await signIn(api, provider: providerClient)
                    #expect(squatted.status == .conflict)
                    #expect(squatted.json["type"] as? String == "/problems/oauth-account-unverified")
                    #expect(squatted.cookie("bo_session") == nil)

                    // Once the account's owner verified the address, the provider's sign-in joins it.
                    try await platform.relay.deliverPending()
                    let link = try #require(try await platform.link(inMailTo: "linked@example.com", path: "/v1/auth/verify-email"))
                    #expect(try await api.call(.get, link).status == .ok)
                    let linked = try await signIn(api, provider: providerClient)
                    let me = try await api.call(.get, "/v1/me", cookies: ["bo_session": try #require(linked.cookie("bo_session"))])
                    #expect(me.json["id"] as? String == existingID)
                    // The password still works too.
                    #expect(try await api.signIn("linked@example.com").status == .ok)
                }
            }
        }
    }

    @Test func returnPathsStayOnThisSite() async throws {
        try await FakeOIDCProvider.run { provider, providerClient in
            try await withPlatform(configure: { $0.oauthProviders = [provider.provider()] }) { platform in
                try await platform.buildApplication().test(.router) { client in
                    let reply = try await signIn(API(client: client), provider: providerClient, returnTo: "//evil.example/steal")
                    #expect(reply.headers[.location] == "/")
                    for sneaky in ["/%09/evil.example", "/%5C/evil.example", "/%2F/evil.example", "/\\/evil.example"] {
                        let reply = try await signIn(API(client: client), provider: providerClient, returnTo: sneaky)
                        #expect(reply.headers[.location] == "/", "\(sneaky)")
                    }
                    let fine = try await signIn(API(client: client), provider: providerClient, returnTo: "/events/42?tab=seats")
                    #expect(fine.headers[.location] == "/events/42?tab=seats")
                }
            }
        }
    }

    @Test func providersComeFromTheEnvironmentWithPresets() throws {
        let configuration = try ServerConfiguration.resolve(flags: [:], environment: [
            "BOXOFFICE_OAUTH_PROVIDERS": "google, naver",
            "BOXOFFICE_OAUTH_GOOGLE_CLIENT_ID": "g-id", "BOXOFFICE_OAUTH_GOOGLE_CLIENT_SECRET": "g-secret",
            "BOXOFFICE_OAUTH_NAVER_CLIENT_ID": "n-id", "BOXOFFICE_OAUTH_NAVER_CLIENT_SECRET": "n-secret",
        ])
        #expect(configuration.oauthProviders.map(\.name) == ["google", "naver"])
        #expect(configuration.oauthProviders.first?.issuer == "https://accounts.google.com")
        #expect(configuration.oauthProviders.last?.profile == .naverUserInfo)
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration.resolve(flags: [:], environment: [
                "BOXOFFICE_OAUTH_PROVIDERS": "corp", "BOXOFFICE_OAUTH_CORP_CLIENT_ID": "c", "BOXOFFICE_OAUTH_CORP_CLIENT_SECRET": "s",
            ])
        }
    }
}
