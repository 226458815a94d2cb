import BoxofficeKit
import Foundation
import Testing

@Suite struct IDGeneratorTests {
    @Test func generatedIDsAreVersion7UUIDsWithTheRFCVariant() throws {
        let id = IDGenerator().next()
        let uuid = try #require(UUID(uuidString: id))
        let bytes = withUnsafeBytes(of: uuid.uuid) { Array($0) }
        #expect(bytes[6] >> 4 == 7)
        #expect(bytes[8] >> 6 == 0b10)
        #expect(id == id.lowercased())
    }

    @Test func idsCarryTheirCreationMillisecondSoTheySortByTime() {
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000.5))
        let generator = IDGenerator(clock: clock)
        let earlier = generator.next()
        clock.advance(by: 0.002)
        let later = generator.next()
        #expect(earlier < later)
        // 1_800_000_000_500 ms = 0x01A3185C51F4 in the first 48 bits.
        #expect(earlier.hasPrefix("01a3185c-51f4"))
    }

    @Test func tenThousandIDsInOneMillisecondAreAllDifferent() {
        let generator = IDGenerator(clock: ManualClock())
        let ids = Set((0..<10_000).map { _ in generator.next() })
        #expect(ids.count == 10_000)
    }
}
