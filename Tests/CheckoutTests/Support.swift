import BoxofficeKit
import BoxofficeServer
import Foundation
import HTTPKit
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SQLKit
import TestSupport
import Testing

/// Money helpers over an on-sale performance: wallet grants, checkouts and database sums.
extension OnSale {
    func admin() async throws -> String {
        try await OnSale.token(platform, userID: "admin", roles: [.admin])
    }

    func grant(_ amount: Int, to userID: String) async throws {
        let reply = try await call(
            .post, "/v1/admin/wallets/\(userID)/grants", fan: try await admin(), body: ["amount": amount, "reason": "test top-up"],
            headers: OnSale.idempotencyKey())
        #expect(reply.status == 201, "grant: \(reply.rawBody)")
    }

    func balance(_ fan: String) async throws -> Int {
        try #require(try await call(.get, "/v1/wallet", fan: fan).json["balance"] as? [String: Any])["amount"] as? Int ?? -1
    }

    func checkout(hold holdID: String, fan: String, key: String = UUID().uuidString, method: String = "wallet") async throws -> Reply {
        try await call(
            .post, "/v1/checkout", fan: fan, body: ["holdId": holdID, "method": method], headers: [HTTPField.Name("Idempotency-Key")!: key])
    }

    /// Holds `seats` for the fan and returns the hold's ID.
    func holdID(_ seats: [String], fan: String) async throws -> String {
        let reply = try await hold(["seatIds": seats], fan: fan)
        #expect(reply.status == 201, "hold: \(reply.rawBody)")
        return try #require(reply.json["id"] as? String)
    }

    func sum(_ query: SQLQueryString) async throws -> Int {
        try await platform.database.read { sql in try await sql.raw(query).first()?.decode(column: "n", as: Int?.self) ?? 0 }
    }

    /// Each seat's state in `table` (the reservations' `performance_seats`, or the seat map's
    /// `availability_seats`), by seat.
    func seatStates(in table: String) async throws -> [String: String] {
        try await platform.database.read { sql in
            try await sql.raw("SELECT seat_id, state FROM \(unsafeRaw: table) WHERE performance_id = \(bind: performanceID)").all()
                .reduce(into: [String: String]()) { $0[try $1.decode(column: "seat_id", as: String.self)] = try $1.decode(column: "state", as: String.self) }
        }
    }
}

extension OnSale.Reply {
    var tickets: [[String: Any]] { json["tickets"] as? [[String: Any]] ?? [] }
    var order: [String: Any] { json["order"] as? [String: Any] ?? [:] }
}
