import BoxofficeKit
import Foundation

/// RFC 5322 text of a message: UTF-8 subject and bodies, each body base64 (so no line can
/// start with a dot or exceed the line limit), multipart/alternative when there is HTML.
enum MailFormat {
    static func render(_ message: MailMessage, from: String, date: Date = Date(), messageID: String = UUID().uuidString) -> String {
        var headers = [
            "From: \(from)",
            "To: \(message.to)",
            "Subject: \(encodedWord(message.subject))",
            "Date: \(rfc2822(date))",
            "Message-ID: <\(messageID)@boxoffice>",
            "MIME-Version: 1.0",
        ]
        var body: [String]
        if let html = message.html {
            let boundary = "boxoffice-\(messageID)"
            headers.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            body = [
                "--\(boundary)", "Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: base64", "", base64Lines(message.text),
                "--\(boundary)", "Content-Type: text/html; charset=UTF-8", "Content-Transfer-Encoding: base64", "", base64Lines(html),
                "--\(boundary)--",
            ]
        } else {
            headers += ["Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: base64"]
            body = [base64Lines(message.text)]
        }
        return (headers + [""] + body).joined(separator: "\r\n") + "\r\n"
    }

    /// `=?UTF-8?B?…?=` when the text is not plain ASCII (Korean subjects).
    static func encodedWord(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 0x20 && $0.value != 0x7F }
        return plain ? text : "=?UTF-8?B?\(Data(text.utf8).base64EncodedString())?="
    }

    static func base64Lines(_ text: String) -> String {
        let encoded = Data(text.utf8).base64EncodedString()
        return stride(from: 0, to: encoded.count, by: 76).map { start -> String in
            let from = encoded.index(encoded.startIndex, offsetBy: start)
            let to = encoded.index(from, offsetBy: min(76, encoded.count - start))
            return String(encoded[from..<to])
        }.joined(separator: "\r\n")
    }

    static func rfc2822(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: date)
    }

    /// A header value must not carry a line break (header injection through an address).
    static func isSafeHeaderValue(_ value: String) -> Bool {
        !value.contains("\r") && !value.contains("\n")
    }
}
