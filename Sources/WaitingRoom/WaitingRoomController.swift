import BoxofficeKit
import Foundation
import HTTPKit
import HTTPTypes
import Hummingbird

/// `/v1/performances/{id}/queue…`: the organizer's controls and live view, and the fans' join,
/// status and status stream.
public struct WaitingRoomController: Sendable {
    let service: WaitingRoomService

    public init(service: WaitingRoomService) {
        self.service = service
    }

    /// What an organizer sees of the settings (the pre-queue's seed stays private).
    struct SettingsView: ResponseEncodable {
        let enabled: Bool
        let opensAt: Date
        let prequeueMinutes: Int
        let admitPerMinute: Int
        let maxActiveShoppers: Int
        let sessionMinutes: Int
        let keepAliveSeconds: Int
        let paused: Bool
        let closed: Bool

        init(_ settings: QueueSettings) {
            enabled = settings.enabled
            opensAt = settings.opensAt
            prequeueMinutes = settings.prequeueMinutes
            admitPerMinute = settings.admitPerMinute
            maxActiveShoppers = settings.maxActiveShoppers
            sessionMinutes = settings.sessionMinutes
            keepAliveSeconds = settings.keepAliveSeconds
            paused = settings.paused
            closed = settings.closed
        }
    }

    struct JoinRequest: Decodable {
        let humanCheck: JoinProof?
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    public func addRoutes(to routes: RouteRegistrar<AppRequestContext>) {
        let signedIn = routes.group("/v1/performances/:performanceId/queue", context: AuthenticatedContext.self)
        signedIn.get("") { _, context in
            SettingsView(try await service.settings(performanceID: try context.parameters.require("performanceId"), by: context.principal))
        }
        signedIn.put("") { request, context in
            let body = try await request.decodeJSON(as: WaitingRoomService.QueueRequest.self, context: context)
            return SettingsView(try await service.configure(
                performanceID: try context.parameters.require("performanceId"), body, by: context.principal))
        }
        for control in [WaitingRoomService.Control.pause, .resume, .close] {
            signedIn.post("/\(control.rawValue)") { _, context in
                SettingsView(try await service.control(
                    performanceID: try context.parameters.require("performanceId"), control, by: context.principal))
            }
        }
        signedIn.get("/stats") { request, context in
            let performanceID = try context.parameters.require("performanceId")
            let principal = context.principal
            let first = try await service.stats(performanceID: performanceID, by: principal)
            guard ServerSentEvents.isRequested(by: request) else { return try Response.json(first) }
            return try ServerSentEvents.response(holder: "user:\(principal.userID)", interval: .seconds(1)) {
                let stats = try await service.stats(performanceID: performanceID, by: principal)
                return .init(event: "stats", data: try Self.encoder.encode(stats), isLast: stats.state == "closed")
            }
        }
        signedIn.post("/join") { request, context in
            let body: JoinRequest? =
                try await request.decodeOptionalJSON(as: JoinRequest.self, context: context)
            return try Response.json(try await service.join(
                performanceID: try context.parameters.require("performanceId"), fan: context.principal, proof: body?.humanCheck,
                clientAddress: context.clientAddress))
        }
        // Status needs no sign-in: the signed ticket says whose place it is, and polling stays cheap.
        routes.get("/v1/performances/:performanceId/queue/status") { request, context in
            let status = try await service.status(performanceID: try context.parameters.require("performanceId"), ticket: Self.ticket(request))
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: status.json)))
        }
        routes.get("/v1/performances/:performanceId/queue/events") { request, context in
            let performanceID = try context.parameters.require("performanceId")
            let ticket = Self.ticket(request)
            _ = try await service.status(performanceID: performanceID, ticket: ticket)  // a bad ticket is a problem, not a stream
            return try ServerSentEvents.response(holder: "ticket:\(ticket ?? "")", interval: .seconds(1)) {
                let status = try await service.status(performanceID: performanceID, ticket: ticket)
                return .init(event: "status", data: try Self.encoder.encode(status), isLast: status.state != "waiting")
            }
        }
    }

    /// The `Queue-Ticket` header, or `?ticket=` for browsers' EventSource, which cannot set headers.
    private static func ticket(_ request: Request) -> String? {
        request.headers[.queueTicket] ?? request.uri.queryParameters["ticket"].map(String.init)
    }
}
