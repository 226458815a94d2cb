// Load generator for scripts/bench-orders: N clients, each buying one seat after another through
// the public API as a fan does — hold a random seat, then pay for it (wallet: one request;
// gateway: checkout, then the sandbox's pay page, whose signed webhook settles the order).
//
//   bench-orders-load --base URL --tokens FILE --seats FILE --performance ID
//                     --clients N --seconds S --method wallet|gateway
//
// Prints one line: RESULT paid=… taken=… failed=… p50=… p99=… ops=… (latencies in ms of one
// whole order as the fan waits for it, from the hold's request to the last answer).
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix

struct Options {
    var base = ""
    var tokensFile = ""
    var seatsFile = ""
    var performance = ""
    var clients = 64
    var seconds = 10.0
    var method = "wallet"

    init(arguments: [String]) {
        var index = 1
        func value() -> String {
            index += 1
            guard index < arguments.count else { fatalError("missing value for \(arguments[index - 1])") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--base": base = value()
            case "--tokens": tokensFile = value()
            case "--seats": seatsFile = value()
            case "--performance": performance = value()
            case "--clients": clients = Int(value()) ?? 64
            case "--seconds": seconds = Double(value()) ?? 10
            case "--method": method = value()
            default: fatalError("unknown argument \(arguments[index])")
            }
            index += 1
        }
    }
}

/// What one client saw.
struct Tally: Sendable {
    var paid = 0
    var taken = 0
    var failed = 0
    var failures: [String: Int] = [:]
    var latencies: [Double] = []

    mutating func merge(_ other: Tally) {
        paid += other.paid
        taken += other.taken
        failed += other.failed
        latencies += other.latencies
        for (key, count) in other.failures { failures[key, default: 0] += count }
    }
}

enum Outcome {
    case paid
    case taken
    case failed(String)
}

let options = Options(arguments: CommandLine.arguments)
let tokens = try String(contentsOfFile: options.tokensFile, encoding: .utf8).split(separator: "\n").map(String.init)
let seats = try String(contentsOfFile: options.seatsFile, encoding: .utf8).split(separator: "\n").map(String.init)
precondition(!tokens.isEmpty && !seats.isEmpty, "no tokens or no seats")

var configuration = HTTPClient.Configuration()
configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: options.clients)
configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)

func post(_ path: String, token: String?, body: String, idempotencyKey: String? = nil) async throws -> (status: UInt, body: ByteBuffer) {
    var request = HTTPClientRequest(url: options.base + path)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
    if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
    request.body = .bytes(ByteBuffer(string: body))
    let response = try await client.execute(request, timeout: .seconds(30))
    let bytes = try await response.body.collect(upTo: 1 << 20)
    return (response.status.code, bytes)
}

func field(_ name: String, of buffer: ByteBuffer) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any])?[name] as? [String: Any]
}

/// One order: hold a random seat, then pay for it.
func buyOneSeat() async -> Outcome {
    let token = tokens.randomElement()!
    let seat = seats.randomElement()!
    do {
        let hold = try await post("/v1/performances/\(options.performance)/holds", token: token, body: #"{"seatIds":["\#(seat)"]}"#)
        if hold.status == 409 { return .taken }
        guard hold.status == 201,
              let object = try? JSONSerialization.jsonObject(with: Data(buffer: hold.body)) as? [String: Any],
              let holdID = object["id"] as? String
        else { return .failed("hold \(hold.status)") }
        let checkout = try await post(
            "/v1/checkout", token: token, body: #"{"holdId":"\#(holdID)","method":"\#(options.method)"}"#, idempotencyKey: UUID().uuidString)
        if options.method == "wallet" {
            return checkout.status == 201 ? .paid : .failed("checkout \(checkout.status)")
        }
        guard checkout.status == 202, let paymentID = field("paymentIntent", of: checkout.body)?["paymentId"] as? String else {
            return .failed("checkout \(checkout.status)")
        }
        let paid = try await post("/v1/sandbox/payments/\(paymentID)/pay", token: nil, body: "{}")
        return paid.status == 200 ? .paid : .failed("pay \(paid.status)")
    } catch {
        return .failed("error \(type(of: error))")
    }
}

let deadline = ContinuousClock.now + .milliseconds(Int(options.seconds * 1000))
let started = ContinuousClock.now
let total = await withTaskGroup(of: Tally.self) { group in
    for _ in 0..<options.clients {
        group.addTask {
            var tally = Tally()
            while ContinuousClock.now < deadline {
                let start = ContinuousClock.now
                let outcome = await buyOneSeat()
                let elapsed = ContinuousClock.now - start
                let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
                switch outcome {
                case .paid:
                    tally.paid += 1
                    tally.latencies.append(milliseconds)
                case .taken: tally.taken += 1
                case .failed(let why):
                    tally.failed += 1
                    tally.failures[why, default: 0] += 1
                }
            }
            return tally
        }
    }
    var total = Tally()
    for await tally in group { total.merge(tally) }
    return total
}
let elapsed = ContinuousClock.now - started
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
try await client.shutdown().get()

let sorted = total.latencies.sorted()
func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
if !total.failures.isEmpty {
    FileHandle.standardError.write(Data("failures: \(total.failures.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", "))\n".utf8))
}
print(String(
    format: "RESULT paid=%d taken=%d failed=%d p50=%.2f p99=%.2f ops=%.1f seconds=%.2f", total.paid, total.taken, total.failed,
    percentile(0.50), percentile(0.99), Double(total.paid) / seconds, seconds))
