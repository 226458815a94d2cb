import AsyncHTTPClient
import BoxofficeKit
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Persistence
import SQLKit

/// What a client sends to prove a person is behind the request: a solved proof-of-work
/// challenge (`challenge` + `nonce`) or a reCAPTCHA token (`token`).
public struct HumanCheckProof: Codable, Sendable {
    public var challenge: String?
    public var nonce: String?
    public var token: String?

    public init(challenge: String? = nil, nonce: String? = nil, token: String? = nil) {
        self.challenge = challenge
        self.nonce = nonce
        self.token = token
    }
}

/// Slows bots down at sign-up (and, later, at waiting-room join).
public protocol HumanCheck: Sendable {
    /// Throws a 4xx problem naming `humanCheck` when the proof is missing or does not hold.
    func verify(_ proof: HumanCheckProof?, clientAddress: String?) async throws
}

extension Problem {
    static func humanCheckFailed(_ message: String) -> Problem {
        Problem(
            type: typeURI("human-check-failed"), title: "The human check did not pass.", status: 422,
            detail: "humanCheck \(message).", errors: [FieldError(field: "humanCheck", message: message)])
    }
}

/// No check at all: for local trials and for deployments with a check in front.
public struct NoHumanCheck: HumanCheck {
    public init() {}
    public func verify(_ proof: HumanCheckProof?, clientAddress: String?) async throws {}
}

/// The built-in check: the server hands out a signed challenge, the client finds a decimal
/// `nonce` such that SHA-256 of `challenge + ":" + nonce` begins with `difficulty` zero bits.
///
/// Works offline and costs the server one hash to verify, the client about 2^difficulty. A
/// challenge is signed (so clients cannot pick easy ones), expires, and is accepted once:
/// spent challenges are recorded in the database, so the rule holds across nodes.
public final class ProofOfWorkCheck: HumanCheck {
    public struct Challenge: Codable, Sendable {
        public let challenge: String
        public let difficulty: Int
        public let expiresAt: Date
    }

    private let keys: DerivedSigningKeys<SymmetricKey>
    private let difficulty: Int
    private let lifetime: TimeInterval
    private let database: Database
    private let clock: any WallClock
    private let ids: IDGenerator

    public init(keys: SigningKeys, difficulty: Int, lifetime: TimeInterval = 300, database: Database, clock: any WallClock) {
        // A key of its own, derived from the signing secret, so neither can stand in for the other.
        self.keys = DerivedSigningKeys(keys) { key in SymmetricKey(data: SHA256.hash(data: Array("boxoffice human check".utf8) + key.secret)) }
        self.difficulty = difficulty
        self.lifetime = lifetime
        self.database = database
        self.clock = clock
        self.ids = IDGenerator(clock: clock)
    }

    public func issue() -> Challenge {
        let expiresAt = clock.now().addingTimeInterval(lifetime)
        let body = "\(ids.next()).\(Int(expiresAt.timeIntervalSince1970)).\(difficulty)"
        return Challenge(challenge: "\(body).\(Self.signature(body, key: keys.signing))", difficulty: difficulty, expiresAt: expiresAt)
    }

    public func verify(_ proof: HumanCheckProof?, clientAddress: String?) async throws {
        guard let challenge = proof?.challenge, let nonce = proof?.nonce else {
            throw Problem.humanCheckFailed("needs a solved challenge from POST /v1/auth/challenge")
        }
        let parts = challenge.split(separator: ".")
        guard parts.count == 4, let expires = Int(parts[1]), let required = Int(parts[2]),
              keys.verifying.contains(where: { Secrets.constantTimeEquals(String(parts[3]), Self.signature(parts[0...2].joined(separator: "."), key: $0)) })
        else { throw Problem.humanCheckFailed("has a challenge this server did not issue") }
        let now = clock.now()
        guard Double(expires) > now.timeIntervalSince1970 else { throw Problem.humanCheckFailed("has an expired challenge") }
        guard nonce.count <= 20, nonce.allSatisfy(\.isNumber),
              Self.leadingZeroBits(SHA256.hash(data: Data("\(challenge):\(nonce)".utf8))) >= required
        else { throw Problem.humanCheckFailed("has a nonce that does not solve the challenge") }
        let challengeID = String(parts[0])
        let fresh = try await database.withTransaction { transaction in
            try await transaction.sql.raw("DELETE FROM spent_challenges WHERE expires_at < \(bind: now)").run()
            return try await transaction.sql.raw("""
                INSERT INTO spent_challenges (id, expires_at) VALUES (\(bind: challengeID), \(bind: Date(timeIntervalSince1970: Double(expires))))
                ON CONFLICT DO NOTHING RETURNING id
                """).first() != nil
        }
        guard fresh else { throw Problem.humanCheckFailed("has a challenge that was already used") }
    }

