import BoxofficeKit
import Foundation
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL

/// Mail through an SMTP server (RFC 5321): one connection per message, `EHLO`, `STARTTLS`
/// when asked for (or TLS from the start with `smtps://`), `AUTH PLAIN` when credentials are
/// given, then `MAIL FROM` / `RCPT TO` / `DATA`. A 5xx answer is `MailError.refused`; a
/// connection that fails or a 4xx is `MailError.unavailable`, which callers retry.
public struct SMTPMailer: Mailer {
    public struct Configuration: Sendable, Equatable {
        public enum Security: String, Sendable, Equatable {
            /// Plain text: a mail server on this machine or a trusted network.
            case none
            /// Upgrade with STARTTLS after the greeting (port 587).
            case startTLS
            /// TLS from the first byte (port 465, `smtps://`).
            case implicitTLS
        }

        public var host: String
        public var port: Int
        public var username: String?
        public var password: String?
        public var security: Security
        public var from: String
        public var timeout: Duration = .seconds(30)

        public init(host: String, port: Int, username: String?, password: String?, security: Security, from: String) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.security = security
            self.from = from
        }

        public struct InvalidURL: Error, CustomStringConvertible {
            public let description: String
        }

        /// `smtp://[user:password@]host[:port][?starttls=true]` or `smtps://…`.
        public init(url: String, from: String) throws(InvalidURL) {
            guard let components = URLComponents(string: url), let scheme = components.scheme, ["smtp", "smtps"].contains(scheme),
                  let host = components.host, !host.isEmpty
            else { throw InvalidURL(description: "expected smtp://[user:password@]host[:port] or smtps://…") }
            let startTLS = components.queryItems?.first { $0.name == "starttls" }?.value == "true"
            let security: Security = scheme == "smtps" ? .implicitTLS : startTLS ? .startTLS : .none
            self.init(
                host: host, port: components.port ?? (scheme == "smtps" ? 465 : startTLS ? 587 : 25),
                username: components.user?.removingPercentEncoding, password: components.password?.removingPercentEncoding,
                security: security, from: from)
        }
    }

    private let configuration: Configuration
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func send(_ message: MailMessage) async throws {
        guard MailFormat.isSafeHeaderValue(message.to), MailFormat.isSafeHeaderValue(message.subject),
              !message.to.contains("<"), !message.to.contains(">")
        else { throw MailError.refused("a header value holds a line break or angle bracket") }
        let timeout = configuration.timeout
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await deliver(message) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw MailError.unavailable("no answer within \(timeout)")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
        logger.info("mail sent", metadata: ["to": .string(message.to), "subject": .string(message.subject)])
    }

    private func deliver(_ message: MailMessage) async throws {
        let configuration = self.configuration
        let tls = try NIOSSLContext(configuration: .makeClientConfiguration())
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .connect(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if configuration.security == .implicitTLS {
                            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: configuration.host))
                        }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineBasedFrameDecoder()))
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw MailError.unavailable("cannot connect to \(configuration.host):\(configuration.port) (\(error))")
        }
        let raw = channel.channel
        try await channel.executeThenClose { inbound, outbound in
            var lines = inbound.makeAsyncIterator()
            /// One reply, multi-line or not: `250-…` lines until `250 …`.
            func reply() async throws -> (code: Int, lines: [String]) {
                var text: [String] = []
                while true {
                    guard let buffer = try await lines.next() else { throw MailError.unavailable("the server closed the connection") }
                    let line = String(buffer: buffer)
                    text.append(line)
                    guard line.count >= 3, let code = Int(line.prefix(3)) else { throw MailError.unavailable("not an SMTP reply: \(line.prefix(80))") }
                    if line.count == 3 || line[line.index(line.startIndex, offsetBy: 3)] == " " { return (code, text) }
                }
            }
            func expect(_ expected: Set<Int>, after command: String?, logged: String? = nil) async throws -> [String] {
                if let command { try await outbound.write(ByteBuffer(string: command + "\r\n")) }
                let (code, text) = try await reply()
                guard expected.contains(code) else {
                    let said = "\(logged ?? command ?? "greeting") → \(text.last ?? "")"
                    throw code >= 500 ? MailError.refused(said) : MailError.unavailable(said)
                }
                return text
            }
            _ = try await expect([220], after: nil)
            var capabilities = try await expect([250], after: "EHLO boxoffice")
            if configuration.security == .startTLS {
                guard capabilities.contains(where: { $0.dropFirst(4).uppercased().hasPrefix("STARTTLS") }) else {
                    throw MailError.refused("the server does not offer STARTTLS")
                }
                _ = try await expect([220], after: "STARTTLS")
                let host = configuration.host
                try await raw.eventLoop.submit {
                    try raw.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: host), position: .first)
                }.get()
                capabilities = try await expect([250], after: "EHLO boxoffice")
            }
            if let username = configuration.username {
                let credentials = Data("\0\(username)\0\(configuration.password ?? "")".utf8).base64EncodedString()
                _ = try await expect([235], after: "AUTH PLAIN \(credentials)", logged: "AUTH PLAIN")
            }
            _ = try await expect([250], after: "MAIL FROM:<\(Self.address(in: configuration.from))>")
            _ = try await expect([250, 251], after: "RCPT TO:<\(message.to)>")
            _ = try await expect([354], after: "DATA")
            // Bodies are base64, so no line starts with a dot; the header lines cannot either.
            try await outbound.write(ByteBuffer(string: MailFormat.render(message, from: configuration.from) + ".\r\n"))
            _ = try await expect([250], after: nil, logged: "DATA")
            _ = try? await expect([221], after: "QUIT")
        }
    }

    /// The bare address of `Name <address>` (or the whole text when it is one).
    static func address(in mailbox: String) -> String {
        guard let open = mailbox.lastIndex(of: "<"), let close = mailbox.lastIndex(of: ">"), open < close else { return mailbox }
        return String(mailbox[mailbox.index(after: open)..<close])
    }
}
