import BoxofficeKit
import Reservations
import Testing

@Suite struct TicketCodeTests {
    /// A code a phone kept offline from before a rotation opens the door during the overlap,
    /// and stops once its key retires; forged or altered codes never do.
    @Test func codesOfTheOldKeyVerifyUntilItRetires() {
        let first = SigningKeys.Key(generation: 1, secret: Array(repeating: 1, count: 32))
        let second = SigningKeys.Key(generation: 2, secret: Array(repeating: 2, count: 32))
        let ring = SigningKeys(signing: first)
        let codes = TicketCodes(keys: ring)
        let kept = codes.code(ticketID: "tkt-1", version: 1)
        #expect(codes.verify(kept)! == ("tkt-1", 1))

        ring.replace(signing: second, alsoAccepted: [first])
        let shownNow = codes.code(ticketID: "tkt-1", version: 1)
        #expect(shownNow != kept)
        #expect(codes.verify(shownNow)! == ("tkt-1", 1))
        #expect(codes.verify(kept)! == ("tkt-1", 1))
        #expect(codes.verify(kept.replacingOccurrences(of: "tkt-1", with: "tkt-2")) == nil)

        ring.replace(signing: second, alsoAccepted: [])
        #expect(codes.verify(kept) == nil)
        #expect(codes.verify(shownNow)! == ("tkt-1", 1))
    }
}
