/// Something that happened in one bounded context that others may react to.
///
/// Events are facts in the past tense (`reservation.held`), named `<aggregate>.<verb>`, and
/// carry the IDs of what they concern, never references to another context's objects.
/// They are written to the outbox in the same transaction as the state change they describe.
public protocol DomainEvent: Codable, Sendable {
    /// Stable wire name, e.g. `reservation.expired`. Never rename one that has shipped.
    static var eventType: String { get }
    /// The kind of aggregate the event is about, e.g. `hold`.
    static var aggregateType: String { get }
    /// The aggregate instance; events of one aggregate are delivered in the order written.
    var aggregateID: String { get }
}
