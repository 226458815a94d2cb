import Synchronization

/// The platform's signing secrets, shared by every node: the newest active one signs, and every
/// one still within its overlap verifies, so a rotation never logs anyone out.
///
/// Each context derives keys of its own from these (access tokens, ticket codes, queue tickets,
/// the human check…), never using a secret directly. The composition root fills the ring from
/// the database and refreshes it; a configured secret makes a ring of one key that never changes.
public final class SigningKeys: Sendable {
    public struct Key: Sendable, Equatable {
        /// Increases by one at each rotation; 0 for a configured secret.
        public let generation: Int
        public let secret: [UInt8]

        public init(generation: Int, secret: [UInt8]) {
            self.generation = generation
            self.secret = secret
        }

        /// What names the key in what it signed (a JWT's `kid`), never the secret.
        public var id: String { "g\(generation)" }
    }

    /// What the ring held at one moment, read all at once.
    public struct Snapshot: Sendable {
        public let signing: Key
        /// The signing key first, then the others still accepted, newest first.
        public let verifying: [Key]
        /// Changes whenever the keys do, so derived keys can be cached until then.
        public let version: Int
    }

    private let state: Mutex<Snapshot>

    public init(signing: Key, alsoAccepted: [Key] = []) {
        state = Mutex(Snapshot(signing: signing, verifying: Self.ordered(signing, alsoAccepted), version: 0))
    }

    /// A ring of one configured secret.
    public convenience init(fixed secret: [UInt8]) {
        self.init(signing: Key(generation: 0, secret: secret))
    }

    public var snapshot: Snapshot { state.withLock { $0 } }
    public var signing: Key { snapshot.signing }

    /// Takes the keys as they now stand; the version moves only if something changed.
    public func replace(signing: Key, alsoAccepted: [Key]) {
        let verifying = Self.ordered(signing, alsoAccepted)
        state.withLock { current in
            guard current.signing != signing || current.verifying != verifying else { return }
            current = Snapshot(signing: signing, verifying: verifying, version: current.version + 1)
        }
    }

    private static func ordered(_ signing: Key, _ others: [Key]) -> [Key] {
        [signing] + others.filter { $0.generation != signing.generation }.sorted { $0.generation > $1.generation }
    }
}

/// What a context derives from the ring (an HMAC key per generation, say), worked out once per
/// change of the ring rather than on every request.
public final class DerivedSigningKeys<Value: Sendable>: Sendable {
    private let keys: SigningKeys
    private let derive: @Sendable (SigningKeys.Key) -> Value
    private let cache: Mutex<(version: Int, signing: Value, verifying: [Value])?> = Mutex(nil)

    public init(_ keys: SigningKeys, derive: @escaping @Sendable (SigningKeys.Key) -> Value) {
        self.keys = keys
        self.derive = derive
    }

    /// The derived key to sign with, and every one to accept (the signing one first).
    public var current: (signing: Value, verifying: [Value]) {
        let snapshot = keys.snapshot
        if let cached = cache.withLock({ $0 }), cached.version == snapshot.version { return (cached.signing, cached.verifying) }
        let verifying = snapshot.verifying.map(derive)
        cache.withLock { cached in
            if cached == nil || cached!.version <= snapshot.version { cached = (snapshot.version, verifying[0], verifying) }
        }
        return (verifying[0], verifying)
    }

    public var signing: Value { current.signing }
    public var verifying: [Value] { current.verifying }
}

/// The same for what takes an `async` step to build, such as a JWT key collection with every
/// accepted key under its own `kid`.
public final class AsyncDerivedSigningKeys<Value: Sendable>: Sendable {
    private let keys: SigningKeys
    private let build: @Sendable (SigningKeys.Snapshot) async -> Value
    private let cache: Mutex<(version: Int, value: Value)?> = Mutex(nil)

    public init(_ keys: SigningKeys, build: @escaping @Sendable (SigningKeys.Snapshot) async -> Value) {
        self.keys = keys
        self.build = build
    }

    public func value() async -> Value {
        let snapshot = keys.snapshot
        if let cached = cache.withLock({ $0 }), cached.version == snapshot.version { return cached.value }
        let value = await build(snapshot)
        cache.withLock { cached in
            // A slower build of an older ring must not replace a newer one.
            if cached == nil || cached!.version <= snapshot.version { cached = (snapshot.version, value) }
        }
        return value
    }
}
