import BoxofficeKit
import Foundation
import Synchronization

/// Short-lived copies of data that is expensive to compute, by key, shared by every node that
/// uses the same store. A cache may forget anything at any time; callers always have a way to
/// compute the value again.
public protocol Cache: Sendable {
    func get(_ key: String) async throws -> Data?
    func set(_ key: String, _ value: Data, ttl: TimeInterval) async throws
    func delete(_ key: String) async throws
}

/// The embedded cache: this process only, bounded in size.
public final class InMemoryCache: Cache {
    private struct Entry {
        let value: Data
        let expiresAt: Date
    }

    private let clock: any WallClock
    private let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    public init(clock: any WallClock = SystemClock(), capacity: Int = 10_000) {
        self.clock = clock
        self.capacity = capacity
    }

    public func get(_ key: String) async throws -> Data? {
        let now = clock.now()
        return entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expiresAt > now else {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    public func set(_ key: String, _ value: Data, ttl: TimeInterval) async throws {
        let now = clock.now()
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expiresAt > now }
                // Still full of live entries: drop an arbitrary half rather than grow.
                if entries.count >= capacity { entries = Dictionary(uniqueKeysWithValues: entries.prefix(capacity / 2).map { ($0.key, $0.value) }) }
            }
            entries[key] = Entry(value: value, expiresAt: now.addingTimeInterval(ttl))
        }
    }

    public func delete(_ key: String) async throws {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }
}

extension Cache {
    /// The value under `key` decoded from JSON, or nil when there is none — or when the cache
    /// cannot answer: a cache is an optimisation, and the caller can always compute the value.
    public func json<Value: Decodable>(_ key: String, as _: Value.Type) async -> Value? {
        guard let data = try? await get(key) else { return nil }
        return try? JSONDecoder().decode(Value.self, from: data)
    }

    /// Stores `value` as JSON for `ttl` seconds; a cache that cannot take it is no error.
    public func setJSON(_ value: some Encodable, _ key: String, ttl: TimeInterval) async {
        guard let data = try? JSONEncoder().encode(value) else { return }
        try? await set(key, data, ttl: ttl)
    }
}
