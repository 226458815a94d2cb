import BoxofficeKit
import Synchronization
import Catalog
import Checkout
import Commerce
import Fulfilment
import Identity
import Reservations
import WaitingRoom

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

    func userID(forEmail email: String, askedBy: String) async throws -> String? {
        try await identity.recipient(forEmail: email, askedBy: askedBy)
    }
}

/// Answers sales' and mail's "how do we reach this fan?" from identity.
struct IdentityFans: FanDirectory {
    let identity: IdentityService

    func contacts(of userIDs: [String]) async throws -> [String: FanContact] {
        try await identity.contacts(of: userIDs)
    }

    func userID(forEmail email: String) async throws -> String? {
        try await identity.userID(forEmail: email)
    }
}

/// Answers the waiting room's and sales' "who organizes this performance?" from the catalog.
struct CatalogOrganizers: PerformanceOrganizers, EventOrganizers {
    let catalog: CatalogService
    /// Reads drafts too: an organizer sets a queue up (or adds goods) before publishing.
    private let system = Principal(userID: "waiting-room", roles: [.admin])

    func organizer(ofEvent eventID: String) async throws -> String? {
        do {
            return try await catalog.event(id: eventID, viewer: system).organizerId
        } catch let problem as Problem where problem.status == 404 {
            return nil
        }
    }

    func organizer(ofPerformance performanceID: String) async throws -> String? {
        let performance: Performance
        do {
            performance = try await catalog.performance(id: performanceID, viewer: system)
        } catch let problem as Problem where problem.status == 404 {
            return nil
        }
        return try await catalog.event(id: performance.eventId, viewer: system).organizerId
    }
}

/// Answers the gate's "how much is left to buy?" from reservations' inventory.
struct ReservationStock: StockLevels {
    let reservations: ReservationService

    func availableUnits(performanceID: String) async throws -> Int {
        try await reservations.availableUnits(performanceID: performanceID)
    }
}

/// Asks identity's human check at join.
struct IdentityJoinVerifier: JoinVerifier {
    let identity: IdentityService

    func verify(_ proof: JoinProof?, clientAddress: String?) async throws {
        try await identity.verifyHuman(
            proof.map { HumanCheckProof(challenge: $0.challenge, nonce: $0.nonce, token: $0.token) }, clientAddress: clientAddress)
    }
}

/// Answers publishing's "are its sales open yet?" from reservations.
struct ReservationSalesOpening: SalesOpening {
    let reservations: ReservationService

    func areOpen(performanceIDs: [String]) async throws -> Bool {
        try await reservations.salesOpen(performanceIDs: performanceIDs)
    }
}

/// Answers the door's "may this person scan here?" from the catalog (whose performance, whose staff).
struct CatalogDoorAccess: DoorAccess {
    let catalog: CatalogService

    func mayScan(performanceID: String, by principal: Principal) async throws -> Bool {
        try await catalog.mayAdmit(performanceID: performanceID, principal: principal)
    }
}

/// The waiting room's admission check for services built before the waiting room (which
/// itself asks reservations what is left): set once at wiring; until then it refuses.
final class DeferredAdmission: ShopperAdmission {
    private let target = Mutex<(any ShopperAdmission)?>(nil)

    func use(_ admission: any ShopperAdmission) {
        target.withLock { $0 = admission }
    }

    func requireAdmission(performanceID: String, fanID: String, accessToken: String?, sessionMustBeRunning: Bool) async throws {
        guard let admission = target.withLock({ $0 }) else {
            throw Problem.serviceUnavailable(detail: "The server is starting; try again in a moment.")
        }
        try await admission.requireAdmission(
            performanceID: performanceID, fanID: fanID, accessToken: accessToken, sessionMustBeRunning: sessionMustBeRunning)
    }
}

/// Checkout's questions about delivery, answered from Fulfilment.
struct FulfilmentDeliveries: Deliveries {
    let fulfilment: FulfilmentService

    func isAddress(_ addressID: String, ofFan fanID: String) async throws -> Bool {
        try await fulfilment.address(id: addressID, fanID: fanID) != nil
    }

    func shipment(forOrder orderID: String) async throws -> OrderShipment? {
        guard let shipment = try await fulfilment.shipment(forOrder: orderID) else { return nil }
        let address = shipment.address
        return OrderShipment(
            id: shipment.id, status: shipment.status, orderIds: shipment.orderIds, carrier: shipment.carrier,
            trackingNumber: shipment.trackingNumber, recipient: address.recipient, postcode: address.postcode,
            address: [address.address1, address.address2].compactMap { $0 }.joined(separator: " "))
    }
}
