import Foundation

/// Makes application-generated identifiers: UUID version 7 (RFC 9562), rendered lowercase.
///
/// IDs are made by the application, never by the database, so a row's ID is known before it is
/// written (events can name it, idempotent retries can reuse it). Version 7 puts the creation
/// millisecond in the leading bits, so IDs sort by creation time and index well.
public struct IDGenerator: Sendable {
    private let clock: any WallClock

    public init(clock: any WallClock = SystemClock()) {
        self.clock = clock
    }

    /// A new identifier, e.g. `01935c5e-8b5a-7c3e-9f1d-2a6b4c8d0e1f`.
    public func next() -> String {
        var generator = SystemRandomNumberGenerator()
        return Self.uuidV7(at: clock.now(), using: &generator).uuidString.lowercased()
    }

    /// Builds a version-7 UUID for `date` with random bits from `generator`.
    public static func uuidV7(at date: Date, using generator: inout some RandomNumberGenerator) -> UUID {
        let milliseconds = UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded(.down)))
        let randomA = generator.next() as UInt64
        let randomB = generator.next() as UInt64
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 {
            bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index)))
        }
        for index in 6..<16 {
            let source = index < 14 ? randomA : randomB
            bytes[index] = UInt8(truncatingIfNeeded: source >> (8 * (index % 8)))
        }
        bytes[6] = (bytes[6] & 0x0F) | 0x70  // version 7
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        return UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
        ))
    }
}
