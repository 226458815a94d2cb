/// Which stream an event goes to: one topic per context, named after the first part of the
/// event type (`reservation.held` → `reservation.events`), with a few types filed under the
/// context that owns them.
public enum EventTopics {
    private static let owners: [String: String] = [
        "ticket": "reservation", "refund": "payment", "wallet": "payment",
        "event": "catalog", "performance": "catalog", "user": "identity",
        "product": "commerce", "goods": "commerce", "shipment": "fulfilment",
    ]

    public static func topic(for eventType: String) -> String {
        let prefix = String(eventType.prefix { $0 != "." })
        return "\(owners[prefix] ?? prefix).events"
    }

    /// The topics a subscriber must read to see every type it wants, sorted.
    public static func topics(for eventTypes: Set<String>) -> [String] {
        Set(eventTypes.map(topic(for:))).sorted()
    }
}
