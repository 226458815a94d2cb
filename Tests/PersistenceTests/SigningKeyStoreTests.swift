import BoxofficeKit
import Foundation
import Persistence
import TestSupport
import Testing

/// The signing keys every node shares, on both databases.
@Suite struct SigningKeyStoreTests {
    @Test(arguments: DatabaseDialect.allCases)
    func nodesStartingAtOnceAllGetTheSameFirstKey(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: [SigningKeyStore.migrations]) { database in
            let store = SigningKeyStore(database: database, clock: SystemClock())
            let rings = try await withThrowingTaskGroup(of: SigningKeys.self) { group in
                for _ in 0..<8 { group.addTask { try await store.load() } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let first = rings[0].signing
            #expect(first.generation == 1)
            #expect(first.secret.count == 32)
            #expect(rings.allSatisfy { $0.signing == first && $0.snapshot.verifying == [first] })
            // A node started later loads the same key, and a seed no longer matters.
            #expect(try await store.load(seed: Array(repeating: 7, count: 32)).signing == first)
            #expect(try await store.generations().map(\.generation) == [1])
        }
    }

    @Test(arguments: DatabaseDialect.allCases)
    func anEmbeddedInstallsOldKeyBecomesTheFirstGeneration(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: [SigningKeyStore.migrations]) { database in
            let old = Array("an old key kept in a file, 32+ bytes".utf8)
            let ring = try await SigningKeyStore(database: database, clock: SystemClock()).load(seed: old)
            #expect(ring.signing == SigningKeys.Key(generation: 1, secret: old))
        }
    }

    /// A rotation is accepted at once, signs only after the activation delay, and the key it
    /// replaces verifies for the overlap after that, then not at all.
    @Test(arguments: DatabaseDialect.allCases)
    func aRotationIsAcceptedAtOnceSignsAfterTheDelayAndTheOldKeyRetiresAfterTheOverlap(dialect: DatabaseDialect) async throws {
        try await TestDatabases.withDatabase(dialect, migrations: [SigningKeyStore.migrations]) { database in
            let clock = ManualClock()
            let store = SigningKeyStore(database: database, clock: clock)
            let ring = try await store.load()
            let first = ring.signing
            let versionBefore = ring.snapshot.version

            let rotated = try await store.rotate(overlap: 3600, activationDelay: 60)
            #expect(rotated.generation == 2)
            try await store.refresh(ring)
            #expect(ring.signing == first, "nothing signs with the new key before every node can know it")
            #expect(ring.snapshot.verifying.map(\.generation) == [1, 2])
            #expect(ring.snapshot.version > versionBefore)

            clock.advance(by: 61)
            try await store.refresh(ring)
            #expect(ring.signing.generation == 2)
            #expect(ring.signing.secret != first.secret)
            #expect(ring.snapshot.verifying.map(\.generation) == [2, 1])

            clock.advance(by: 3600)
            try await store.refresh(ring)
            #expect(ring.snapshot.verifying.map(\.generation) == [2])
            let generations = try await store.generations()
            #expect(generations.map(\.generation) == [2, 1])
            #expect(generations[0].retiresAt == nil)
            #expect(generations[1].retiresAt != nil)

            // A refresh that finds nothing new leaves the version alone: derived keys stay cached.
            let settled = ring.snapshot.version
            try await store.refresh(ring)
            #expect(ring.snapshot.version == settled)
        }
    }

    @Test func derivedKeysFollowTheRingAndPutTheSigningOneFirst() {
        let ring = SigningKeys(signing: .init(generation: 1, secret: [1]))
        let derived = DerivedSigningKeys(ring) { key in key.generation * 10 }
        #expect(derived.signing == 10)
        ring.replace(signing: .init(generation: 1, secret: [1]), alsoAccepted: [.init(generation: 2, secret: [2])])
        #expect(derived.verifying == [10, 20])
        ring.replace(signing: .init(generation: 2, secret: [2]), alsoAccepted: [.init(generation: 1, secret: [1])])
        #expect(derived.current.signing == 20)
        #expect(derived.verifying == [20, 10])
    }
}
