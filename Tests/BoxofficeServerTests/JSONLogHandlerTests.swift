@testable import BoxofficeServer
import Foundation
import Logging
import Testing

@Suite struct JSONLogHandlerTests {
    /// Logs through a handler writing to a temporary file and returns the parsed lines.
    private func logged(_ body: (Logger) -> Void) throws -> [[String: Any]] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(descriptor >= 0)
        let output = LogOutput(descriptor: descriptor)
        let logger = Logger(label: "boxoffice") { label in JSONLogHandler(label: label, level: .info, output: output) }
        body(logger)
        output.flush()
        close(descriptor)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    @Test func eachRecordIsOneJSONObjectWithMetadataAtTheTopLevel() throws {
        let lines = try logged { logger in
            var logger = logger
            logger[metadataKey: "request_id"] = "req-1"
            logger.info("request", metadata: ["status": .stringConvertible(201), "duration_ms": .stringConvertible(1.5),
                                              "route": "/v1/holds/:holdId", "tags": ["a", "b"], "nested": ["k": "v"]])
            logger.debug("not at this level")
        }
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line["msg"] as? String == "request")
        #expect(line["level"] as? String == "info")
        #expect(line["logger"] as? String == "boxoffice")
        #expect(line["request_id"] as? String == "req-1")
        #expect(line["status"] as? Int == 201)
        #expect(line["duration_ms"] as? Double == 1.5)
        #expect(line["route"] as? String == "/v1/holds/:holdId")
        #expect(line["tags"] as? [String] == ["a", "b"])
        #expect((line["nested"] as? [String: String]) == ["k": "v"])
        let timestamp = try #require(line["ts"] as? String)
        #expect(timestamp.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil)
        // The date is worked out by hand: it must be the clock's, to the second.
        let parsed = try #require(try? Date(timestamp, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        #expect(abs(parsed.timeIntervalSinceNow) < 5, "\(timestamp)")
        #expect(line["source"] == nil)
    }

    @Test func quotesControlCharactersAndUnicodeSurviveTheRoundTrip() throws {
        let message = "say \"hi\"\\ \n\ttab \u{1} 좌석 🎫"
        let lines = try logged { $0.warning("\(message)", metadata: ["msg": "cannot replace the message"]) }
        #expect(lines.first?["msg"] as? String == message)
    }

    @Test func errorsNameTheirSourceLocation() throws {
        let lines = try logged { $0.error("broken") }
        #expect((lines.first?["source"] as? String)?.contains("JSONLogHandlerTests.swift:") == true)
    }
}
