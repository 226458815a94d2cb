import BoxofficeKit
import Testing

@Suite struct PrincipalTests {
    @Test func roleChecksAre403AndOwnershipChecksAre404() {
        let fan = Principal(userID: "u1", roles: [.fan])
        let admin = Principal(userID: "a1", roles: [.fan, .admin])
        #expect(throws: Problem.self) { try fan.require(anyOf: .organizer, .admin) }
        #expect(throws: Never.self) { try admin.require(anyOf: .organizer, .admin) }
        #expect {
            try fan.requireOwnership(of: "someone-else", resource: "ticket")
        } throws: { ($0 as? Problem)?.status == 404 }
        #expect(throws: Never.self) { try fan.requireOwnership(of: "u1") }
        #expect(throws: Never.self) { try admin.requireOwnership(of: "u1") }
    }
}
