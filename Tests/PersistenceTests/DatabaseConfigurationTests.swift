import Persistence
import Testing

@Suite struct DatabaseConfigurationTests {
    @Test func aPostgresURLGivesEverySetting() throws {
        let configuration = try DatabaseConfiguration(url: "postgresql://app:s3cret@db.internal:6543/boxoffice?sslmode=require&pool_max=24&background_pool_max=3")
        guard case .postgres(let settings) = configuration else {
            Issue.record("expected postgres, got \(configuration)")
            return
        }
        #expect(settings.host == "db.internal")
        #expect(settings.port == 6543)
        #expect(settings.username == "app")
        #expect(settings.password == "s3cret")
        #expect(settings.database == "boxoffice")
        #expect(settings.tls == .require)
        #expect(settings.maximumConnections == 24)
        #expect(settings.backgroundConnections == 3)
        #expect(configuration.redactedDescription == "postgres://app:***@db.internal:6543/boxoffice")
    }

    @Test func tlsIsRequiredOffThisMachineUnlessTheURLSaysOtherwise() throws {
        func tls(_ url: String) throws -> DatabaseConfiguration.PostgresSettings.TLSMode? {
            guard case .postgres(let settings) = try DatabaseConfiguration(url: url) else { return nil }
            return settings.tls
        }
        #expect(try tls("postgres://app@db.internal/boxoffice") == .require)
        #expect(try tls("postgres://app@10.0.0.5/boxoffice") == .require)
        #expect(try tls("postgres://app@127.0.0.1/boxoffice") == .prefer)
        #expect(try tls("postgres://app@localhost/boxoffice") == .prefer)
        #expect(try tls("postgres://app@db.internal/boxoffice?sslmode=disable") == .disable, "an explicit choice wins")
    }

    @Test func sqliteURLsAndBarePathsNameAFile() throws {
        #expect(try DatabaseConfiguration(url: "sqlite:./.boxoffice/boxoffice.sqlite") == .sqlite(.init(path: "./.boxoffice/boxoffice.sqlite")))
        #expect(try DatabaseConfiguration(url: "sqlite:///var/lib/bo.sqlite") == .sqlite(.init(path: "/var/lib/bo.sqlite")))
        #expect(try DatabaseConfiguration(url: "data/bo.db") == .sqlite(.init(path: "data/bo.db")))
    }

    @Test(arguments: [
        ("mysql://root@localhost/db", "expected postgres://"),
        ("postgres://localhost/db", "names no user"),
        ("postgres://app@localhost", "names no database"),
        ("postgres://app@localhost/db?sslmode=maybe", "sslmode"),
        ("postgres://app@localhost/db?pool_max=0", "pool_max"),
        ("postgres://app@localhost/db?background_pool_max=many", "background_pool_max"),
        ("postgres://app@localhost/db?colour=blue", "unknown URL parameter"),
        ("sqlite:", "needs a file path"),
        ("sqlite::memory:", "in-memory"),
    ])
    func unusableURLsAreRejectedWithTheReason(url: String, reason: String) {
        #expect {
            try DatabaseConfiguration(url: url)
        } throws: { error in
            (error as? DatabaseURLError)?.reason.contains(reason) == true
        }
    }
}
