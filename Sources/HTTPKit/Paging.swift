import BoxofficeKit
import HTTPTypes
import Hummingbird

extension Request {
    /// `limit` (1–100, default 20) and `cursor` from the query; a bad limit is a 400 naming it.
    public func pageRequest() throws -> PageRequest {
        let parameters = uri.queryParameters
        var page = PageRequest()
        if let limit = parameters["limit"] {
            guard let value = Int(limit), (1...PageRequest.maximumLimit).contains(value) else {
                throw Problem.badRequest(detail: "limit must be a whole number from 1 to \(PageRequest.maximumLimit).", field: "limit")
            }
            page.limit = value
        }
        if let cursor = parameters["cursor"], !cursor.isEmpty { page.cursor = String(cursor) }
        return page
    }

    /// `dryRun=true` asks what a change would do without making it; anything but true or false is a 400.
    public func isDryRun() throws -> Bool {
        guard let dryRun = Bool(String(uri.queryParameters["dryRun"] ?? "false")) else {
            throw Problem.badRequest(detail: "dryRun must be true or false.", field: "dryRun")
        }
        return dryRun
    }

    /// The `Idempotency-Key` header: required on calls that must never run twice (a checkout).
    public func idempotencyKey() throws -> String {
        guard let key = headers[HTTPField.Name("Idempotency-Key")!], !key.isEmpty else {
            throw Problem(
                type: Problem.typeURI("idempotency-key-required"), title: "Idempotency-Key required.", status: 400,
                detail: "Send an Idempotency-Key header (a UUID is fine); a retry with the same key returns the first result.")
        }
        guard key.count <= 200, key.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7E }) else {
            throw Problem.badRequest(detail: "Idempotency-Key must be 1 to 200 visible ASCII characters.", field: "Idempotency-Key")
        }
        return key
    }
}
