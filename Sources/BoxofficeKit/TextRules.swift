import Foundation

/// The rule for a required line of text a person types (a name, a title, an address): not
/// blank once trimmed, and at most `limit` characters.
public enum TextRules {
    public static func trimmed(_ text: String) -> String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// What is wrong with `text`, as a field error's message, or nil when it is fine.
    public static func problem(_ text: String, limit: Int) -> String? {
        let trimmed = trimmed(text)
        if trimmed.isEmpty { return "is required" }
        if trimmed.unicodeScalars.count > limit { return "is longer than \(limit) characters" }
        return nil
    }
}
