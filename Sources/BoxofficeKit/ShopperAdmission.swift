/// Whether a fan may shop a performance now. When the performance's waiting room is on, only
/// with the access token the room gave them at admission (the `Queue-Access` header); the
/// waiting room implements it, holds and checkout ask it.
public protocol ShopperAdmission: Sendable {
    /// Throws a 403 problem unless the fan may shop. With `sessionMustBeRunning` (holding
    /// seats) the fan's shopping session must still be running; paying for a hold already
    /// taken needs only a valid token.
    func requireAdmission(performanceID: String, fanID: String, accessToken: String?, sessionMustBeRunning: Bool) async throws
}

/// No waiting room anywhere: everyone may shop.
public struct OpenAdmission: ShopperAdmission {
    public init() {}
    public func requireAdmission(performanceID: String, fanID: String, accessToken: String?, sessionMustBeRunning: Bool) async throws {}
}
