import Logging
import NIOCore
import NIOPosix

/// One connection to one Redis server, pipelined: any number of commands in flight, their
/// replies matched to them in order (Redis answers in the order it was asked).
public final class RedisConnection: Sendable {
    let channel: any Channel
    /// The protocol agreed in the handshake: 3 when the server speaks RESP3, else 2.
    public let protocolVersion: Int
    let defaultTimeout: TimeAmount

    init(channel: any Channel, protocolVersion: Int, defaultTimeout: TimeAmount) {
        self.channel = channel
        self.protocolVersion = protocolVersion
        self.defaultTimeout = defaultTimeout
    }

    public var isActive: Bool { channel.isActive }

    /// Sends `command` and returns the reply as it came, an error reply included.
    /// `timeout` (default: the client's) bounds the wait; a blocking read passes its own.
    public func sendRaw(_ command: RedisCommand, timeout: TimeAmount? = nil) async throws -> RESPValue {
        try await sendRaw([command], timeout: timeout)[0]
    }

    /// Sends the commands in one write and returns their replies in order.
    public func sendRaw(_ commands: [RedisCommand], timeout: TimeAmount? = nil) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        let deadline = NIODeadline.now() + (timeout ?? defaultTimeout)
        let futures = commands.map { command in
            let promise = channel.eventLoop.makePromise(of: RESPValue.self)
            channel.write(RedisCommandHandler.Request(command: command, deadline: deadline, promise: promise), promise: nil)
            return promise.futureResult
        }
        channel.flush()
        var replies: [RESPValue] = []
        replies.reserveCapacity(futures.count)
        for future in futures { replies.append(try await future.get()) }
        return replies
    }

    /// Sends `command`; an error reply is thrown as `RedisError.server`.
    public func send(_ command: RedisCommand, timeout: TimeAmount? = nil) async throws -> RESPValue {
        let reply = try await sendRaw(command, timeout: timeout)
        if case .error(let text) = reply { throw RedisError(errorReply: text) }
        return reply
    }

    public func close() async {
        try? await channel.close()
    }

    /// Connects to `host:port` and agrees on a protocol: RESP3 via `HELLO 3` where the server
    /// has it (Redis 6+), else RESP2; then AUTH and SELECT as configured.
    static func connect(
        host: String, port: Int, password: String?, username: String?, database: Int, connectTimeout: TimeAmount,
        commandTimeout: TimeAmount, eventLoopGroup: any EventLoopGroup
    ) async throws -> RedisConnection {
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(connectTimeout)
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RedisCommandHandler())
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw RedisError.unavailable("cannot connect to \(host):\(port) (\(error))")
        }
        var connection = RedisConnection(channel: channel, protocolVersion: 2, defaultTimeout: commandTimeout)
        do {
            var hello = ["3"]
            if let password { hello += ["AUTH", username ?? "default", password] }
            let reply = try await connection.sendRaw(RedisCommand("HELLO", hello))
            if case .error(let text) = reply {
                let error = RedisError(errorReply: text)
                // Older servers do not know HELLO (or RESP3): authenticate the RESP2 way.
                guard case .server(let code, _) = error, code == "ERR" || code == "NOPROTO" else { throw error }
                if let password {
                    _ = try await connection.send(RedisCommand("AUTH", username.map { [$0, password] } ?? [password]))
                }
            } else {
                connection = RedisConnection(channel: channel, protocolVersion: 3, defaultTimeout: commandTimeout)
            }
            if database != 0 { _ = try await connection.send(RedisCommand("SELECT", String(database))) }
            return connection
        } catch {
            await connection.close()
            throw error
        }
    }
}

/// Matches replies to requests, in order, and enforces each request's deadline.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    struct Request {
        let command: RedisCommand
        let deadline: NIODeadline
        let promise: EventLoopPromise<RESPValue>
    }

    private struct Pending {
        let name: String
        let deadline: NIODeadline
        let promise: EventLoopPromise<RESPValue>
    }

    private var pending = CircularBuffer<Pending>()
    private var received: ByteBuffer?
    private var deadlineTimer: Scheduled<Void>?
    private var closed = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard !closed else {
            request.promise.fail(RedisError.connectionClosed)
            promise?.fail(RedisError.connectionClosed)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        RESPEncoder.encode(request.command, into: &buffer)
        pending.append(Pending(name: request.command.name, deadline: request.deadline, promise: request.promise))
        if pending.count == 1 { armTimer(context: context) }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if received == nil || received!.readableBytes == 0 {
            received = incoming
        } else {
            received!.writeBuffer(&incoming)
        }
        do {
            while var buffer = received, let value = try RESPParser.parse(&buffer) {
                received = buffer
                if case .push = value { continue }  // no subscriptions are made; nothing waits for these
                guard let head = pending.popFirst() else {
                    throw RedisError.protocolViolation("a reply nobody asked for")
                }
                head.promise.succeed(value)
                armTimer(context: context)
            }
            if var buffer = received, buffer.readableBytes == 0 {
                buffer.clear()
                received = buffer
            }
        } catch {
            failAll(RedisError.protocolViolation(String(describing: error)))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RedisError.connectionClosed)
        context.close(promise: nil)
    }

    /// Watches the oldest request: replies come in order, so while it waits, all do.
    private func armTimer(context: ChannelHandlerContext) {
        deadlineTimer?.cancel()
        deadlineTimer = nil
        guard let head = pending.first else { return }
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        deadlineTimer = context.eventLoop.scheduleTask(deadline: head.deadline) {
            let (handler, context) = bound.value
            guard let head = handler.pending.first, head.deadline <= .now() else { return }
            // The stream is now out of step with what callers wait for: give up on the connection.
            handler.pending.removeFirst().promise.fail(RedisError.timeout(command: head.name))
            handler.failAll(RedisError.connectionClosed)
            context.close(promise: nil)
        }
    }

    private func failAll(_ error: RedisError) {
        closed = true
        deadlineTimer?.cancel()
        deadlineTimer = nil
        while let request = pending.popFirst() { request.promise.fail(error) }
    }
}
