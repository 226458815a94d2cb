// The ceiling for HTTP benchmarks: Hummingbird with an empty handler and nothing else, on the
// same event loops and build settings as `boxoffice serve`. Benchmarks report Boxoffice's
// figures as a ratio of this one, measured in the same run on the same machine.
import Hummingbird
import NIOCore
import NIOPosix

// The same executor set-up as `boxoffice` (Sources/boxoffice/main.swift).
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

let arguments = CommandLine.arguments
let port = arguments.count > 1 ? Int(arguments[1]) ?? 8090 : 8090

let router = Router()
router.get("/hello") { _, _ in "ok" }

let application = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await application.runService()
