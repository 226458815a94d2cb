import Foundation
import Logging
import Synchronization

/// Writes each log record as one JSON object on one line of standard output:
/// `{"ts":"…","level":"info","logger":"boxoffice","msg":"request","request_id":"…",…}`.
///
/// Metadata keys become top-level members (the standard ones win on a clash), so log
/// pipelines can index `request_id`, `status` and `route` without parsing messages.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: LogOutput

    public init(label: String, level: Logger.Level, output: LogOutput = .standardOutput) {
        self.label = label
        self.logLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var object: [String: Any] = [:]
        for (key, value) in merged { object[key] = Self.json(value) }
        object["ts"] = Self.timestamp(Date())
        object["level"] = event.level.rawValue
        object["logger"] = label
        object["msg"] = event.message.description
        if event.level >= .error { object["source"] = "\(event.file):\(event.line)" }
        guard var line = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return
        }
        line.append(UInt8(ascii: "\n"))
        output.write(line)
    }

    private static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible):
            switch convertible {
            case let number as Int: number
            case let number as Double: number
            case let flag as Bool: flag
            default: convertible.description
            }
        case .array(let values): values.map(json)
        case .dictionary(let dictionary): dictionary.mapValues(json)
        }
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// Where log lines go; one lock keeps lines from different threads from interleaving.
public final class LogOutput: Sendable {
    private let handle: FileHandle
    private let lock = Mutex<Void>(())

    public init(handle: FileHandle) {
        self.handle = handle
    }

    public static let standardOutput = LogOutput(handle: .standardOutput)

    func write(_ data: Data) {
        lock.withLock { _ in handle.write(data) }
    }
}
