import Foundation

/// One e-mail: to one address, a subject, and a plain-text body (with an optional HTML one).
public struct MailMessage: Codable, Sendable, Equatable {
    public let to: String
    public let subject: String
    public let text: String
    public let html: String?

    public init(to: String, subject: String, text: String, html: String? = nil) {
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
    }
}

/// Sends mail: SMTP in production, files a person or a test can read in the embedded default.
/// Callers send from event handlers, never inside the transaction that decided to send: a mail
/// server that is down must not fail a payment (it is retried with the event instead).
public protocol Mailer: Sendable {
    func send(_ message: MailMessage) async throws
}
