import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Persistence
import TestSupport
import Testing

/// JSON in, JSON out, through the real application.
struct API {
    let client: any TestClientProtocol

    struct Reply {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let json: [String: Any]

        /// `Set-Cookie` headers by cookie name, whole (value and attributes).
        var setCookies: [String: String] {
            Dictionary(headers[values: .setCookie].map { (String($0.prefix { $0 != "=" }), $0) }, uniquingKeysWith: { $1 })
        }

        /// The value a `Set-Cookie` header gives the named cookie.
        func cookie(_ name: String) -> String? {
            setCookies[name].map { String($0.dropFirst(name.count + 1).prefix { $0 != ";" }) }
        }
    }

    func call(
        _ method: HTTPRequest.Method, _ path: String, token: String? = nil, body: [String: Any]? = nil,
        cookies: [String: String] = [:], headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if !cookies.isEmpty {
            headers[.cookie] = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        var buffer: ByteBuffer?
        if let body {
            headers[.contentType] = "application/json"
            buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body))
        }
        return try await client.execute(uri: path, method: method, headers: headers, body: buffer) { response in
            let json = (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any]
            return Reply(status: response.status, headers: response.headers, json: json ?? [:])
        }
    }

    @discardableResult
    func signUp(_ email: String, password: String = "correct horse battery", name: String = "Kim Fan") async throws -> Reply {
        try await call(.post, "/v1/auth/signup", body: ["email": email, "password": password, "name": name])
    }

    func signIn(_ email: String, password: String = "correct horse battery") async throws -> Reply {
        try await call(.post, "/v1/auth/signin", body: ["email": email, "password": password])
    }
}

@Suite struct IdentityFlowTests {
    @Test(arguments: DatabaseDialect.allCases)
    func aFanSignsUpSignsInCallsAProtectedRouteRefreshesAndSignsOut(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                let signedUp = try await api.signUp("  Kim@Example.COM ")
                #expect(signedUp.status == .created)
                let user = try #require(signedUp.json["user"] as? [String: Any])
                #expect(user["email"] as? String == "Kim@Example.COM")
                #expect(user["roles"] as? [String] == ["fan"])

                let session = try await api.signIn("kim@example.com")
                #expect(session.status == .ok)
                #expect(session.headers[.cacheControl] == "no-store")
                #expect(session.json["expiresIn"] as? Int == 900)
                let access = try #require(session.json["accessToken"] as? String)
                let refresh = try #require(session.json["refreshToken"] as? String)

                let me = try await api.call(.get, "/v1/me", token: access)
                #expect(me.status == .ok)
                #expect(me.json["id"] as? String == user["id"] as? String)

                let renamed = try await api.call(.patch, "/v1/me", token: access, body: ["name": "Kim Lee"])
                #expect(renamed.json["name"] as? String == "Kim Lee")

                let refreshed = try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": refresh])
                #expect(refreshed.status == .ok)
                let newRefresh = try #require(refreshed.json["refreshToken"] as? String)
                #expect(newRefresh != refresh)
                let newAccess = try #require(refreshed.json["accessToken"] as? String)
                #expect(try await api.call(.get, "/v1/me", token: newAccess).status == .ok)

                #expect(try await api.call(.post, "/v1/auth/signout", body: ["refreshToken": newRefresh]).status == .noContent)
                let afterSignOut = try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": newRefresh])
                #expect(afterSignOut.status == .unauthorized)
                #expect(afterSignOut.json["type"] as? String == "/problems/invalid-refresh-token")
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func reusingARefreshTokenRevokesItsWholeFamily(dialect: DatabaseDialect) async throws {
        let logs = LogRecorder()
        let clock = ManualClock()
        try await withPlatform(dialect, logger: logs.logger, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("victim@example.com")
                let first = try #require(try await api.signIn("victim@example.com").json["refreshToken"] as? String)
                let second = try #require(
                    try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": first]).json["refreshToken"] as? String)

                // An attacker replays the first token after the grace for parallel tabs: refused,
                // and the legitimate one dies too.
                clock.advance(by: 11)
                #expect(try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": first]).status == .unauthorized)
                #expect(try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": second]).status == .unauthorized)

                // Another sign-in is a new family and works.
                let other = try #require(try await api.signIn("victim@example.com").json["refreshToken"] as? String)
                #expect(try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": other]).status == .ok)
            }
        }
        #expect(logs.all.contains { $0.level == .warning && $0.metadata["security"] == "refresh_token_reuse" })
    }

