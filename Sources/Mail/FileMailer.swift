import BoxofficeKit
import Foundation
import Logging

/// The embedded default: every message is written as an `.eml` file under a directory (a
/// person opens it in any mail program; a test reads it) and logged, so the product sends
/// mail with no mail server at all.
public struct FileMailer: Mailer {
    public let directory: URL
    private let from: String
    private let logger: Logger

    public init(directory: URL, from: String, logger: Logger) {
        self.directory = directory
        self.from = from
        self.logger = logger
    }

    public func send(_ message: MailMessage) async throws {
        guard MailFormat.isSafeHeaderValue(message.to), MailFormat.isSafeHeaderValue(message.subject) else {
            throw MailError.refused("a header value holds a line break")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let stamp = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
            .replacingOccurrences(of: ":", with: "")
        let file = directory.appendingPathComponent("\(stamp)-\(UUID().uuidString.prefix(8)).eml")
        try Data(MailFormat.render(message, from: from).utf8).write(to: file, options: .atomic)
        logger.info("mail written", metadata: ["to": .string(message.to), "subject": .string(message.subject), "file": .string(file.path)])
    }

    /// The messages written so far, oldest first, as their raw text.
    public func sent() throws -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []
        return try files.filter { $0.pathExtension == "eml" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
            .map { try String(contentsOf: $0, encoding: .utf8) }
    }
}

public enum MailError: Error, CustomStringConvertible {
    /// The server (or the message itself) refused: retrying the same will not help.
    case refused(String)
    /// The server could not be reached or stopped answering: try again later.
    case unavailable(String)

    public var description: String {
        switch self {
        case .refused(let why): "mail refused: \(why)"
        case .unavailable(let why): "mail server unavailable: \(why)"
        }
    }
}

extension MailMessage {
    /// The decoded plain-text body of a message as `MailFormat` writes it (for tests and people).
    public static func decodedText(ofRaw raw: String) -> String? {
        let lines = raw.components(separatedBy: "\r\n")
        guard let start = lines.firstIndex(where: { $0.hasPrefix("Content-Type: text/plain") }),
              let blank = lines[start...].firstIndex(of: "")
        else { return nil }
        let encoded = lines[(blank + 1)...].prefix { !$0.isEmpty && !$0.hasPrefix("--") }.joined()
        return Data(base64Encoded: encoded).map { String(decoding: $0, as: UTF8.self) }
    }
}
