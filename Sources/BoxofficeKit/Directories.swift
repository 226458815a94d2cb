/// Who organizes a performance: the catalog knows; the waiting room and sales ask it through
/// the composition root.
public protocol PerformanceOrganizers: Sendable {
    /// The organizer's user ID, or nil when there is no such performance.
    func organizer(ofPerformance performanceID: String) async throws -> String?
}

/// How to reach a fan: identity knows; sales views and mail ask it through the composition root.
public struct FanContact: Codable, Sendable, Equatable {
    public let userId: String
    public let email: String
    public let name: String
    /// The language the fan's mail is written in (`ko` or `en`).
    public let language: String

    public init(userId: String, email: String, name: String, language: String) {
        self.userId = userId
        self.email = email
        self.name = name
        self.language = language
    }
}

public protocol FanDirectory: Sendable {
    /// The contacts of these accounts; accounts that do not exist are left out.
    func contacts(of userIDs: [String]) async throws -> [String: FanContact]
    /// The account with exactly this email (case-insensitive), for staff searching their own sales.
    func userID(forEmail email: String) async throws -> String?
}
