import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

/// Echoes the address every per-address limit sees.
func clientAddressRoute(_ routes: RouteRegistrar<AppRequestContext>) {
    routes.get("/test/client-address") { _, context in
        try Response.json(["address": context.clientAddress ?? "none"])
    }
}

private let forwardedFor = HTTPField.Name("X-Forwarded-For")!
private let realIP = HTTPField.Name("X-Real-IP")!

@Suite struct ClientAddressTests {
    @Test func theRightMostUntrustedHopIsTheClient() throws {
        let proxies = try #require(TrustedProxies(list: "10.0.0.0/8, 192.168.1.7, ::1"))
        // From a trusted proxy: the right-most hop that is not one of ours.
        #expect(proxies.clientAddress(peer: "10.1.2.3", forwardedFor: ["203.0.113.9, 10.9.9.9"], realIP: nil) == "203.0.113.9")
        // Whatever the client wrote to the left is not believed.
        #expect(proxies.clientAddress(peer: "10.1.2.3", forwardedFor: ["1.1.1.1, 203.0.113.9"], realIP: nil) == "203.0.113.9")
        // Several headers read as one list; IPv4-mapped peers are their IPv4 form.
        #expect(proxies.clientAddress(peer: "::ffff:10.0.0.1", forwardedFor: ["198.51.100.4", "192.168.1.7"], realIP: nil) == "198.51.100.4")
        #expect(proxies.clientAddress(peer: "::1", forwardedFor: [], realIP: "2001:db8::5") == "2001:db8:0:0:0:0:0:5")
        // A peer that is not ours is the client, whatever it claims.
        #expect(proxies.clientAddress(peer: "203.0.113.50", forwardedFor: ["10.0.0.1"], realIP: "10.0.0.2") == "203.0.113.50")
        // Garbage in the header stops the walk at the last hop we can vouch for.
        #expect(proxies.clientAddress(peer: "10.1.2.3", forwardedFor: ["evil, 10.0.0.8"], realIP: nil) == "10.0.0.8")
        #expect(TrustedProxies(list: "10.0.0.0/33") == nil)
        #expect(TrustedProxies(list: "not-an-address") == nil)
    }

    @Test func behindATrustedProxyEachFanCountsOnTheirOwnAndASpoofedHeaderFromAnyoneElseIsIgnored() async throws {
        try await withPlatform(configure: { $0.trustedProxies = TrustedProxies(list: "127.0.0.1/32")! }) { platform in
            try await platform.buildApplication(additionalRoutes: clientAddressRoute).test(.live) { client in
                let seen = try await client.execute(
                    uri: "/test/client-address", method: .get, headers: [forwardedFor: "203.0.113.9"]
                ) { String(buffer: $0.body) }
                #expect(seen == #"{"address":"203.0.113.9"}"#)

                // 30 failed sign-ins from one fan behind the balancer lock out that fan only.
                func signIn(_ email: String, from address: String) async throws -> HTTPResponse.Status {
                    try await client.execute(
                        uri: "/v1/auth/signin", method: .post, headers: [.contentType: "application/json", forwardedFor: address],
                        body: ByteBuffer(string: #"{"email":"\#(email)","password":"wrong wrong wrong"}"#)
                    ) { $0.status }
                }
                for index in 0..<30 { #expect(try await signIn("nobody\(index)@example.com", from: "203.0.113.9") == .unauthorized) }
                #expect(try await signIn("one-more@example.com", from: "203.0.113.9") == .tooManyRequests)
                #expect(try await signIn("someone@example.com", from: "198.51.100.4") == .unauthorized, "another fan is not locked out")
            }
        }
        try await withPlatform(configure: { $0.trustedProxies = TrustedProxies(list: "10.0.0.0/8")! }) { platform in
            try await platform.buildApplication(additionalRoutes: clientAddressRoute).test(.live) { client in
                let seen = try await client.execute(
                    uri: "/test/client-address", method: .get, headers: [forwardedFor: "203.0.113.9", realIP: "203.0.113.10"]
                ) { String(buffer: $0.body) }
                #expect(seen == #"{"address":"127.0.0.1"}"#, "the peer is not a trusted proxy: its headers are ignored")
            }
        }
    }

    @Test func withoutTrustedProxiesTheHeadersAreIgnored() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication(additionalRoutes: clientAddressRoute).test(.live) { client in
                let seen = try await client.execute(uri: "/test/client-address", method: .get, headers: [forwardedFor: "203.0.113.9"]) {
                    String(buffer: $0.body)
                }
                #expect(seen == #"{"address":"127.0.0.1"}"#)
            }
        }
    }
}

@Suite struct CORSTests {
    private static let origin = HTTPField.Name("Origin")!
    private static let allowOrigin = HTTPField.Name("Access-Control-Allow-Origin")!
    private static let allowCredentials = HTTPField.Name("Access-Control-Allow-Credentials")!
    private static let requestMethod = HTTPField.Name("Access-Control-Request-Method")!