    @Test(arguments: DatabaseDialect.allCases)
    func twoTabsRefreshingAtOnceBothStaySignedInWithTheSamePair(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        try await withPlatform(dialect, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("tabs@example.com")
                let token = try #require(try await api.signIn("tabs@example.com").json["refreshToken"] as? String)
                let replies = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            let reply = try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": token])
                            return (reply.status, reply.json["refreshToken"] as? String)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(replies.allSatisfy { $0.0 == .ok }, "\(replies)")
                #expect(Set(replies.compactMap(\.1)).count == 1, "both tabs got the same new refresh token")
                let shared = try #require(replies.first?.1)
                // A third use a few seconds later is still inside the grace and gets the same.
                clock.advance(by: 5)
                let late = try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": token])
                #expect(late.json["refreshToken"] as? String == shared)
                // The pair works: the session lives on.
                #expect(try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": shared]).status == .ok)
                // Past the grace, reusing the first token is theft: the family is revoked.
                clock.advance(by: 11)
                #expect(try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": token]).status == .unauthorized)
                #expect(try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": shared]).status == .unauthorized)
            }
        }
    }

    @Test func parallelGuessesAreCountedBeforeThePasswordIsCheckedSoFewReachBcrypt() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("target@example.com")
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for _ in 0..<20 {
                        group.addTask { try await api.signIn("target@example.com", password: "guess guess guess").status }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.filter { $0 == .unauthorized }.count == 5, "only the allowed five were compared: \(statuses)")
                #expect(statuses.filter { $0 == .tooManyRequests }.count == 15)
            }
        }
    }

    @Test func accessAndRefreshTokensExpireOnTheInjectedClock() async throws {
        let clock = ManualClock()
        try await withPlatform(clock: clock, configure: { $0.refreshTokenDays = 1 }) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("clock@example.com")
                let session = try await api.signIn("clock@example.com")
                let access = try #require(session.json["accessToken"] as? String)
                let refresh = try #require(session.json["refreshToken"] as? String)

                clock.advance(by: 14 * 60)
                #expect(try await api.call(.get, "/v1/me", token: access).status == .ok)
                clock.advance(by: 2 * 60)
                let expired = try await api.call(.get, "/v1/me", token: access)
                #expect(expired.status == .unauthorized)
                #expect(expired.json["type"] as? String == "/problems/token-expired")

                clock.advance(by: 24 * 3600)
                #expect(try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": refresh]).status == .unauthorized)
            }
        }
    }

    @Test func signUpValidationNamesEveryBadField() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let reply = try await API(client: client).call(
                    .post, "/v1/auth/signup", body: ["email": "not-an-email", "password": "short", "name": "  "])
                #expect(reply.status == .unprocessableContent)
                let errors = try #require(reply.json["errors"] as? [[String: String]])
                #expect(Dictionary(uniqueKeysWithValues: errors.map { ($0["field"]!, $0["message"]!) }) == [
                    "email": "is not an email address",
                    "password": "must be 10 to 128 characters",
                    "name": "is required",
                ])
                let missing = try await API(client: client).call(.post, "/v1/auth/signup", body: ["email": "a@b.co"])
                #expect(missing.status == .unprocessableContent)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aDuplicateEmailInAnyCaseIsAConflictAndChangesNothing(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                #expect(try await api.signUp("dup@example.com").status == .created)
                let again = try await api.signUp("DUP@Example.com", password: "another password here", name: "Other")
                #expect(again.status == .conflict)
                #expect(again.json["type"] as? String == "/problems/email-taken")
                // The first account's password still works; the second's does not.
                #expect(try await api.signIn("dup@example.com").status == .ok)
                #expect(try await api.signIn("dup@example.com", password: "another password here").status == .unauthorized)
            }
        }
    }

    @Test func changingThePasswordSignsOutEverySession() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("mover@example.com")
                let session = try await api.signIn("mover@example.com")
                let access = try #require(session.json["accessToken"] as? String)
                let refresh = try #require(session.json["refreshToken"] as? String)

                let wrong = try await api.call(
                    .post, "/v1/me/password", token: access,
                    body: ["currentPassword": "not it at all", "newPassword": "a brand new secret"])
                #expect(wrong.status == .unprocessableContent)

                let changed = try await api.call(
                    .post, "/v1/me/password", token: access,
                    body: ["currentPassword": "correct horse battery", "newPassword": "a brand new secret"])
                #expect(changed.status == .noContent)
                #expect(try await api.call(.post, "/v1/auth/refresh", body: ["refreshToken": refresh]).status == .unauthorized)
                #expect(try await api.signIn("mover@example.com").status == .unauthorized)
                #expect(try await api.signIn("mover@example.com", password: "a brand new secret").status == .ok)
            }
        }
    }

    @Test func theNextSignInAfterTooManyFailuresIsThrottledWithRetryAfter() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("target@example.com")
                for _ in 0..<5 {
                    #expect(try await api.signIn("target@example.com", password: "guess guess guess").status == .unauthorized)
                }
                let throttled = try await api.signIn("target@example.com")  // even the right password
                #expect(throttled.status == .tooManyRequests)
                let retryAfter = try #require(throttled.headers[.retryAfter].flatMap(Int.init))
                #expect(retryAfter > 0 && retryAfter <= 180)
                #expect(throttled.json["type"] as? String == "/problems/too-many-requests")
                // Other accounts are not affected.
                try await api.signUp("bystander@example.com")
                #expect(try await api.signIn("bystander@example.com").status == .ok)
            }
        }
    }

    @Test func anUnknownAccountAndAWrongPasswordLookTheSame() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("known@example.com")
                let wrongPassword = try await api.signIn("known@example.com", password: "nope nope nope")
                let unknown = try await api.signIn("unknown@example.com")
                #expect(wrongPassword.status == .unauthorized)
                #expect(unknown.status == .unauthorized)
                #expect(wrongPassword.json["detail"] as? String == unknown.json["detail"] as? String)
            }
        }
    }
}

