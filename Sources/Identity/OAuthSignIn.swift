import AsyncHTTPClient
import BoxofficeKit
import Coordination
import Crypto
import Foundation
import JWTKit
import Logging
import NIOCore
import NIOHTTP1

/// "Sign in with Google / Kakao / Naver / …": the authorization-code flow with PKCE.
///
/// `start` remembers a random `state`, a `nonce` and a PKCE verifier for ten minutes and sends the
/// browser to the provider. `finish` accepts each state once, exchanges the code (proving the
/// verifier), checks the ID token's signature, issuer, audience, expiry and nonce (or reads the
/// provider's profile API), then signs in the linked account, links an existing account with the
/// same verified email, or creates one.
public final class OAuthSignIn: Sendable {
    private let providers: [String: OAuthProvider]
    private let publicURL: String
    private let identity: IdentityService
    private let store: any SessionStore
    private let client: HTTPClient
    private let clock: any WallClock
    private let logger: Logger
    private static let flowLifetime: TimeInterval = 600

    public init(
        providers: [OAuthProvider], publicURL: String, identity: IdentityService, store: any SessionStore,
        client: HTTPClient = .shared, clock: any WallClock, logger: Logger
    ) {
        self.providers = Dictionary(uniqueKeysWithValues: providers.map { ($0.name, $0) })
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        self.identity = identity
        self.store = store
        self.client = client
        self.clock = clock
        self.logger = logger
    }

    public var providerNames: [String] { providers.keys.sorted() }

    /// What is remembered between `start` and `finish`.
    struct PendingFlow: Codable {
        let provider: String
        let verifier: String
        let nonce: String
        let returnTo: String
        /// SHA-256 of the browser binding: only the browser that started the flow can finish it.
        let binding: String
    }

    /// The cookie that ties a flow to the browser that started it (against login CSRF: without
    /// it, an attacker could send a victim's browser to a callback that signs it in as the attacker).
    public static let bindingCookie = "bo_oauth"

    /// Starts a flow: the provider's authorization URL to send the browser to, and the value of
    /// the binding cookie to set on that browser.
    public func start(provider name: String, returnTo: String?, clientAddress: String?) async throws -> (location: String, binding: String) {
        let provider = try self.provider(name)
        // Each start writes server state: bounded per address.
        try await identity.throttle("oauth-start:\(clientAddress ?? "unknown")", limit: .perPeriod(30, 60))
        let state = Secrets.token()
        let binding = Secrets.token()
        let flow = PendingFlow(
            provider: name, verifier: Secrets.token(bytes: 48), nonce: Secrets.token(), returnTo: Self.safeReturnPath(returnTo),
            binding: sha256Hex(binding))
        try await store.save(
            Self.stateKey(state), data: try JSONEncoder().encode(flow), expiresAt: clock.now().addingTimeInterval(Self.flowLifetime))
        var url = URLComponents(string: provider.authorizationURL)
        let existing = url?.queryItems ?? []
        url?.queryItems = existing + [
            URLQueryItem(name: "response_type", value: "code"),
            URLQueryItem(name: "client_id", value: provider.clientID),
            URLQueryItem(name: "redirect_uri", value: redirectURI(name)),
            URLQueryItem(name: "state", value: state),
            URLQueryItem(name: "nonce", value: flow.nonce),
            URLQueryItem(name: "code_challenge", value: Self.challenge(for: flow.verifier)),
            URLQueryItem(name: "code_challenge_method", value: "S256"),
        ] + (provider.scopes.isEmpty ? [] : [URLQueryItem(name: "scope", value: provider.scopes.joined(separator: " "))])
        guard let location = url?.string else {
            throw Problem.serviceUnavailable(detail: "The \(name) sign-in is misconfigured.")
        }
        return (location, binding)
    }

