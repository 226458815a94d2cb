import NIOCore

/// One reply from Redis, in RESP3's types (RESP2 replies are the subset without maps, sets,
/// doubles, booleans and the explicit null).
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    /// `-ERR …` or a bulk error: kept as a value so a reply inside a transaction or a script
    /// result can carry one; `RedisClient.send` turns a top-level one into `RedisError.server`.
    case error(String)
    case integer(Int64)
    case bulkString([UInt8])
    case array([RESPValue])
    /// RESP3's `_`, and RESP2's null bulk string and null array.
    case null
    case double(Double)
    case boolean(Bool)
    case bigNumber(String)
    case map([RESPValue], [RESPValue])
    case set([RESPValue])
    /// An out-of-band message (RESP3 `>`), e.g. a keyspace notification.
    case push([RESPValue])

    /// The text of a simple, bulk, verbatim or big-number reply; nil for other kinds.
    public var string: String? {
        switch self {
        case .simpleString(let text), .bigNumber(let text): text
        case .bulkString(let bytes): String(decoding: bytes, as: UTF8.self)
        case .integer(let value): String(value)
        default: nil
        }
    }

    /// An integer reply, or a string reply that spells one.
    public var int: Int? {
        switch self {
        case .integer(let value): Int(value)
        case .simpleString, .bulkString, .bigNumber: string.flatMap { Int($0) }
        default: nil
        }
    }

    /// An array, set or push reply's elements; nil for other kinds (and for null).
    public var array: [RESPValue]? {
        switch self {
        case .array(let values), .set(let values), .push(let values): values
        default: nil
        }
    }

    /// A map reply as key/value pairs, or a RESP2 flat array read two at a time.
    public var pairs: [(RESPValue, RESPValue)]? {
        switch self {
        case .map(let keys, let values): Array(zip(keys, values))
        case .array(let values) where values.count.isMultiple(of: 2):
            stride(from: 0, to: values.count, by: 2).map { (values[$0], values[$0 + 1]) }
        default: nil
        }
    }

    public var isNull: Bool { self == .null }
}

/// Reads RESP2 and RESP3 replies incrementally: a reply split over several reads is only
/// consumed once it is complete.
struct RESPParser {
    enum ParseError: Error, Equatable {
        case unknownType(UInt8)
        case malformed(String)
    }

    /// How deep nested aggregates may go before the input is refused as hostile or corrupt.
    static let maximumDepth = 64

    /// Parses one whole reply from the front of `buffer` and consumes it; nil (consuming nothing)
    /// when the buffer does not yet hold a whole reply.
    static func parse(_ buffer: inout ByteBuffer) throws -> RESPValue? {
        var view = buffer
        guard let value = try parseValue(&view, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: view.readerIndex)
        return value
    }

    private static func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard depth < maximumDepth else { throw ParseError.malformed("replies nested too deeply") }
        guard let type = buffer.readInteger(as: UInt8.self) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return try readLine(&buffer).map(RESPValue.simpleString)
        case UInt8(ascii: "-"):
            return try readLine(&buffer).map(RESPValue.error)
        case UInt8(ascii: ":"):
            guard let line = try readLine(&buffer) else { return nil }
            guard let value = Int64(line) else { throw ParseError.malformed("integer '\(line)'") }
            return .integer(value)
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            guard let length = try readLength(&buffer) else { return nil }
            if length < 0 { return .null }
            guard buffer.readableBytes >= length + 2, let bytes = buffer.readBytes(length: length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 2)
            switch type {
            case UInt8(ascii: "!"): return .error(String(decoding: bytes, as: UTF8.self))
            // A verbatim string starts with its format, e.g. "txt:".
            case UInt8(ascii: "="): return .bulkString(Array(bytes.dropFirst(min(4, bytes.count))))
            default: return .bulkString(bytes)
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            guard let count = try readLength(&buffer) else { return nil }
            if count < 0 { return .null }
            var values: [RESPValue] = []
            values.reserveCapacity(min(count, 1024))
            for _ in 0..<count {
                guard let value = try parseValue(&buffer, depth: depth + 1) else { return nil }
                values.append(value)
            }
            switch type {
            case UInt8(ascii: "~"): return .set(values)
            case UInt8(ascii: ">"): return .push(values)
            default: return .array(values)
            }
        case UInt8(ascii: "%"), UInt8(ascii: "|"):
            guard let count = try readLength(&buffer) else { return nil }
            var keys: [RESPValue] = []
            var values: [RESPValue] = []
            for _ in 0..<max(0, count) {
                guard let key = try parseValue(&buffer, depth: depth + 1), let value = try parseValue(&buffer, depth: depth + 1)
                else { return nil }
                keys.append(key)
                values.append(value)
            }
            if type == UInt8(ascii: "|") {
                // Attributes describe the reply that follows; nothing here uses them.
                return try parseValue(&buffer, depth: depth)
            }
            return .map(keys, values)
        case UInt8(ascii: "_"):
            guard try readLine(&buffer) != nil else { return nil }
            return .null
        case UInt8(ascii: "#"):
            guard let line = try readLine(&buffer) else { return nil }
            return .boolean(line == "t")
        case UInt8(ascii: ","):
            guard let line = try readLine(&buffer) else { return nil }
            switch line {
            case "inf": return .double(.infinity)
            case "-inf": return .double(-.infinity)
            case "nan": return .double(.nan)
            default:
                guard let value = Double(line) else { throw ParseError.malformed("double '\(line)'") }
                return .double(value)
            }
        case UInt8(ascii: "("):
            return try readLine(&buffer).map(RESPValue.bigNumber)
        default:
            throw ParseError.unknownType(type)
        }
    }

    private static func readLength(_ buffer: inout ByteBuffer) throws -> Int? {
        guard let line = try readLine(&buffer) else { return nil }
        guard let length = Int(line), length >= -1, length <= 512 * 1024 * 1024 else {
            throw ParseError.malformed("length '\(line)'")
        }
        return length
    }

    /// The text up to the next CRLF, consuming both; nil when no CRLF has arrived yet.
    private static func readLine(_ buffer: inout ByteBuffer) throws -> String? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")) else {
            if view.count > 64 * 1024 { throw ParseError.malformed("a line longer than 64 KiB") }
            return nil
        }
        guard view.index(after: cr) < view.endIndex else { return nil }
        guard view[view.index(after: cr)] == UInt8(ascii: "\n") else { throw ParseError.malformed("CR without LF") }
        let length = cr - view.startIndex
        let line = buffer.readString(length: length) ?? ""
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }
}

/// Writes a command as RESP: an array of bulk strings.
enum RESPEncoder {
    static func encode(_ command: RedisCommand, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("*")
        buffer.writeString(String(command.arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in command.arguments {
            buffer.writeStaticString("$")
            buffer.writeString(String(argument.count))
            buffer.writeStaticString("\r\n")
            buffer.writeBytes(argument)
            buffer.writeStaticString("\r\n")
        }
    }
}
