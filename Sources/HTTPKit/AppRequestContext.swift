import Hummingbird
import Logging

/// The one request context every Boxoffice route sees.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request's ID: the caller's `X-Request-ID` when it is sane, otherwise a new one.
    public var requestID: String = ""
    /// Largest request body a handler will collect; set from configuration by `BodyLimitMiddleware`.
    public var maxUploadSize: Int = 1 << 20

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }
}
