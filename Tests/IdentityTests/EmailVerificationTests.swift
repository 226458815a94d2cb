import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Persistence
import SQLKit
import TestSupport
import Testing

@Suite struct EmailVerificationTests {
    @Test(arguments: DatabaseDialect.allCases)
    func aNewAccountIsMailedALinkThatVerifiesItsAddressOnce(dialect: DatabaseDialect) async throws {
        try await withPlatform(dialect) { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                let signedUp = try await api.signUp("new.fan@example.com")
                #expect((signedUp.json["user"] as? [String: Any])?["emailVerified"] as? Bool == false)
                try await platform.relay.deliverPending()
                let link = try #require(try await platform.link(inMailTo: "new.fan@example.com", path: "/v1/auth/verify-email"))
                let token = try #require(URLComponents(string: link)?.queryItems?.first { $0.name == "token" }?.value)

                // A forged or altered link verifies nothing.
                #expect(try await api.call(.get, "/v1/auth/verify-email?token=EV1.someone.9999999999.eA.AAAA").status == .forbidden)
                #expect(try await api.call(.post, "/v1/auth/verify-email", body: ["token": token + "x"]).status == .forbidden)
                let access = try #require(try await api.signIn("new.fan@example.com").json["accessToken"] as? String)
                #expect(try await api.call(.get, "/v1/me", token: access).json["emailVerified"] as? Bool == false)

                let verified = try await api.call(.get, link)
                #expect(verified.status == .ok, "\(verified.json)")
                #expect((verified.json["user"] as? [String: Any])?["emailVerified"] as? Bool == true)
                #expect(try await api.call(.get, "/v1/me", token: access).json["emailVerified"] as? Bool == true)
                #expect(try await api.call(.get, link).status == .ok, "opening the link again is fine")
                #expect(try await api.call(.post, "/v1/me/verification-email", token: access).status == .conflict, "nothing left to verify")
            }
        }
    }

    @Test func theMailCanBeSentAgainAFewTimesAnHourAndALinkForAnOldAddressStopsWorking() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                try await api.signUp("again@example.com")
                let access = try #require(try await api.signIn("again@example.com").json["accessToken"] as? String)
                for _ in 0..<3 { #expect(try await api.call(.post, "/v1/me/verification-email", token: access).status == .accepted) }
                #expect(try await api.call(.post, "/v1/me/verification-email", token: access).status == .tooManyRequests)
                try await platform.relay.deliverPending()
                #expect(try await platform.sentMail().filter { $0.contains("To: again@example.com") }.count == 4, "the first and three more")

                // The address changes (as an admin tool would): links sent to the old one are void.
                let link = try #require(try await platform.link(inMailTo: "again@example.com", path: "/v1/auth/verify-email"))
                try await platform.database.withTransaction { transaction in
                    try await transaction.sql.raw("""
                        UPDATE users SET email = 'moved@example.com', email_normalized = 'moved@example.com' WHERE email_normalized = 'again@example.com'
                        """).run()
                }
                #expect(try await api.call(.get, link).status == .forbidden)
            }
        }
    }
}

@Suite struct EnumerationTests {
    @Test func signUpTellsWhichAddressesHaveAccountsOnlyAFewTimesAnHour() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                let api = API(client: client)
                for index in 0..<12 { try await api.signUp("taken\(index)@example.com") }
                var statuses: [HTTPResponse.Status] = []
                for index in 0..<12 { statuses.append(try await api.signUp("taken\(index)@example.com").status) }
                #expect(statuses.prefix(10).allSatisfy { $0 == .conflict }, "\(statuses)")
                #expect(statuses.suffix(2).allSatisfy { $0 == .tooManyRequests }, "then nothing more is told: \(statuses)")
                #expect(try await api.signUp("fresh@example.com").status == .created, "new accounts still sign up")
            }
        }
    }
}