@Suite struct AuthorizationTests {
    static var protectedRoutes: [(HTTPRequest.Method, String, [String: Any]?)] {
        [
            (.get, "/v1/me", nil),
            (.patch, "/v1/me", ["name": "x"]),
            (.post, "/v1/me/password", ["currentPassword": "x", "newPassword": "y"]),
            (.put, "/v1/admin/users/someone/roles", ["roles": ["organizer"]]),
        ]
    }

    @Test func everyProtectedRouteRefusesAnonymousCallersAndBadTokensWith401() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                for (method, path, body) in Self.protectedRoutes {
                    let anonymous = try await api.call(method, path, body: body)
                    #expect(anonymous.status == .unauthorized, "\(method) \(path)")
                    #expect(anonymous.json["type"] as? String == "/problems/unauthorized")
                    let forged = try await api.call(method, path, token: "eyJhbGciOiJIUzI1NiJ9.e30.forged", body: body)
                    #expect(forged.status == .unauthorized, "\(method) \(path)")
                }
            }
        }
    }

    @Test func adminRoutesRefuseOtherRolesWith403AndLetAdminsGrantRoles() async throws {
        try await withPlatform { platform in
            _ = try await platform.identity.createAdmin(email: "root@example.com", password: "admin password 1", name: "Root")
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                let fanID = try #require((try await api.signUp("fan@example.com").json["user"] as? [String: Any])?["id"] as? String)
                let fanToken = try #require(try await api.signIn("fan@example.com").json["accessToken"] as? String)
                let refused = try await api.call(.put, "/v1/admin/users/\(fanID)/roles", token: fanToken, body: ["roles": ["admin"]])
                #expect(refused.status == .forbidden)

                let adminToken = try #require(
                    try await api.signIn("root@example.com", password: "admin password 1").json["accessToken"] as? String)
                let invalid = try await api.call(.put, "/v1/admin/users/\(fanID)/roles", token: adminToken, body: ["roles": ["wizard"]])
                #expect(invalid.status == .unprocessableContent)
                let missing = try await api.call(.put, "/v1/admin/users/nobody/roles", token: adminToken, body: ["roles": ["staff"]])
                #expect(missing.status == .notFound)
                let granted = try await api.call(
                    .put, "/v1/admin/users/\(fanID)/roles", token: adminToken, body: ["roles": ["organizer"]])
                #expect(granted.status == .ok)
                #expect(granted.json["roles"] as? [String] == ["fan", "organizer"])

                // The new role arrives with the fan's next token.
                let fresh = try await api.signIn("fan@example.com")
                let me = try await api.call(.get, "/v1/me", token: fresh.json["accessToken"] as? String)
                #expect(me.json["roles"] as? [String] == ["fan", "organizer"])
            }
        }
    }
}
