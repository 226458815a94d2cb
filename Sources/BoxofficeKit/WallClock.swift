import Foundation
import Synchronization

/// The source of "now" for everything that stores or compares times.
///
/// Injected everywhere instead of calling `Date()` so that hold expiry, token lifetimes and
/// retry back-off can be tested by moving time instead of waiting for it.
public protocol WallClock: Sendable {
    func now() -> Date
}

/// The real clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that only moves when told to; for tests.
public final class ManualClock: WallClock {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        self.current = Mutex(start)
    }

    public func now() -> Date { current.withLock { $0 } }

    public func advance(by interval: TimeInterval) {
        current.withLock { $0 += interval }
    }

    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }
}
