import Foundation
import Instrumentation
import ServiceContextModule
import Tracing

/// Events carry the trace of the request that caused them, so that what the consumers do with
/// an event (on this node, or on another through Redis Streams) joins the request's trace.
///
/// The W3C `traceparent` travels in the event's stored payload as its first field,
/// `_traceparent`: every writer of outbox rows (prepared statements and server-side functions
/// included) stores the payload as given, and every consumer decodes only the fields it reads.
/// Without a tracer, or outside a traced request, payloads are left exactly as they were.
enum EventTrace {
    private static let opening = #"{"_traceparent":""#

    /// `payload` (a JSON object) stamped with the current trace context, if there is one.
    static func stamp(_ payload: String) -> String {
        guard let context = ServiceContext.current else { return payload }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: HeaderInjector())
        // traceparent is hex digits and dashes: nothing to escape in JSON.
        guard let parent = carrier["traceparent"], parent.allSatisfy({ $0.isHexDigit || $0 == "-" }), payload.hasPrefix("{") else {
            return payload
        }
        let rest = payload.dropFirst()
        return opening + parent + "\"" + (rest.hasPrefix("}") ? "" : ",") + rest
    }

    /// The trace context `event` was published in, if it carries one.
    static func context(of event: EventEnvelope) -> ServiceContext? {
        let prefix = Array(opening.utf8)
        guard event.payload.starts(with: prefix) else { return nil }
        let value = event.payload.dropFirst(prefix.count).prefix { $0 != UInt8(ascii: "\"") }
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(
            ["traceparent": String(decoding: value, as: UTF8.self)], into: &context, using: HeaderExtractor())
        return context
    }

    private struct HeaderInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    private struct HeaderExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }
}

extension SubscriberDelivery {
    /// Runs `deliver` inside a consumer span for each traced event of `events`, each a child
    /// of the request that published it; the database work shows under the first one's.
    /// The spans of the events the subscriber failed on record the failure.
    func traced(
        _ events: [EventEnvelope], to subscriber: any EventSubscriber,
        _ deliver: () async throws -> [(event: EventEnvelope, failure: SubscriberFailure)]
    ) async throws -> [(event: EventEnvelope, failure: SubscriberFailure)] {
        let traced = events.compactMap { event in EventTrace.context(of: event).map { (event, $0) } }
        guard !traced.isEmpty else { return try await deliver() }
        let tracer = InstrumentationSystem.tracer
        let spans = traced.map { event, context in
            let span = tracer.startSpan("handle \(event.type)", context: context, ofKind: .consumer)
            span.attributes["messaging.destination.name"] = EventTopics.topic(for: event.type)
            span.attributes["messaging.consumer.group.name"] = subscriber.name
            span.attributes["messaging.message.id"] = event.id
            return (event.id, span)
        }
        do {
            let failures = try await ServiceContext.withValue(spans[0].1.context) { try await deliver() }
            for (event, failure) in failures {
                if let span = spans.first(where: { $0.0 == event.id })?.1 {
                    span.recordError(failure.underlying)
                    span.setStatus(.init(code: .error))
                }
            }
            for (_, span) in spans { span.end() }
            return failures
        } catch {
            for (_, span) in spans {
                span.recordError(error)
                span.setStatus(.init(code: .error))
                span.end()
            }
            throw error
        }
    }
}
