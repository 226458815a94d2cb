import BoxofficeKit
import Hummingbird
import Logging

/// The one request context every Boxoffice route sees.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request's ID: the caller's `X-Request-ID` when it is sane, otherwise a new one.
    public var requestID: String = ""
    /// Largest request body a handler will collect; set from configuration by `BodyLimitMiddleware`.
    public var maxUploadSize: Int = 1 << 20
    /// Who is calling, when the request carried valid credentials.
    public var principal: Principal?
    /// The peer's IP address (the load balancer's, behind one).
    public var clientAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientAddress = source.channel.remoteAddress?.ipAddress
    }
}
