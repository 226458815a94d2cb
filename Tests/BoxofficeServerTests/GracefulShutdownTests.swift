import BoxofficeServer
import Foundation
import HTTPKit
import Hummingbird
import HummingbirdTesting
import ServiceLifecycle
import TestSupport
import Testing

@Suite struct GracefulShutdownTests {
    @Test func shutdownFailsReadinessAndRefusesNewWorkWhileInFlightRequestsFinish() async throws {
        try await withPlatform(configure: { $0.drainSeconds = 1; $0.shutdownTimeoutSeconds = 20 }) { platform in
            let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
            let (slowStarted, slowStartedContinuation) = AsyncStream.makeStream(of: Void.self)
            let application = try platform.buildApplication(
                additionalRoutes: { routes in
                    routes.get("/test/slow") { _, _ -> String in
                        slowStartedContinuation.yield()
                        try await Task.sleep(for: .seconds(4))
                        return "finished"
                    }
                },
                onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) })
            let group = platform.makeServiceGroup(application)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var portIterator = ports.makeAsyncIterator()
                let port = try #require(await portIterator.next())

                let slow = Task {
                    try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                        try await client.get("/test/slow")
                    }
                }
                // Shut down only once the slow request is in flight (a busy machine can take a
                // while to connect), so it is surely one that must be allowed to finish.
                var startedIterator = slowStarted.makeAsyncIterator()
                _ = await startedIterator.next()
                let started = ContinuousClock.now
                await group.triggerGracefulShutdown()
                try await Task.sleep(for: .milliseconds(100))

                let ready = try await TestClient.withClient(host: "127.0.0.1", port: port) { try await $0.get("/ready") }
                #expect(ready.status == .serviceUnavailable)
                let refused = try await TestClient.withClient(host: "127.0.0.1", port: port) { try await $0.get("/test/slow") }
                #expect(refused.status == .serviceUnavailable)
                #expect(refused.headers[.connection] == "close")

                // Once the drain period is over the listener is closed: new connections fail.
                try await Task.sleep(until: started + .seconds(2.2))
                await #expect(throws: (any Error).self) {
                    try await TestClient.withClient(host: "127.0.0.1", port: port) { try await $0.get("/health") }
                }

                let finished = try await slow.value
                #expect(finished.status == .ok)
                #expect(finished.body.map { String(buffer: $0) } == "finished")
                try await tasks.next()  // the whole group stops by itself
            }
        }
    }
}
