import Foundation

/// One page of a list endpoint: `{ "items": [...], "nextCursor": "…" | null }`.
public struct Page<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    private enum CodingKeys: String, CodingKey { case items, nextCursor }

    // Always write `nextCursor`, as `null` on the last page, so clients can test for it.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

/// Opaque pagination cursors: a position encoded as URL-safe base64 JSON, so clients cannot
/// depend on its shape and the server can change it.
public enum Cursor {
    public static func encode(_ position: some Encodable) -> String {
        Secrets.base64URL((try? JSONEncoder().encode(position)) ?? Data())
    }

    /// Decodes a cursor made by `encode`. A cursor names a page this server handed out; one it
    /// never made names no page: a 404 problem, and the client starts again without it.
    public static func decode<Position: Decodable>(_ cursor: String, as type: Position.Type) throws -> Position {
        guard let data = Secrets.data(base64URL: cursor), let position = try? JSONDecoder().decode(type, from: data) else {
            throw Problem(
                type: Problem.typeURI("cursor-not-found"), title: "No such page.", status: 404,
                detail: "The cursor is not one this server issued; list again without it.",
                errors: [.init(field: "cursor", message: "is not one this server issued")])
        }
        return position
    }
}

/// Which page of a list a client asked for: at most `limit` items after `cursor`.
public struct PageRequest: Sendable, Equatable {
    public static let defaultLimit = 20
    public static let maximumLimit = 100

    public var limit: Int
    public var cursor: String?

    public init(limit: Int = PageRequest.defaultLimit, cursor: String? = nil) {
        self.limit = limit
        self.cursor = cursor
    }
}

extension Page {
    /// A page from rows fetched with `LIMIT request.limit + 1`: the extra row only says that
    /// more follow, and the cursor points after the last row kept.
    public init(rows: [Item], request: PageRequest, cursorOf: (Item) -> String) {
        let kept = Array(rows.prefix(request.limit))
        self.init(items: kept, nextCursor: rows.count > request.limit ? kept.last.map(cursorOf) : nil)
    }
}
