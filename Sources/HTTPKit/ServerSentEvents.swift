import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

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

    public static func response(
        interval: Duration, lifetime: Duration = .seconds(300), next: @escaping @Sendable () async throws -> Message
    ) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: ResponseBody { writer in
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
