import Catalog
import Identity
import Reservations

/// Answers inventory's questions about seat maps from the catalog: the one place the two
/// contexts meet directly, in the composition root.
struct CatalogSeatMaps: SeatMapSource {
    let catalog: CatalogService

    func seats(venueID: String) async throws -> [InventorySeat] {
        try await catalog.seatMap(venueID: venueID).map {
            InventorySeat(id: $0.id, label: $0.label, section: $0.section, row: $0.row, x: $0.x, y: $0.y, tier: $0.tier)
        }
    }
}

/// Answers ticket transfers' "whose account is this email?" from identity.
struct IdentityRecipients: RecipientDirectory {
    let identity: IdentityService

    func userID(forEmail email: String) async throws -> String? {
        try await identity.userID(forEmail: email)
    }
}
