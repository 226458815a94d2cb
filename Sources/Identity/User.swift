import BoxofficeKit
import Foundation

/// A person with an account: `{ id, email, name, roles }` on the wire.
public struct User: Codable, Sendable, Equatable {
    public let id: String
    public let email: String
    public let name: String
    public let roles: [Role]
    /// Whether the owner of the address confirmed it (the link in the verification mail, or a
    /// provider's verified claim). Nothing is linked to an account whose email is unverified.
    public let emailVerified: Bool
    /// The language mail to this person is written in: `ko` or `en`.
    public let language: String

    public init(id: String, email: String, name: String, roles: [Role], emailVerified: Bool = false, language: String = "ko") {
        self.id = id
        self.email = email
        self.name = name
        self.roles = roles
        self.emailVerified = emailVerified
        self.language = language
    }

    public var principal: Principal { Principal(userID: id, roles: Set(roles)) }
}

/// The rules for what people type into sign-up and profile forms.
enum AccountRules {
    static let passwordLength = 10...128
    static let nameLength = 1...100

    static let languages: Set<String> = ["ko", "en"]

    /// A language the mail can be written in, or nil (the caller keeps what it had).
    static func language(_ requested: String?) throws(Problem) -> String? {
        guard let requested else { return nil }
        let code = requested.trimmingCharacters(in: .whitespaces).lowercased()
        guard languages.contains(code) else { throw Problem.validation([.init(field: "language", message: "must be ko or en")]) }
        return code
    }

    static func normalizedEmail(_ email: String) -> String {
        email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    static func emailProblem(_ email: String) -> String? {
        let trimmed = email.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return "is required" }
        guard trimmed.utf8.count <= 254 else { return "is longer than 254 characters" }
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !trimmed.contains(where: { $0.isWhitespace })
        else { return "is not an email address" }
        return nil
    }

    static func passwordProblem(_ password: String, email: String) -> String? {
        guard passwordLength.contains(password.count) else {
            return "must be \(passwordLength.lowerBound) to \(passwordLength.upperBound) characters"
        }
        guard Set(password).count > 2 else { return "is too simple" }
        guard password.lowercased() != normalizedEmail(email) else { return "must not be your email address" }
        return nil
    }

    static func nameProblem(_ name: String) -> String? {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard nameLength.contains(trimmed.count) else {
            return trimmed.isEmpty ? "is required" : "must be at most \(nameLength.upperBound) characters"
        }
        return nil
    }

    /// Roles as stored: sorted names, and every user is at least a fan.
    static func encode(_ roles: Set<Role>) -> String {
        roles.union([.fan]).sorted().map(\.rawValue).joined(separator: ",")
    }

    static func decode(_ roles: String) -> [Role] {
        roles.split(separator: ",").compactMap { Role(rawValue: String($0)) }.sorted()
    }
}

/// A user became known to Boxoffice.
public struct UserRegistered: DomainEvent {
    public static let eventType = "user.registered"
    public static let aggregateType = "user"
    public let userID: String
    public let roles: [Role]
    public var aggregateID: String { userID }
}

/// An admin changed what a user may do.
public struct UserRolesChanged: DomainEvent {
    public static let eventType = "user.roles_changed"
    public static let aggregateType = "user"
    public let userID: String
    public let roles: [Role]
    public let changedBy: String
    public var aggregateID: String { userID }
}

/// Someone asked for the verification mail again (the first goes with `user.registered`).
public struct EmailVerificationRequested: DomainEvent {
    public static let eventType = "identity.email-verification-requested"
    public static let aggregateType = "user"
    public let userID: String
    public var aggregateID: String { userID }
}
