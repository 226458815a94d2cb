import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Identity
import Persistence
import TestSupport
import Testing

@Suite struct ProofOfWorkTests {
    private func fetchChallenge(_ api: API) async throws -> (challenge: String, difficulty: Int) {
        let reply = try await api.call(.post, "/v1/auth/challenge")
        #expect(reply.status == .ok)
        return (try #require(reply.json["challenge"] as? String), try #require(reply.json["difficulty"] as? Int))
    }

    private func signUp(_ api: API, _ email: String, humanCheck: [String: Any]?) async throws -> API.Reply {
        var body: [String: Any] = ["email": email, "password": "correct horse battery", "name": "Kim"]
        body["humanCheck"] = humanCheck
        return try await api.call(.post, "/v1/auth/signup", body: body)
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aSolvedChallengePassesOnceAndItsReplayFails(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect, configure: { $0.humanCheck = .proofOfWork; $0.proofOfWorkDifficulty = 8 }) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                let (challenge, difficulty) = try await fetchChallenge(api)
                #expect(difficulty == 8)
                let nonce = ProofOfWorkCheck.solve(challenge, difficulty: difficulty)
                let proof: [String: Any] = ["challenge": challenge, "nonce": nonce]

                #expect(try await signUp(api, "first@example.com", humanCheck: proof).status == .created)
                let replay = try await signUp(api, "second@example.com", humanCheck: proof)
                #expect(replay.status == .unprocessableContent)
                #expect(replay.json["type"] as? String == "/problems/human-check-failed")
                #expect((replay.json["detail"] as? String)?.contains("already used") == true)
            }
        }
    }

    @Test func aMissingWrongOrForgedAnswerFailsAndCreatesNoAccount() async throws {
        try await withPlatform(configure: { $0.humanCheck = .proofOfWork; $0.proofOfWorkDifficulty = 12 }) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                #expect(try await signUp(api, "a@example.com", humanCheck: nil).status == .unprocessableContent)

                let (challenge, difficulty) = try await fetchChallenge(api)
                var wrong = 0
                while try ProofOfWorkTests.solves(challenge, nonce: wrong, difficulty: difficulty) { wrong += 1 }
                let wrongReply = try await signUp(api, "a@example.com", humanCheck: ["challenge": challenge, "nonce": String(wrong)])
                #expect((wrongReply.json["detail"] as? String)?.contains("does not solve") == true)

                // Lowering the difficulty inside the challenge breaks its signature.
                var parts = challenge.split(separator: ".").map(String.init)
                parts[2] = "1"
                let forged = parts.joined(separator: ".")
                let forgedReply = try await signUp(
                    api, "a@example.com", humanCheck: ["challenge": forged, "nonce": ProofOfWorkCheck.solve(forged, difficulty: 1)])
                #expect((forgedReply.json["detail"] as? String)?.contains("did not issue") == true)

                // None of that created the account.
                #expect(try await api.signIn("a@example.com").status == .unauthorized)
            }
        }
    }

    @Test func anExpiredChallengeFails() async throws {
        let clock = ManualClock()
        try await withPlatform(clock: clock, configure: { $0.humanCheck = .proofOfWork; $0.proofOfWorkDifficulty = 4 }) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                let (challenge, difficulty) = try await fetchChallenge(api)
                clock.advance(by: 301)
                let reply = try await signUp(
                    api, "late@example.com",
                    humanCheck: ["challenge": challenge, "nonce": ProofOfWorkCheck.solve(challenge, difficulty: difficulty)])
                #expect(reply.status == .unprocessableContent)
                #expect((reply.json["detail"] as? String)?.contains("expired") == true)
            }
        }
    }

    @Test func invalidFieldsAreReportedWithoutSpendingTheChallenge() async throws {
        try await withPlatform(configure: { $0.humanCheck = .proofOfWork; $0.proofOfWorkDifficulty = 4 }) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                let (challenge, difficulty) = try await fetchChallenge(api)
                let proof: [String: Any] = ["challenge": challenge, "nonce": ProofOfWorkCheck.solve(challenge, difficulty: difficulty)]
                let typo = try await api.call(
                    .post, "/v1/auth/signup",
                    body: ["email": "typo@example", "password": "correct horse battery", "name": "K", "humanCheck": proof])
                #expect(typo.status == .unprocessableContent)
                #expect(try await signUp(api, "typo@example.com", humanCheck: proof).status == .created)
            }
        }
    }

    @Test func withoutProofOfWorkThereAreNoChallenges() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let reply = try await API(client: client).call(.post, "/v1/auth/challenge")
                #expect(reply.status == .conflict)
            }
        }
    }

    static func solves(_ challenge: String, nonce: Int, difficulty: Int) throws -> Bool {
        ProofOfWorkCheck.solve(challenge, difficulty: difficulty) == String(nonce)
    }
}

