import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Persistence
import TestSupport
import Testing

@Suite struct BrowserSessionTests {
    private func browserSignIn(_ api: API, _ email: String, rememberMe: Bool = false, headers: HTTPFields = [:]) async throws -> API.Reply {
        try await api.call(
            .post, "/v1/auth/browser-session",
            body: ["email": email, "password": "correct horse battery", "rememberMe": rememberMe], headers: headers)
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aCookieSignedInPOSTNeedsTheCSRFToken(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("browser@example.com")
                let signedIn = try await browserSignIn(api, "browser@example.com")
                #expect(signedIn.status == .ok)
                let session = try #require(signedIn.cookie("bo_session"))
                let csrf = try #require(signedIn.json["csrfToken"] as? String)
                #expect(signedIn.cookie("bo_csrf") == csrf)
                let cookies = ["bo_session": session, "bo_csrf": csrf]

                #expect(try await api.call(.get, "/v1/me", cookies: cookies).status == .ok)

                let forged = try await api.call(.patch, "/v1/me", body: ["name": "Hijacked"], cookies: cookies)
                #expect(forged.status == .forbidden)
                #expect(forged.json["type"] as? String == "/problems/csrf-failed")
                let wrong = try await api.call(
                    .patch, "/v1/me", body: ["name": "Hijacked"], cookies: cookies, headers: [.csrfToken: "not-the-token"])
                #expect(wrong.status == .forbidden)

                let allowed = try await api.call(.patch, "/v1/me", body: ["name": "Kim Lee"], cookies: cookies, headers: [.csrfToken: csrf])
                #expect(allowed.status == .ok)
                #expect(allowed.json["name"] as? String == "Kim Lee")

                // Signing out needs the token too, then the cookie stops working.
                #expect(try await api.call(.delete, "/v1/auth/browser-session", cookies: cookies).status == .forbidden)
                let signedOut = try await api.call(.delete, "/v1/auth/browser-session", cookies: cookies, headers: [.csrfToken: csrf])
                #expect(signedOut.status == .noContent)
                #expect(signedOut.setCookies["bo_session"]?.contains("Max-Age=0") == true)
                #expect(try await api.call(.get, "/v1/me", cookies: cookies).status == .unauthorized)
            }
        }
    }

    @Test func sessionCookiesAreHttpOnlyLaxAndSecureBehindTLS() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("attrs@example.com")
                let plain = try await browserSignIn(api, "attrs@example.com")
                let session = try #require(plain.setCookies["bo_session"])
                #expect(session.contains("HttpOnly"))
                #expect(session.contains("SameSite=Lax"))
                #expect(!session.contains("Secure"))
                #expect(plain.setCookies["bo_csrf"]?.contains("HttpOnly") == false)

                let tls = try await browserSignIn(api, "attrs@example.com", headers: [.forwardedProto: "https"])
                #expect(tls.setCookies["bo_session"]?.contains("Secure") == true)
            }
        }
    }

    @Test func bearerCallsNeedNoCSRFToken() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("api@example.com")
                let token = try #require(try await api.signIn("api@example.com").json["accessToken"] as? String)
                #expect(try await api.call(.patch, "/v1/me", token: token, body: ["name": "Via API"]).status == .ok)
            }
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func rememberMeStartsANewSessionRotatesAndRevokesTheSeriesOnTheft(dialect: DatabaseDialect) async throws {
        let clock = ManualClock()
        let logs = LogRecorder()
        try await withPlatform(dialect, logger: logs.logger, clock: clock) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("remember@example.com")
                let signedIn = try await browserSignIn(api, "remember@example.com", rememberMe: true)
                let firstRemember = try #require(signedIn.cookie("bo_remember"))
                #expect(signedIn.setCookies["bo_remember"]?.contains("Max-Age=2592000") == true)

                // Thirteen hours later the session has ended; the remember-me cookie starts a new one.
                clock.advance(by: 13 * 3600)
                let session = try #require(signedIn.cookie("bo_session"))
                #expect(try await api.call(.get, "/v1/me", cookies: ["bo_session": session]).status == .unauthorized)
                let restored = try await api.call(.get, "/v1/me", cookies: ["bo_session": session, "bo_remember": firstRemember])
                #expect(restored.status == .ok)
                let secondRemember = try #require(restored.cookie("bo_remember"))
                #expect(secondRemember != firstRemember)
                let newSession = try #require(restored.cookie("bo_session"))
                #expect(try await api.call(.get, "/v1/me", cookies: ["bo_session": newSession]).status == .ok)

                // Someone replays the old remember-me cookie: refused, and the series dies.
                #expect(try await api.call(.get, "/v1/me", cookies: ["bo_remember": firstRemember]).status == .unauthorized)
                #expect(try await api.call(.get, "/v1/me", cookies: ["bo_remember": secondRemember]).status == .unauthorized)
                // And the session the stolen cookie may have started is over too.
                #expect(try await api.call(.get, "/v1/me", cookies: ["bo_session": newSession]).status == .unauthorized)
            }
        }
        #expect(logs.all.contains { $0.metadata["security"] == "remember_token_theft" })
    }

    @Test(arguments: DatabaseDialect.allCases)
    func aPasswordChangeEndsEveryCookieSessionAndADemotedAdminIsDemotedAtOnce(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("owner@example.com")
                let laptop = try await browserSignIn(api, "owner@example.com", rememberMe: true)
                let phone = try await browserSignIn(api, "owner@example.com")
                let laptopCookies = ["bo_session": try #require(laptop.cookie("bo_session")), "bo_remember": try #require(laptop.cookie("bo_remember"))]
                let phoneCookies = ["bo_session": try #require(phone.cookie("bo_session"))]
                let csrf = try #require(phone.json["csrfToken"] as? String)
                let changed = try await api.call(
                    .post, "/v1/me/password", body: ["currentPassword": "correct horse battery", "newPassword": "a brand new passphrase"],
                    cookies: phoneCookies, headers: [.csrfToken: csrf])
                #expect(changed.status == .noContent, "\(changed.json)")
                #expect(try await api.call(.get, "/v1/me", cookies: phoneCookies).status == .unauthorized)
                #expect(try await api.call(.get, "/v1/me", cookies: laptopCookies).status == .unauthorized, "remember-me too")

                // An admin signed in with a cookie, then demoted: the next request is a fan's.
                let admin = try await platform.identity.signUp(
                    email: "boss@example.com", password: "correct horse battery", name: "Boss", roles: [.admin], verification: .trustedCaller)
                let boss = try await browserSignIn(api, "boss@example.com")
                let bossCookies = ["bo_session": try #require(boss.cookie("bo_session"))]
                let bossCSRF: HTTPFields = [.csrfToken: try #require(boss.json["csrfToken"] as? String)]
                let promote = ["roles": ["organizer"]]
                #expect(try await api.call(.put, "/v1/admin/users/\(admin.id)/roles", body: ["roles": ["admin", "staff"]], cookies: bossCookies, headers: bossCSRF).status == .ok)
                _ = try await platform.identity.setRoles(userID: admin.id, roles: [.fan], by: Principal(userID: "root", roles: [.admin]))
                let me = try await api.call(.get, "/v1/me", cookies: bossCookies)
                #expect(me.json["roles"] as? [String] == ["fan"], "\(me.json)")
                let refused = try await api.call(.put, "/v1/admin/users/\(admin.id)/roles", body: promote, cookies: bossCookies, headers: bossCSRF)
                #expect(refused.status == .forbidden, "the session no longer carries admin")
            }
        }
    }
}
