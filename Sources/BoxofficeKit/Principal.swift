/// What a user may do beyond being a fan.
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    case fan
    case organizer
    /// Door scanning and shipping.
    case staff
    case admin

    public static func < (lhs: Role, rhs: Role) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!  // every case is in allCases
    }
}

/// Who is acting: an authenticated user and the roles their credential carries.
///
/// Contexts receive a principal and check per-resource rights themselves ("a fan sees only their
/// own tickets"); the helpers make that one line.
public struct Principal: Sendable, Equatable {
    public let userID: String
    public let roles: Set<Role>

    public init(userID: String, roles: Set<Role>) {
        self.userID = userID
        self.roles = roles
    }

    public func has(_ role: Role) -> Bool { roles.contains(role) }

    /// Throws 403 unless the principal has one of `roles`.
    public func require(anyOf roles: Role...) throws(Problem) {
        guard !self.roles.isDisjoint(with: roles) else {
            throw Problem.forbidden(detail: "This needs the \(roles.map(\.rawValue).joined(separator: " or ")) role.")
        }
    }

    /// Throws 404 unless the resource belongs to this principal (or the principal is an admin);
    /// 404, not 403, so that others' resources do not reveal that they exist.
    public func requireOwnership(of ownerID: String, resource: String = "resource") throws(Problem) {
        guard ownerID == userID || has(.admin) else {
            throw Problem.notFound(detail: "No such \(resource).")
        }
    }
}
