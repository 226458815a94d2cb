import BoxofficeKit
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// A `text/event-stream` response that sends what `next` returns every `interval`, until
/// `next` says it is the last, `lifetime` has passed (clients reconnect), or the client leaves.
public enum ServerSentEvents {
    public struct Message: Sendable {
        public var event: String
        public var data: Data
        /// Send this one, then end the stream.
        public var isLast: Bool

        public init(event: String, data: Data, isLast: Bool = false) {
            self.event = event
            self.data = data
            self.isLast = isLast
        }
    }

    /// How many streams are open, per holder and on this node, against their limits: each
    /// stream holds a connection and a task for minutes, so one user (or a script with one
    /// ticket) cannot open hundreds, and the node refuses before it runs out.
    public final class Limits: Sendable {
        public let perHolder: Int
        public let total: Int
        private let open = Mutex<(byHolder: [String: Int], total: Int)>(([:], 0))

        public init(perHolder: Int, total: Int) {
            self.perHolder = perHolder
            self.total = total
        }

        /// Every node's streams: a few per holder, ten thousand in all.
        public static let shared = Limits(perHolder: 4, total: 10_000)

        func acquire(_ holder: String) throws {
            let refusal: Problem? = open.withLock { open in
                if open.total >= total {
                    return Problem.serviceUnavailable(detail: "Too many live updates are open on this server; poll instead, or try again shortly.")
                }
                if open.byHolder[holder, default: 0] >= perHolder {
                    return Problem(
                        type: Problem.typeURI("too-many-streams"), title: "Too many live updates open.", status: 429,
                        detail: "Close another tab's live view first (at most \(perHolder) at once).", extensions: ["retryAfter": .int(5)])
                }
                open.byHolder[holder, default: 0] += 1
                open.total += 1
                return nil
            }
            if let refusal { throw refusal }
        }

        func release(_ holder: String) {
            open.withLock { open in
                open.total -= 1
                let left = open.byHolder[holder, default: 1] - 1
                open.byHolder[holder] = left > 0 ? left : nil
            }
        }

        /// Streams open now for `holder` (tests).
        public func count(for holder: String) -> Int { open.withLock { $0.byHolder[holder] ?? 0 } }
    }

    /// The stream for `holder` (a user, a queue ticket), within `limits`: a 429 problem when the
    /// holder has too many open, a 503 when the node does.
    public static func response(
        holder: String, limits: Limits = .shared, interval: Duration, lifetime: Duration = .seconds(300),
        next: @escaping @Sendable () async throws -> Message
    ) throws -> Response {
        try limits.acquire(holder)
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: ResponseBody { writer in
                defer { limits.release(holder) }
                let deadline = ContinuousClock.now + lifetime
                // Tells an EventSource how soon to reconnect after the stream ends.
                try await writer.write(ByteBuffer(string: "retry: \(Int(interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000))\n\n"))
                while ContinuousClock.now < deadline, !Task.isCancelled {
                    let message = try await next()
                    var frame = "event: \(message.event)\n"
                    for line in String(decoding: message.data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
                        frame += "data: \(line)\n"
                    }
                    try await writer.write(ByteBuffer(string: frame + "\n"))
                    if message.isLast { break }
                    try await Task.sleep(for: interval)
                }
                try await writer.finish(nil)
            })
    }

    /// Whether the client asked for an event stream.
    public static func isRequested(by request: Request) -> Bool {
        request.headers[.accept]?.contains("text/event-stream") == true
    }
}
