import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import Identity
import TestSupport
import Testing

@Suite struct FanRateLimitTests {
    /// The clock stands still, so exactly the burst is allowed until it moves.
    @Test func aFanGetsTheConfiguredRequestsPerSecondThen429WithRetryAfter() async throws {
        let clock = ManualClock()
        try await withPlatform(clock: clock, configure: { $0.fanRequestsPerSecond = 5 }) { platform in
            let fan = try await OnSale.token(platform, userID: "eager-fan")
            let other = try await OnSale.token(platform, userID: "patient-fan")
            try await platform.buildApplication().test(.router) { client in
                func get(_ token: String?) async throws -> (status: Int, retryAfter: String?) {
                    let headers: HTTPFields = token.map { [.authorization: "Bearer \($0)"] } ?? [:]
                    return try await client.execute(uri: "/v1/tickets", method: .get, headers: headers) { response in
                        (response.status.code, response.headers[.retryAfter])
                    }
                }
                var statuses: [Int] = []
                for _ in 0..<8 { statuses.append(try await get(fan).status) }
                #expect(statuses == [200, 200, 200, 200, 200, 429, 429, 429])
                let refused = try await get(fan)
                #expect(refused.status == 429)
                #expect(refused.retryAfter == "1")
                // An administrator (an operator's tool) is not limited.
                let admin = try await OnSale.token(platform, userID: "operator", roles: [.admin])
                var adminStatuses: [Int] = []
                for _ in 0..<8 { adminStatuses.append(try await get(admin).status) }
                #expect(adminStatuses.allSatisfy { $0 == 200 })
                // Another fan has a budget of their own; anonymous requests are not counted.
                #expect(try await get(other).status == 200)
                #expect(try await get(nil).status == 401)
                // Pages and their styles and scripts are not the API: a page opened with the
                // session's credentials is served whatever the API budget says.
                for path in ["/", "/cart", "/shop"] {
                    let status = try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(fan)"]) { $0.status.code }
                    #expect(status == 200, "\(path)")
                }
                clock.advance(by: 0.4)  // two more requests' worth
                #expect(try await get(fan).status == 200)
                #expect(try await get(fan).status == 200)
                #expect(try await get(fan).status == 429)
            }
        }
    }
}
