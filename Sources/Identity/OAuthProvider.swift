import Foundation

/// An external identity provider for "sign in with …" (OAuth 2 authorization code + PKCE,
/// OpenID Connect when it issues ID tokens).
public struct OAuthProvider: Sendable, Equatable {
    /// Where the user's profile comes from.
    public enum Profile: String, Sendable {
        /// A verified OpenID Connect ID token (`sub`, `email`, `email_verified`, `name`).
        case idToken
        /// OpenID Connect's userinfo shape from `userInfoURL`.
        case standardUserInfo
        /// Naver's `{ "response": { "id", "email", "name" } }` from `userInfoURL`.
        case naverUserInfo
    }

    public var name: String
    public var clientID: String
    public var clientSecret: String
    public var authorizationURL: String
    public var tokenURL: String
    /// For ID tokens: the expected `iss` and where its signing keys are published.
    public var issuer: String?
    public var jwksURL: String?
    public var userInfoURL: String?
    public var scopes: [String]
    public var profile: Profile
    /// Providers that only release addresses they have verified, and say so by contract
    /// rather than with an `email_verified` claim.
    public var emailsAreVerified: Bool

    public init(
        name: String, clientID: String, clientSecret: String, authorizationURL: String, tokenURL: String,
        issuer: String? = nil, jwksURL: String? = nil, userInfoURL: String? = nil, scopes: [String] = ["openid", "email", "profile"],
        profile: Profile = .idToken, emailsAreVerified: Bool = false
    ) {
        self.name = name
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.authorizationURL = authorizationURL
        self.tokenURL = tokenURL
        self.issuer = issuer
        self.jwksURL = jwksURL
        self.userInfoURL = userInfoURL
        self.scopes = scopes
        self.profile = profile
        self.emailsAreVerified = emailsAreVerified
    }

    /// Known endpoints for Google, Kakao and Naver; only the client ID and secret are needed.
    public static func preset(_ name: String, clientID: String, clientSecret: String) -> OAuthProvider? {
        switch name {
        case "google":
            OAuthProvider(
                name: name, clientID: clientID, clientSecret: clientSecret,
                authorizationURL: "https://accounts.google.com/o/oauth2/v2/auth", tokenURL: "https://oauth2.googleapis.com/token",
                issuer: "https://accounts.google.com", jwksURL: "https://www.googleapis.com/oauth2/v3/certs")
        case "kakao":
            OAuthProvider(
                name: name, clientID: clientID, clientSecret: clientSecret,
                authorizationURL: "https://kauth.kakao.com/oauth/authorize", tokenURL: "https://kauth.kakao.com/oauth/token",
                issuer: "https://kauth.kakao.com", jwksURL: "https://kauth.kakao.com/.well-known/jwks.json",
                scopes: ["openid", "account_email", "profile_nickname"])
        case "naver":
            // Naver speaks OAuth 2 without ID tokens; its profile API returns the account's
            // own (verified) address.
            OAuthProvider(
                name: name, clientID: clientID, clientSecret: clientSecret,
                authorizationURL: "https://nid.naver.com/oauth2.0/authorize", tokenURL: "https://nid.naver.com/oauth2.0/token",
                userInfoURL: "https://openapi.naver.com/v1/nid/me", scopes: [], profile: .naverUserInfo, emailsAreVerified: true)
        default:
            nil
        }
    }
}