    private static func signature(_ body: String, key: SymmetricKey) -> String {
        Secrets.base64URL(Data(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: key)))
    }

    static func leadingZeroBits(_ digest: SHA256.Digest) -> Int {
        var count = 0
        for byte in digest {
            if byte == 0 {
                count += 8
                continue
            }
            return count + byte.leadingZeroBitCount
        }
        return count
    }

    /// Finds a nonce for `challenge`; what a client does (tests and tools use it).
    public static func solve(_ challenge: String, difficulty: Int) -> String {
        var nonce = 0
        while leadingZeroBits(SHA256.hash(data: Data("\(challenge):\(nonce)".utf8))) < difficulty { nonce += 1 }
        return String(nonce)
    }
}

/// Verifies reCAPTCHA tokens with the provider's `siteverify` protocol: a form POST of
/// `secret`, `response` and `remoteip`, answered by `{ "success": …, "score": … }`.
/// The endpoint is configuration, so a compatible service (or a local one in tests) can stand in.
public struct RecaptchaCheck: HumanCheck {
    public struct Configuration: Sendable {
        public var verifyURL: String
        public var secret: String
        /// For score-based (v3) tokens, the lowest score accepted.
        public var minimumScore: Double
        public var timeout: TimeAmount

        public init(
            verifyURL: String = "https://www.google.com/recaptcha/api/siteverify", secret: String,
            minimumScore: Double = 0.5, timeout: TimeAmount = .seconds(5)
        ) {
            self.verifyURL = verifyURL
            self.secret = secret
            self.minimumScore = minimumScore
            self.timeout = timeout
        }
    }

    private struct VerifyResponse: Decodable {
        let success: Bool
        let score: Double?
        let errorCodes: [String]?

        enum CodingKeys: String, CodingKey {
            case success, score
            case errorCodes = "error-codes"
        }
    }

    private let configuration: Configuration
    private let client: HTTPClient
    private let logger: Logger

    public init(configuration: Configuration, client: HTTPClient = .shared, logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.logger = logger
    }

    public func verify(_ proof: HumanCheckProof?, clientAddress: String?) async throws {
        guard let token = proof?.token, !token.isEmpty, token.utf8.count <= 4096 else {
            throw Problem.humanCheckFailed("needs a reCAPTCHA token")
        }
        var form = URLComponents()
        form.queryItems = [
            URLQueryItem(name: "secret", value: configuration.secret), URLQueryItem(name: "response", value: token),
        ] + (clientAddress.map { [URLQueryItem(name: "remoteip", value: $0)] } ?? [])
        var request = HTTPClientRequest(url: configuration.verifyURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        // URLComponents leaves '+' alone in queries, but a form body reads it as a space.
        let body = (form.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        request.body = .bytes(ByteBuffer(string: body))
        let verdict: VerifyResponse
        do {
            let response = try await client.execute(request, timeout: configuration.timeout)
            guard response.status == .ok else { throw RecaptchaUnavailable(reason: "HTTP \(response.status.code)") }
            let bytes = try await response.body.collect(upTo: 64 * 1024)
            verdict = try JSONDecoder().decode(VerifyResponse.self, from: Data(bytes.readableBytesView))
        } catch {
            logger.error("reCAPTCHA verification unavailable", metadata: ["error": .string(String(describing: error))])
            throw Problem.serviceUnavailable(detail: "The human check cannot be verified right now; try again shortly.")
        }
        guard verdict.success else {
            throw Problem.humanCheckFailed("was rejected (\((verdict.errorCodes ?? []).joined(separator: ", ")))")
        }
        if let score = verdict.score, score < configuration.minimumScore {
            throw Problem.humanCheckFailed("scored too low")
        }
    }
}

struct RecaptchaUnavailable: Error {
    let reason: String
}
