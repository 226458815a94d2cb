import BoxofficeKit
import Foundation

/// A domain event as stored in the outbox and handed to subscribers.
public struct EventEnvelope: Sendable, Equatable {
    /// Unique per event; subscribers deduplicate on it.
    public let id: String
    /// Wire name such as `reservation.held`.
    public let type: String
    public let aggregateType: String
    public let aggregateID: String
    public let occurredAt: Date
    /// The event's JSON encoding.
    public let payload: Data
    /// Outbox order; events of one aggregate are delivered in increasing position.
    public let position: Int64

    public init(
        id: String, type: String, aggregateType: String, aggregateID: String,
        occurredAt: Date, payload: Data, position: Int64
    ) {
        self.id = id
        self.type = type
        self.aggregateType = aggregateType
        self.aggregateID = aggregateID
        self.occurredAt = occurredAt
        self.payload = payload
        self.position = position
    }

    /// Decodes the payload as a consumer's own view of the event (only the fields it reads),
    /// in the events' JSON dialect. Contexts decode each other's events this way.
    public func decodePayload<Payload: Decodable>(as _: Payload.Type) throws -> Payload {
        try EventCoding.decoder.decode(Payload.self, from: payload)
    }

    /// Decodes the payload as `Event`; throws when the type does not match.
    public func decode<Event: DomainEvent>(as _: Event.Type) throws -> Event {
        guard type == Event.eventType else {
            throw EventDecodingError(expected: Event.eventType, actual: type)
        }
        return try EventCoding.decoder.decode(Event.self, from: payload)
    }
}

public struct EventDecodingError: Error, CustomStringConvertible {
    public let expected: String
    public let actual: String
    public var description: String { "expected a \(expected) event, got \(actual)" }
}

/// One JSON dialect for every event: sorted keys and ISO 8601 times, so payloads are stable.
enum EventCoding {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