    @Test func offByDefault() async throws {
        try await withPlatform { platform in
            try await platform.buildApplication().test(.router) { client in
                try await client.execute(uri: "/health", method: .get, headers: [Self.origin: "https://shop.example.com"]) { response in
                    #expect(response.headers[Self.allowOrigin] == nil)
                }
            }
        }
    }

    @Test func aListedOriginGetsCredentialsAndPreflightsAnotherGetsNothing() async throws {
        let policy = try CORSPolicy(list: "https://shop.example.com, http://localhost:3000")
        try await withPlatform(configure: { $0.corsOrigins = policy }) { platform in
            try await platform.buildApplication().test(.router) { client in
                try await client.execute(
                    uri: "/v1/checkout", method: .options,
                    headers: [Self.origin: "https://shop.example.com", Self.requestMethod: "POST"]
                ) { response in
                    #expect(response.status == .noContent)
                    #expect(response.headers[Self.allowOrigin] == "https://shop.example.com")
                    #expect(response.headers[Self.allowCredentials] == "true")
                    #expect(response.headers[HTTPField.Name("Access-Control-Allow-Headers")!]?.contains("Idempotency-Key") == true)
                }
                // Problems carry the headers too, so the page can read why it was refused.
                try await client.execute(uri: "/v1/me", method: .get, headers: [Self.origin: "http://localhost:3000"]) { response in
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[Self.allowOrigin] == "http://localhost:3000")
                }
                try await client.execute(uri: "/v1/me", method: .get, headers: [Self.origin: "https://evil.example"]) { response in
                    #expect(response.headers[Self.allowOrigin] == nil)
                    #expect(response.headers[Self.allowCredentials] == nil)
                }
            }
        }
        #expect(throws: CORSPolicy.InvalidOrigin.self) { try CORSPolicy(list: "https://shop.example.com/path") }
    }

    @Test func aWildcardLetsAnyOriginReadButNeverWithCredentials() async throws {
        try await withPlatform(configure: { $0.corsOrigins = try! CORSPolicy(list: "*") }) { platform in
            try await platform.buildApplication().test(.router) { client in
                try await client.execute(uri: "/v1/events", method: .get, headers: [Self.origin: "https://anyone.example"]) { response in
                    #expect(response.headers[Self.allowOrigin] == "*")
                    #expect(response.headers[Self.allowCredentials] == nil)
                }
            }
        }
    }
}

@Suite struct SandboxGatewaySafetyTests {
    @Test func serveRefusesTheSandboxBeyondLoopbackOrOnPostgresUnlessItIsADemo() throws {
        let local = try ServerConfiguration.resolve(flags: [:], environment: [:])
        #expect(throws: Never.self) { try local.checkSafeToServe() }
        for environment in [
            ["BOXOFFICE_HOST": "0.0.0.0"], ["BOXOFFICE_DATABASE_URL": "postgres://app@db/boxoffice"],
        ] {
            let configuration = try ServerConfiguration.resolve(flags: [:], environment: environment)
            #expect(throws: ConfigurationError.self) { try configuration.checkSafeToServe() }
            let demo = try ServerConfiguration.resolve(flags: [.allowSandboxGateway: "true"], environment: environment)
            #expect(throws: Never.self) { try demo.checkSafeToServe() }
        }
    }
}

@Suite struct OperationsSecurityTests {
    @Test func withAScrapeTokenMetricsAnswersOnlyPrometheus() async throws {
        try await withPlatform(configure: { $0.metricsToken = "scrape-token-0123456789" }) { platform in
            try await platform.buildApplication().test(.router) { client in
                try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .unauthorized) }
                try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer wrong-token-0123456789"]) {
                    #expect($0.status == .unauthorized)
                }
                try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer scrape-token-0123456789"]) {
                    #expect($0.status == .ok)
                    #expect(String(buffer: $0.body).contains("boxoffice_http_requests_total"))
                }
            }
        }
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.resolve(flags: [.metricsToken: "short"], environment: [:]) }
    }

    @Test func liveStreamsAreCappedPerHolderAndPerNodeAndGiveTheirPlaceBackWhenTheyEnd() async throws {
        let limits = ServerSentEvents.Limits(perHolder: 2, total: 3)
        func open(_ holder: String) throws -> Response {
            try ServerSentEvents.response(holder: holder, limits: limits, interval: .milliseconds(1)) {
                .init(event: "status", data: Data("{}".utf8), isLast: true)
            }
        }
        let first = try open("fan-1")
        _ = try open("fan-1")
        let perHolder = #expect(throws: Problem.self) { try open("fan-1") }
        #expect(perHolder?.status == 429)
        _ = try open("fan-2")
        let perNode = #expect(throws: Problem.self) { try open("fan-3") }
        #expect(perNode?.status == 503)
        #expect(limits.count(for: "fan-1") == 2)

        // A stream that ends gives its place back.
        let router = Router()
        router.get("/stream") { _, _ in first }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/stream", method: .get) { #expect(String(buffer: $0.body).contains("event: status")) }
        }
        #expect(limits.count(for: "fan-1") == 1)
        _ = try open("fan-1")
    }
}
