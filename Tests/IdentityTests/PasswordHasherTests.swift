@testable import Identity
import Testing

@Suite struct PasswordHasherTests {
    /// An unknown account must cost as much to check as a wrong password, or timing tells
    /// which emails have accounts: the decoy hash has the configured work factor.
    @Test func theDecoyForUnknownAccountsHasTheConfiguredCost() async throws {
        let hasher = PasswordHasher(cost: 6)
        #expect(try await hasher.verify("anything", against: nil) == false)
        #expect(try await hasher.decoyHash().hasPrefix("$2b$06$"))
        #expect(try await hasher.hash("a password").hasPrefix("$2b$06$"))
    }
}