    /// Completes the flow; returns the signed-in user and where to send the browser next.
    /// `binding` is the browser's binding cookie: a callback opened in another browser fails.
    public func finish(
        provider name: String, code: String?, state: String?, error: String?, binding: String?
    ) async throws -> (user: User, returnTo: String) {
        let provider = try self.provider(name)
        guard let state, !state.isEmpty, state.count <= 256,
              let saved = try await store.load(Self.stateKey(state)),
              let flow = try? JSONDecoder().decode(PendingFlow.self, from: saved), flow.provider == name,
              let binding, Secrets.constantTimeEquals(sha256Hex(binding), flow.binding)
        else {
            throw Problem(
                type: Problem.typeURI("oauth-state-invalid"), title: "The sign-in link is not valid.", status: 400,
                detail: "This sign-in attempt is unknown, expired or already used; start again.")
        }
        try await store.delete(Self.stateKey(state))  // each state works once
        if let error {
            throw Problem(
                type: Problem.typeURI("oauth-denied"), title: "The provider did not sign you in.", status: 400,
                detail: "\(name) answered '\(error.prefix(100))'.")
        }
        guard let code, !code.isEmpty, code.count <= 2048 else {
            throw Problem.badRequest(detail: "The provider sent no authorization code.", field: "code")
        }
        let tokens = try await exchange(code: code, verifier: flow.verifier, provider: provider)
        let profile = try await profile(from: tokens, provider: provider, nonce: flow.nonce)
        let user = try await identity.signInExternal(
            provider: name, subject: profile.subject, email: profile.email,
            emailVerified: profile.emailVerified, emailTrusted: provider.emailsAreVerified, name: profile.name)
        return (user, flow.returnTo)
    }

    // MARK: Internals

    private func provider(_ name: String) throws -> OAuthProvider {
        guard let provider = providers[name] else { throw Problem.notFound(detail: "No sign-in provider named '\(name)'.") }
        return provider
    }

    func redirectURI(_ name: String) -> String { "\(publicURL)/v1/auth/oauth/\(name)/callback" }

    private static func stateKey(_ state: String) -> String { "oauth-state:" + sha256Hex(state) }

    /// PKCE S256: base64url(SHA-256(verifier)).
    static func challenge(for verifier: String) -> String {
        Secrets.base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    /// Only paths on this site: an absolute URL here would make us an open redirector. Browsers
    /// drop tabs and newlines from URLs and read `\` as `/`, so `/\t/evil.example` would
    /// become `//evil.example`: no whitespace, control characters or backslashes, written or
    /// percent-encoded, and never two leading slashes.
    static func safeReturnPath(_ path: String?) -> String {
        guard let path, path.hasPrefix("/"), path.count <= 512 else { return "/" }
        for candidate in [path, path.removingPercentEncoding ?? "//"] {
            let unsafe = candidate.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7F || $0 == "\\" }
            if unsafe || candidate.hasPrefix("//") { return "/" }
        }
        return path
    }

