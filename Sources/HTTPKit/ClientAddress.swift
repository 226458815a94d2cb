import BoxofficeKit
import Foundation
import HTTPTypes
import Hummingbird

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
// libc's structs (in_addr) may be attributed to CoreFoundation's module in one build and to
// Glibc's in the next; importing both keeps member import visibility satisfied either way.
#if canImport(CoreFoundation)
import CoreFoundation
#endif

/// An IPv4 or IPv6 address as bytes (4 or 16); IPv4-mapped IPv6 addresses are their IPv4 form,
/// so `::ffff:10.0.0.1` and `10.0.0.1` are one address.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(_ text: some StringProtocol) {
        let text = String(text).trimmingCharacters(in: .whitespaces)
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        // A bracketed form ([::1]) or a zone (fe80::1%eth0) is not an address on its own.
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let raw = withUnsafeBytes(of: &v6) { Array($0) }
        bytes = raw[0..<10].allSatisfy { $0 == 0 } && raw[10] == 0xFF && raw[11] == 0xFF ? Array(raw[12...]) : raw
    }

    public var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for index in stride(from: 0, to: 16, by: 2) { groups.append(String(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]), radix: 16)) }
        return groups.joined(separator: ":")
    }
}

/// Address ranges (CIDRs) whose requests come from a proxy of ours: only from those is
/// `X-Forwarded-For` or `X-Real-IP` believed.
public struct TrustedProxies: Sendable, Equatable {
    public struct Range: Sendable, Equatable {
        let network: [UInt8]
        let prefixLength: Int

        /// `10.0.0.0/8`, `::1/128`, or a bare address (one host).
        public init?(_ text: some StringProtocol) {
            let parts = text.split(separator: "/", maxSplits: 1)
            guard let first = parts.first, let address = IPAddress(first) else { return nil }
            let bits = address.bytes.count * 8
            let length: Int
            if parts.count == 2 {
                guard let given = Int(parts[1]), (0...bits).contains(given) else { return nil }
                // An IPv4-mapped range names IPv4 addresses: its prefix counts the 96 bits before them.
                length = text.contains(":") && address.bytes.count == 4 ? given - 96 : given
                guard length >= 0 else { return nil }
            } else {
                length = bits
            }
            network = address.bytes
            prefixLength = length
        }

        func contains(_ address: IPAddress) -> Bool {
            guard address.bytes.count == network.count else { return false }
            var remaining = prefixLength
            for (byte, networkByte) in zip(address.bytes, network) where remaining > 0 {
                let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
                if byte & mask != networkByte & mask { return false }
                remaining -= 8
            }
            return true
        }
    }

    public let ranges: [Range]

    public init(ranges: [Range] = []) {
        self.ranges = ranges
    }

    /// A comma-separated list of CIDRs; nil when any item is not one.
    public init?(list: String) {
        var ranges: [Range] = []
        for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let range = Range(item) else { return nil }
            ranges.append(range)
        }
        self.init(ranges: ranges)
    }

    public func trusts(_ address: IPAddress) -> Bool {
        ranges.contains { $0.contains(address) }
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the right-most
    /// hop of `X-Forwarded-For` that is not itself trusted (hops to its left could have been
    /// written by anyone), else `X-Real-IP`. A header that does not parse is ignored.
    public func clientAddress(peer: String?, forwardedFor: [String], realIP: String?) -> String? {
        guard let peer, let peerAddress = IPAddress(peer), trusts(peerAddress) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.reversed()
        var leftmostTrusted: IPAddress?
        for hop in hops {
            guard let address = IPAddress(hop) else { return leftmostTrusted?.description ?? peer }
            guard trusts(address) else { return address.description }
            leftmostTrusted = address
        }
        if let leftmostTrusted { return leftmostTrusted.description }
        if let realIP, let address = IPAddress(realIP) { return address.description }
        return peer
    }
}

/// Sets the request context's client address from the peer and, when the peer is a trusted
/// proxy, its forwarding headers. Every per-address limit reads the result.
public struct ClientAddressMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    private let proxies: TrustedProxies
    private static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
    private static let realIP = HTTPField.Name("X-Real-IP")!

    public init(proxies: TrustedProxies) {
        self.proxies = proxies
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !proxies.ranges.isEmpty else { return try await next(request, context) }
        var context = context
        context.clientAddress = proxies.clientAddress(
            peer: context.clientAddress, forwardedFor: request.headers[values: Self.forwardedFor], realIP: request.headers[Self.realIP])
        return try await next(request, context)
    }
}