/// A stand-in for the reCAPTCHA `siteverify` endpoint, on loopback.
struct FakeRecaptchaServer {
    static let secret = "test-secret"

    static func run<Result: Sendable>(_ body: @escaping @Sendable (_ verifyURL: String) async throws -> Result) async throws -> Result {
        let router = Router()
        router.post("/siteverify") { request, context -> Response in
            let form = String(buffer: try await request.body.collect(upTo: 65536))
            var fields: [String: String] = [:]
            for pair in form.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            let json: String
            if fields["secret"] != secret {
                json = #"{"success":false,"error-codes":["invalid-input-secret"]}"#
            } else if fields["response"] == "human+token" {
                json = #"{"success":true,"score":0.9}"#
            } else if fields["response"] == "bot-ish" {
                json = #"{"success":true,"score":0.1}"#
            } else {
                json = #"{"success":false,"error-codes":["invalid-input-response"]}"#
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)/siteverify")
        }
    }
}

@Suite struct RecaptchaTests {
    @Test func tokensAreCheckedWithTheConfiguredVerifyEndpoint() async throws {
        try await FakeRecaptchaServer.run { verifyURL in
            try await withPlatform(configure: {
                $0.humanCheck = .recaptcha
                $0.recaptchaSecret = FakeRecaptchaServer.secret
                $0.recaptchaVerifyURL = verifyURL
            }) { platform in
                try await platform.buildApplication().test(.router) { client in
                    let api = API(client: client)
                    func signUp(_ email: String, token: String?) async throws -> API.Reply {
                        var body: [String: Any] = ["email": email, "password": "correct horse battery", "name": "Kim"]
                        if let token { body["humanCheck"] = ["token": token] }
                        return try await api.call(.post, "/v1/auth/signup", body: body)
                    }
                    // '+' must survive form encoding to reach the verifier intact.
                    #expect(try await signUp("human@example.com", token: "human+token").status == .created)
                    let rejected = try await signUp("bot@example.com", token: "forged")
                    #expect(rejected.status == .unprocessableContent)
                    #expect((rejected.json["detail"] as? String)?.contains("invalid-input-response") == true)
                    #expect((try await signUp("bot@example.com", token: "bot-ish").json["detail"] as? String)?.contains("scored too low") == true)
                    #expect(try await signUp("bot@example.com", token: nil).status == .unprocessableContent)
                }
            }
        }
    }

    @Test func anUnreachableVerifierIsA503NotAFreePass() async throws {
        try await withPlatform(configure: {
            $0.humanCheck = .recaptcha
            $0.recaptchaSecret = "s"
            $0.recaptchaVerifyURL = "http://127.0.0.1:1/siteverify"
        }) { platform in
            try await platform.buildApplication().test(.router) { client in
                let reply = try await API(client: client).call(
                    .post, "/v1/auth/signup",
                    body: ["email": "x@example.com", "password": "correct horse battery", "name": "X", "humanCheck": ["token": "t"]])
                #expect(reply.status == .serviceUnavailable)
            }
        }
    }
}