    private struct TokenResponse: Decodable {
        let accessToken: String?
        let idToken: String?

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case idToken = "id_token"
        }
    }

    private struct Profile {
        let subject: String
        let email: String?
        let emailVerified: Bool
        let name: String?
    }

    private func exchange(code: String, verifier: String, provider: OAuthProvider) async throws -> TokenResponse {
        var form = URLComponents()
        form.queryItems = [
            URLQueryItem(name: "grant_type", value: "authorization_code"),
            URLQueryItem(name: "code", value: code),
            URLQueryItem(name: "redirect_uri", value: redirectURI(provider.name)),
            URLQueryItem(name: "client_id", value: provider.clientID),
            URLQueryItem(name: "client_secret", value: provider.clientSecret),
            URLQueryItem(name: "code_verifier", value: verifier),
        ]
        var request = HTTPClientRequest(url: provider.tokenURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: (form.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")))
        return try await fetchJSON(request, as: TokenResponse.self, provider: provider, step: "token exchange")
    }

    private func profile(from tokens: TokenResponse, provider: OAuthProvider, nonce: String) async throws -> Profile {
        switch provider.profile {
        case .idToken:
            guard let idToken = tokens.idToken else { throw rejected(provider, "sent no ID token") }
            return try await verifyIDToken(idToken, provider: provider, nonce: nonce)
        case .standardUserInfo, .naverUserInfo:
            guard let accessToken = tokens.accessToken, let url = provider.userInfoURL else {
                throw rejected(provider, "sent no access token")
            }
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Authorization", value: "Bearer \(accessToken)")
            request.headers.add(name: "Accept", value: "application/json")
            if provider.profile == .naverUserInfo {
                struct NaverEnvelope: Decodable {
                    struct Account: Decodable { let id: String; let email: String?; let name: String? }
                    let response: Account
                }
                let account = try await fetchJSON(request, as: NaverEnvelope.self, provider: provider, step: "profile").response
                return Profile(subject: account.id, email: account.email, emailVerified: false, name: account.name)
            }
            let info = try await fetchJSON(request, as: IDTokenClaims.self, provider: provider, step: "profile")
            return Profile(subject: info.sub.value, email: info.email, emailVerified: info.emailVerified ?? false, name: info.name)
        }
    }

    private func verifyIDToken(_ token: String, provider: OAuthProvider, nonce: String) async throws -> Profile {
        guard let jwksURL = provider.jwksURL, let issuer = provider.issuer else { throw rejected(provider, "is not configured for ID tokens") }
        let jwks = try await fetchText(HTTPClientRequest(url: jwksURL), provider: provider, step: "signing keys")
        let keys = JWTKeyCollection()
        let claims: IDTokenClaims
        do {
            try await keys.add(jwksJSON: jwks)
            claims = try await keys.verify(token, as: IDTokenClaims.self)
        } catch {
            throw rejected(provider, "sent an ID token whose signature does not verify")
        }
        guard claims.iss.value == issuer else { throw rejected(provider, "sent an ID token from another issuer") }
        guard claims.aud.value.contains(provider.clientID) else { throw rejected(provider, "sent an ID token for another client") }
        guard claims.exp.value > clock.now() else { throw rejected(provider, "sent an expired ID token") }
        guard let tokenNonce = claims.nonce, Secrets.constantTimeEquals(tokenNonce, nonce) else {
            throw rejected(provider, "sent an ID token for another sign-in attempt")
        }
        return Profile(subject: claims.sub.value, email: claims.email, emailVerified: claims.emailVerified ?? false, name: claims.name)
    }

    private func rejected(_ provider: OAuthProvider, _ reason: String) -> Problem {
        logger.warning("external sign-in refused", metadata: ["provider": .string(provider.name), "reason": .string(reason)])
        return Problem(
            type: Problem.typeURI("oauth-failed"), title: "The sign-in could not be completed.", status: 401,
            detail: "\(provider.name) \(reason).")
    }

    private func fetchText(_ request: HTTPClientRequest, provider: OAuthProvider, step: String) async throws -> String {
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else {
                logger.warning(
                    "external sign-in step failed",
                    metadata: ["provider": .string(provider.name), "step": .string(step), "status": .stringConvertible(response.status.code)])
                throw rejected(provider, "refused the \(step)")
            }
            return String(buffer: body)
        } catch let problem as Problem {
            throw problem
        } catch {
            logger.error("external sign-in provider unreachable", metadata: ["provider": .string(provider.name), "error": .string("\(error)")])
            throw Problem.serviceUnavailable(detail: "\(provider.name) cannot be reached right now; try again shortly.")
        }
    }

    private func fetchJSON<Body: Decodable>(
        _ request: HTTPClientRequest, as _: Body.Type, provider: OAuthProvider, step: String
    ) async throws -> Body {
        let text = try await fetchText(request, provider: provider, step: step)
        guard let body = try? JSONDecoder().decode(Body.self, from: Data(text.utf8)) else {
            throw rejected(provider, "answered the \(step) with something unexpected")
        }
        return body
    }
}

/// The ID token (and userinfo) claims Boxoffice reads.
struct IDTokenClaims: JWTPayload {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var nonce: String?
    var email: String?
    var emailVerified: Bool?
    var name: String?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, nonce, email, name
        case emailVerified = "email_verified"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        // Userinfo answers carry no iss/aud/exp; they are checked only for ID tokens.
        iss = try container.decodeIfPresent(IssuerClaim.self, forKey: .iss) ?? IssuerClaim(value: "")
        sub = try container.decode(SubjectClaim.self, forKey: .sub)
        aud = try container.decodeIfPresent(AudienceClaim.self, forKey: .aud) ?? AudienceClaim(value: [])
        exp = try container.decodeIfPresent(ExpirationClaim.self, forKey: .exp) ?? ExpirationClaim(value: .distantPast)
        nonce = try container.decodeIfPresent(String.self, forKey: .nonce)
        email = try container.decodeIfPresent(String.self, forKey: .email)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        // Some providers send the flag as the string "true".
        if let flag = try? container.decodeIfPresent(Bool.self, forKey: .emailVerified) {
            emailVerified = flag
        } else {
            emailVerified = (try? container.decodeIfPresent(String.self, forKey: .emailVerified)) == "true"
        }
    }

    // Checked by OAuthSignIn against the injected clock and the flow's nonce.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
