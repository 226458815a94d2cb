import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes each log record as one JSON object on one line:
/// `{"ts":"…","level":"info","msg":"request","logger":"boxoffice","request_id":"…",…}`.
///
/// Metadata keys become top-level members (the standard ones win on a clash), so log pipelines
/// can index `request_id`, `status` and `route` without parsing messages. This is on the path of
/// every request (the access log), so it encodes straight into bytes instead of going through
/// Foundation's JSONSerialization and date formatters, which cost most of a request's time.
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

    private static let standardKeys: Set<String> = ["ts", "level", "msg", "logger", "source"]

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }

        var line = JSONLineWriter()
        line.key("ts")
        line.timestamp()
        line.key("level")
        line.string(event.level.rawValue)
        line.key("msg")
        line.string(event.message.description)
        line.key("logger")
        line.string(label)
        if event.level >= .error {
            line.key("source")
            line.string("\(event.file):\(event.line)")
        }
        for key in merged.keys.sorted() where !Self.standardKeys.contains(key) {
            line.key(key)
            line.value(merged[key]!)  // the key comes from the dictionary itself
        }
        output.write(line.finish(), flushNow: event.level >= .warning)
    }
}

/// Builds one JSON object as UTF-8 bytes.
struct JSONLineWriter {
    private(set) var bytes: [UInt8] = []
    private var needsComma = false

    init() {
        bytes.reserveCapacity(384)
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func key(_ key: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        string(key)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func value(_ metadataValue: Logger.Metadata.Value) {
        switch metadataValue {
        case .string(let text):
            string(text)
        case .stringConvertible(let convertible):
            switch convertible {
            case let number as Int: bytes.append(contentsOf: String(number).utf8)
            case let number as Double where number.isFinite: bytes.append(contentsOf: String(number).utf8)
            case let flag as Bool: bytes.append(contentsOf: (flag ? "true" : "false").utf8)
            default: string(convertible.description)
            }
        case .array(let values):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                value(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .dictionary(let dictionary):
            var nested = JSONLineWriter()
            for key in dictionary.keys.sorted() {
                nested.key(key)
                nested.value(dictionary[key]!)  // the key comes from the dictionary itself
            }
            nested.bytes.append(UInt8(ascii: "}"))
            bytes.append(contentsOf: nested.bytes)
        }
    }

    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// The current time as `"2026-11-21T09:42:01.204Z"`. The calendar date is worked out from
    /// the day number (Howard Hinnant's civil-from-days) rather than with libc's `timespec` and
    /// `tm`, whose fields Swift may attribute to another module from one build to the next.
    mutating func timestamp() {
        let milliseconds = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = milliseconds / 1000
        let days = seconds / 86_400, secondOfDay = Int(seconds % 86_400)
        let shifted = days + 719_468
        let era = shifted / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        let year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        bytes.append(UInt8(ascii: "\""))
        digits(year, 4)
        bytes.append(UInt8(ascii: "-"))
        digits(month, 2)
        bytes.append(UInt8(ascii: "-"))
        digits(day, 2)
        bytes.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2)
        bytes.append(UInt8(ascii: "."))
        digits(Int(milliseconds % 1000), 3)
        bytes.append(contentsOf: [UInt8(ascii: "Z"), UInt8(ascii: "\"")])
    }

    mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}

/// Where log lines go, buffered: lines are collected and written in batches, when 64 KiB have
/// gathered, every 50 ms, at once for warnings and errors, and on `flush()` at exit. One write
/// per batch instead of one per line keeps logging from serializing the event loops on a lock
/// around a system call.
public final class LogOutput: Sendable {
    private let descriptor: Int32
    private let pending = Mutex<[UInt8]>([])
    /// Held while writing, so batches reach the file in the order they were taken.
    private let writing = Mutex<Void>(())
    private static let batchBytes = 64 * 1024

    public init(descriptor: Int32) {
        self.descriptor = descriptor
        let flushEvery: TimeInterval = 0.05
        // The flusher holds the output only weakly, so an output that is dropped stops it.
        Thread.detachNewThread { [weak self] in
            while Self.flush(self) {
                Thread.sleep(forTimeInterval: flushEvery)
            }
        }
    }

    public static let standardOutput = LogOutput(descriptor: STDOUT_FILENO)

    func write(_ line: [UInt8], flushNow: Bool) {
        let full = pending.withLock { buffer in
            buffer.append(contentsOf: line)
            return buffer.count >= Self.batchBytes
        }
        if full || flushNow { flush() }
    }

    private static func flush(_ output: LogOutput?) -> Bool {
        guard let output else { return false }
        output.flush()
        return true
    }

    /// Writes everything collected so far.
    public func flush() {
        writing.withLock { _ in
            let batch = pending.withLock { buffer in
                defer { buffer.removeAll(keepingCapacity: true) }
                return buffer
            }
            var offset = 0
            batch.withUnsafeBytes { raw in
                while offset < raw.count {
                    let written = systemWrite(descriptor, raw.baseAddress! + offset, raw.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0, errno == EINTR {
                        continue
                    } else {
                        return  // nowhere to log a logging failure; drop the batch
                    }
                }
            }
        }
    }
}

private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, bytes, count)
    #else
    Darwin.write(descriptor, bytes, count)
    #endif
}
