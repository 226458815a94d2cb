import Persistence

extension IdentityService {
    /// The identity context's tables. Other contexts refer to users by ID only.
    public static let migrations = MigrationGroup(module: "identity", migrations: [
        Migration("0001_create_users", sql: [
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL,
                -- Lower-cased and trimmed: the uniqueness that matters to people.
                email_normalized TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                password_hash TEXT,
                -- Sorted, comma-separated role names.
                roles TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )
            """,
        ]),
        Migration("0002_create_refresh_tokens", sql: [
            """
            CREATE TABLE refresh_tokens (
                id TEXT PRIMARY KEY,
                -- Every token rotated from one sign-in shares a family; reuse revokes the family.
                family_id TEXT NOT NULL,
                user_id TEXT NOT NULL REFERENCES users (id),
                -- SHA-256 of the secret half; the token itself is never stored.
                secret_hash TEXT NOT NULL,
                issued_at TIMESTAMPTZ NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL,
                used_at TIMESTAMPTZ,
                revoked_at TIMESTAMPTZ
            )
            """,
            "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
            "CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id)",
        ]),
        Migration("0003_create_spent_challenges", sql: [
            // Proof-of-work challenges already used, kept until they would have expired anyway.
            "CREATE TABLE spent_challenges (id TEXT PRIMARY KEY, expires_at TIMESTAMPTZ NOT NULL)",
            "CREATE INDEX spent_challenges_expiry ON spent_challenges (expires_at)",
        ]),
        Migration("0004_create_remember_tokens", sql: [
            """
            CREATE TABLE remember_tokens (
                -- One series per "remember me" sign-in; its token rotates on every use.
                series TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id),
                token_hash TEXT NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL,
                last_used_at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX remember_tokens_user ON remember_tokens (user_id)",
        ]),
        Migration("0005_create_external_identities", sql: [
            """
            CREATE TABLE external_identities (
                provider TEXT NOT NULL,
                -- The provider's stable user ID (the ID token's sub).
                subject TEXT NOT NULL,
                user_id TEXT NOT NULL REFERENCES users (id),
                email TEXT,
                linked_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (provider, subject)
            )
            """,
            "CREATE INDEX external_identities_user ON external_identities (user_id)",
        ]),
        // The token a used refresh token was replaced by: a second use within the grace gets it again.
        Migration("0006_refresh_tokens_replaced_by", sql: [
            "ALTER TABLE refresh_tokens ADD COLUMN replaced_by TEXT",
        ]),
        // Cookie sessions remember the generation they began in; signing a user out everywhere
        // (a password change, a stolen remember-me cookie) moves it on.
        Migration("0007_users_session_generation", sql: [
            "ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0",
        ]),
        // The retention job removes refresh tokens long expired, oldest first.
        Migration("0008_index_refresh_tokens_by_expiry", sql: [
            "CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at)",
        ]),
        // When the owner of the address confirmed it; nil until then.
        Migration("0009_users_email_verified_at", sql: [
            "ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMPTZ",
        ]),
        // The language their mail is written in, from the pages they signed up on.
        Migration("0010_users_language", sql: [
            "ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT 'ko'",
        ]),
    ])
}
