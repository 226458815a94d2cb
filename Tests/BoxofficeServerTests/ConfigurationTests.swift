import BoxofficeServer
import Foundation
import Persistence
import Testing

@Suite struct ConfigurationTests {
    @Test func flagsWinOverTheEnvironmentWhichWinsOverDefaults() throws {
        let configuration = try ServerConfiguration.resolve(
            flags: [.port: "9001"],
            environment: ["BOXOFFICE_PORT": "9002", "BOXOFFICE_HOST": "0.0.0.0", "BOXOFFICE_DRAIN_SECONDS": "0.5"])
        #expect(configuration.port == 9001)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.drainSeconds == 0.5)
        #expect(configuration.logLevel == .info)
        #expect(configuration.database == .sqlite(.init(path: ".boxoffice/boxoffice.sqlite")))
    }

    @Test func theDataDirectoryMovesTheDefaultDatabase() throws {
        let configuration = try ServerConfiguration.resolve(flags: [.dataDirectory: "/var/lib/boxoffice"], environment: [:])
        #expect(configuration.database == .sqlite(.init(path: "/var/lib/boxoffice/boxoffice.sqlite")))
    }

    @Test func thePoolSizeAppliesToPostgres() throws {
        let configuration = try ServerConfiguration.resolve(
            flags: [:],
            environment: ["BOXOFFICE_DATABASE_URL": "postgres://app@db/boxoffice", "BOXOFFICE_DATABASE_POOL_SIZE": "24"])
        guard case .postgres(let settings) = configuration.database else {
            Issue.record("expected postgres")
            return
        }
        #expect(settings.maximumConnections == 24)
    }

    @Test func anErrorNamesTheEnvironmentVariableItCameFrom() {
        #expect(throws: ConfigurationError(origin: "BOXOFFICE_SHUTDOWN_TIMEOUT", problem: "'soon' is not a number of seconds (0.1-600.0)")) {
            try ServerConfiguration.resolve(flags: [:], environment: ["BOXOFFICE_SHUTDOWN_TIMEOUT": "soon"])
        }
    }

    @Test func theReadmeConfigurationTableListsEverySetting() throws {
        let readme = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        for setting in Setting.allCases {
            #expect(text.contains("| `\(setting.flag)` | `\(setting.environmentVariable)` |"), "README lacks \(setting.flag)")
        }
    }
}
