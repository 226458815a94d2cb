import BoxofficeKit
import Persistence

/// Where an event handler leaves mail to be sent after its transaction commits: queued in the
/// same transaction as the handler's inbox claim, so a redelivered event queues nothing twice
/// and no handler waits on a mail server. (The composition root answers with the mail queue.)
public protocol MailOutbox: Sendable {
    /// Queues `message` once under `key`, which names what the mail is about.
    func enqueue(_ message: MailMessage, key: String, in transaction: DatabaseTransaction) async throws -> Bool
}
