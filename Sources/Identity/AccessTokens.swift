import BoxofficeKit
import Foundation
import HTTPKit
import JWTKit

/// Short-lived JWT access tokens (HS256), verified without a database round trip.
///
/// They carry the user's ID and roles at issue time; a role change takes effect at the next
/// refresh, at most one access-token lifetime later.
public final class AccessTokens: AccessTokenVerifier {
    static let issuer = "boxoffice"
    static let audience = "boxoffice-api"

    /// Every accepted key under its generation as `kid`; the signing one is also the default,
    /// for tokens issued before keys had generations.
    private let keys: AsyncDerivedSigningKeys<(collection: JWTKeyCollection, signingKid: JWKIdentifier)>
    private let clock: any WallClock
    let lifetime: TimeInterval

    public init(keys ring: SigningKeys, lifetime: TimeInterval, clock: any WallClock) {
        self.keys = AsyncDerivedSigningKeys(ring) { snapshot in
            let collection = JWTKeyCollection()
            for key in snapshot.verifying {
                await collection.add(hmac: HMACKey(from: key.secret), digestAlgorithm: .sha256, kid: Self.kid(key))
            }
            await collection.add(hmac: HMACKey(from: snapshot.signing.secret), digestAlgorithm: .sha256)
            return (collection, Self.kid(snapshot.signing))
        }
        self.clock = clock
        self.lifetime = lifetime
    }

    static func kid(_ key: SigningKeys.Key) -> JWKIdentifier { JWKIdentifier(string: key.id) }

    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var roles: [String]
        var iss: IssuerClaim
        var aud: AudienceClaim
        var iat: IssuedAtClaim
        var exp: ExpirationClaim

        // Time-based checks need the injected clock, so `principal(fromAccessToken:)` makes them.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    func issue(for user: User) async throws -> String {
        let now = clock.now()
        let keys = await keys.value()
        return try await keys.collection.sign(Claims(
            sub: SubjectClaim(value: user.id),
            roles: user.roles.map(\.rawValue),
            iss: IssuerClaim(value: Self.issuer),
            aud: AudienceClaim(value: [Self.audience]),
            iat: IssuedAtClaim(value: now),
            exp: ExpirationClaim(value: now.addingTimeInterval(lifetime))), kid: keys.signingKid)
    }

    public func principal(fromAccessToken token: String) async throws -> Principal {
        let claims: Claims
        do {
            claims = try await keys.value().collection.verify(token, as: Claims.self)
        } catch {
            throw Problem.unauthorized(detail: "The access token is not valid.")
        }
        guard claims.iss.value == Self.issuer, claims.aud.value.contains(Self.audience) else {
            throw Problem.unauthorized(detail: "The access token is not valid.")
        }
        guard claims.exp.value > clock.now() else {
            throw Problem(
                type: Problem.typeURI("token-expired"), title: "Authentication is required.", status: 401,
                detail: "The access token has expired; refresh it.")
        }
        return Principal(userID: claims.sub.value, roles: Set(claims.roles.compactMap(Role.init(rawValue:))))
    }
}
