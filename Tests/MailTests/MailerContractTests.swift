import BoxofficeKit
import Foundation
import Logging
import Mail
import NIOCore
import NIOExtras
import NIOPosix
import Synchronization
import Testing

/// A small SMTP server on loopback that keeps what it is sent: real SMTP over a real socket,
/// with AUTH PLAIN and a recipient it refuses (`refused@…`).
final class TestSMTPServer: Sendable {
    struct Received: Sendable {
        let from: String
        let to: [String]
        let data: String
        let authenticatedAs: String?
    }

    let received = Mutex<[Received]>([])
    let credentials: (user: String, password: String)?

    init(credentials: (user: String, password: String)?) {
        self.credentials = credentials
    }

    /// Runs the server for `body`, handing it the port.
    func run(_ body: @Sendable (Int) async throws -> Void) async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineBasedFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = try #require(server.channel.localAddress?.port)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { sessions in
                        for try await connection in connections {
                            sessions.addTask { try? await self.serve(connection) }
                        }
                    }
                }
            }
            defer { group.cancelAll() }
            try await body(port)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async throws {
        try await connection.executeThenClose { inbound, outbound in
            func say(_ text: String) async throws { try await outbound.write(ByteBuffer(string: text + "\r\n")) }
            try await say("220 test.local ESMTP")
            var from = "", to: [String] = [], user: String?, inData = false, data: [String] = []
            for try await buffer in inbound {
                let line = String(buffer: buffer)
                if inData {
                    if line == "." {
                        received.withLock { $0.append(Received(from: from, to: to, data: data.joined(separator: "\r\n"), authenticatedAs: user)) }
                        inData = false
                        data = []
                        try await say("250 queued")
                    } else {
                        data.append(line.hasPrefix("..") ? String(line.dropFirst()) : line)
                    }
                    continue
                }
                let upper = line.uppercased()
                if upper.hasPrefix("EHLO") {
                    try await say("250-test.local")
                    try await say("250 AUTH PLAIN")
                } else if upper.hasPrefix("AUTH PLAIN ") {
                    let decoded = Data(base64Encoded: String(line.dropFirst(11))).map { String(decoding: $0, as: UTF8.self) } ?? ""
                    let parts = decoded.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
                    if let credentials, parts.count == 3, parts[1] == credentials.user, parts[2] == credentials.password {
                        user = parts[1]
                        try await say("235 accepted")
                    } else {
                        try await say("535 bad credentials")
                    }
                } else if upper.hasPrefix("MAIL FROM:") {
                    if credentials != nil, user == nil { try await say("530 authenticate first"); continue }
                    from = String(line.dropFirst(10))
                    try await say("250 ok")
                } else if upper.hasPrefix("RCPT TO:") {
                    let address = String(line.dropFirst(8))
                    if address.contains("refused@") { try await say("550 no such mailbox"); continue }
                    to.append(address)
                    try await say("250 ok")
                } else if upper == "DATA" {
                    inData = true
                    try await say("354 go ahead")
                } else if upper == "QUIT" {
                    try await say("221 bye")
                    return
                } else {
                    try await say("502 not implemented")
                }
            }
        }
    }
}

/// One contract for every Mailer: what is sent arrives whole, Korean included, and a message
/// that would inject headers is refused.
@Suite struct MailerContractTests {
    enum Kind: String, CaseIterable, Sendable {
        case file
        case smtp
    }

    static let message = MailMessage(
        to: "fan@example.com", subject: "예매 확인 — Night Songs", text: "Your tickets are ready.\n.\nA line with a dot.",
        html: "<p>Your tickets are <b>ready</b>.</p>")

