import Crypto
import Foundation

/// One Redis command: its name and arguments, sent as bulk strings.
public struct RedisCommand: Sendable, CustomStringConvertible {
    public var arguments: [[UInt8]]

    public init(_ name: String, _ arguments: [String]) {
        self.arguments = [Array(name.utf8)] + arguments.map { Array($0.utf8) }
    }

    public init(_ name: String, _ arguments: String...) {
        self.init(name, arguments)
    }

    /// The command's name, for errors and logs (never its arguments: they may be secrets).
    public var name: String {
        arguments.first.map { String(decoding: $0, as: UTF8.self).uppercased() } ?? ""
    }

    public var description: String { name }
}

/// A Lua script, run with `EVALSHA` and loaded on the first `NOSCRIPT` (each Redis server,
/// including a replica promoted after a failover, starts without it).
public struct RedisScript: Sendable {
    public let source: String
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Data(source.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// What can go wrong talking to Redis. Every call ends in a reply or one of these; none waits
/// forever.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with an error, e.g. `WRONGTYPE`, `NOSCRIPT`, `READONLY`, `BUSYGROUP`.
    case server(code: String, message: String)
    /// No reply within the command's timeout; the connection it was on has been closed.
    case timeout(command: String)
    /// The connection closed before the reply arrived; the command may or may not have run.
    case connectionClosed
    /// No server to send to right now (connecting failed, backing off, no master known).
    case unavailable(String)
    /// The server sent something that is not RESP, or a reply of an unexpected shape.
    case protocolViolation(String)

    public init(errorReply text: String) {
        let code = text.prefix { $0 != " " }
        let isCode = !code.isEmpty && code.allSatisfy { $0.isUppercase || $0 == "_" }
        self = .server(code: isCode ? String(code) : "ERR", message: text)
    }

    public var description: String {
        switch self {
        case .server(_, let message): "Redis replied: \(message)"
        case .timeout(let command): "Redis did not answer \(command) in time"
        case .connectionClosed: "the connection to Redis closed before it answered"
        case .unavailable(let reason): "Redis is unavailable: \(reason)"
        case .protocolViolation(let detail): "unexpected data from Redis: \(detail)"
        }
    }
}
