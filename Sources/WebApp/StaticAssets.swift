import Crypto
import Foundation

/// The pages' CSS and JavaScript, shipped in the binary's resources and served under names that
/// carry a hash of their content (`/static/app.3f2a9c1e.css`), so browsers may keep them for a
/// year: a changed file gets a new name.
struct StaticAssets: Sendable {
    struct Asset: Sendable {
        let bytes: [UInt8]
        let contentType: String
    }

    /// Hashed name → file.
    private let byHashedName: [String: Asset]
    /// Plain name (`app.css`) → the path pages link to.
    private let paths: [String: String]

    init(directory: URL) throws {
        var byHashedName: [String: Asset] = [:]
        var paths: [String: String] = [:]
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        for name in names {
            let bytes = Array(try Data(contentsOf: directory.appendingPathComponent(name)))
            let digest = SHA256.hash(data: bytes).prefix(5).map { String(format: "%02x", $0) }.joined()
            let ext = (name as NSString).pathExtension
            let hashed = "\((name as NSString).deletingPathExtension).\(digest).\(ext)"
            byHashedName[hashed] = Asset(bytes: bytes, contentType: Self.contentType(ext))
            paths[name] = "/static/\(hashed)"
        }
        self.byHashedName = byHashedName
        self.paths = paths
    }

    func asset(named hashedName: String) -> Asset? { byHashedName[hashedName] }

    /// A file's text by its plain name (the service worker is served from the site's root).
    func source(of name: String) -> String? {
        guard let hashed = paths[name]?.dropFirst("/static/".count), let asset = byHashedName[String(hashed)] else { return nil }
        return String(decoding: asset.bytes, as: UTF8.self)
    }

    func path(_ name: String) -> String { paths[name] ?? "/static/\(name)" }

    private static func contentType(_ ext: String) -> String {
        switch ext {
        case "css": "text/css; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }
}