    /// Runs `body` with a mailer of `kind` and a way to read back what it delivered.
    func withMailer(_ kind: Kind, _ body: @Sendable (any Mailer, @Sendable () throws -> [String]) async throws -> Void) async throws {
        let logger = Logger(label: "test")
        switch kind {
        case .file:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mail-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let mailer = FileMailer(directory: directory, from: "Boxoffice <tickets@boxoffice.test>", logger: logger)
            try await body(mailer) { try mailer.sent() }
        case .smtp:
            let server = TestSMTPServer(credentials: ("mailer", "s3cret"))
            try await server.run { port in
                let configuration = try SMTPMailer.Configuration(
                    url: "smtp://mailer:s3cret@127.0.0.1:\(port)", from: "Boxoffice <tickets@boxoffice.test>")
                try await body(SMTPMailer(configuration: configuration, logger: logger)) {
                    server.received.withLock { $0.map(\.data) }
                }
            }
        }
    }

    @Test(arguments: Kind.allCases)
    func aMessageArrivesWholeWithItsKoreanSubjectAndBothBodies(kind: Kind) async throws {
        try await withMailer(kind) { mailer, sent in
            try await mailer.send(Self.message)
            let raw = try #require(try sent().first)
            #expect(raw.contains("To: fan@example.com"))
            #expect(raw.contains("From: Boxoffice <tickets@boxoffice.test>"))
            #expect(raw.contains("Subject: =?UTF-8?B?\(Data(Self.message.subject.utf8).base64EncodedString())?="))
            #expect(MailMessage.decodedText(ofRaw: raw) == Self.message.text)
            #expect(raw.contains("Content-Type: text/html; charset=UTF-8"))
        }
    }

    @Test(arguments: Kind.allCases)
    func aRecipientThatWouldInjectHeadersIsRefusedAndNothingIsSent(kind: Kind) async throws {
        try await withMailer(kind) { mailer, sent in
            await #expect(throws: MailError.self) {
                try await mailer.send(MailMessage(to: "fan@example.com\r\nBcc: everyone@example.com", subject: "Hi", text: "x"))
            }
            let delivered = try sent()
            #expect(delivered.isEmpty)
        }
    }

    @Test func theSMTPServerRefusingARecipientOrTheCredentialsIsARefusalNotARetry() async throws {
        let server = TestSMTPServer(credentials: ("mailer", "s3cret"))
        try await server.run { port in
            let logger = Logger(label: "test")
            let good = try SMTPMailer.Configuration(url: "smtp://mailer:s3cret@127.0.0.1:\(port)", from: "tickets@boxoffice.test")
            let refused = await #expect(throws: MailError.self) {
                try await SMTPMailer(configuration: good, logger: logger).send(MailMessage(to: "refused@example.com", subject: "Hi", text: "x"))
            }
            if case .refused(let why)? = refused { #expect(why.contains("550")) } else { Issue.record("expected a refusal: \(String(describing: refused))") }
            let wrong = try SMTPMailer.Configuration(url: "smtp://mailer:wrong@127.0.0.1:\(port)", from: "tickets@boxoffice.test")
            await #expect(throws: MailError.self) {
                try await SMTPMailer(configuration: wrong, logger: logger).send(MailMessage(to: "fan@example.com", subject: "Hi", text: "x"))
            }
            #expect(server.received.withLock { $0.isEmpty })
            #expect(good.port == port && good.security == .none && good.username == "mailer")
        }
        let closed = try SMTPMailer.Configuration(url: "smtp://127.0.0.1:1", from: "tickets@boxoffice.test")
        let unreachable = await #expect(throws: MailError.self) {
            try await SMTPMailer(configuration: closed, logger: Logger(label: "test")).send(MailMessage(to: "fan@example.com", subject: "Hi", text: "x"))
        }
        if case .unavailable? = unreachable {} else { Issue.record("a closed port is worth retrying: \(String(describing: unreachable))") }
        #expect(try SMTPMailer.Configuration(url: "smtps://mail.example.com", from: "x@example.com").port == 465)
        #expect(try SMTPMailer.Configuration(url: "smtp://mail.example.com?starttls=true", from: "x@example.com").security == .startTLS)
        #expect(throws: SMTPMailer.Configuration.InvalidURL.self) { try SMTPMailer.Configuration(url: "http://mail.example.com", from: "x") }
    }
}
