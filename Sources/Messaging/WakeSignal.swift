import Synchronization

/// Lets one loop sleep until either someone signals work or a timeout passes.
///
/// A signal sent while nobody waits is remembered, so a wake-up between two waits is never lost.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())

    func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns on a signal, after `timeout`, or when the task is cancelled, whichever is first.
    func wait(upTo timeout: Duration) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let generation: UInt64? = state.withLock { state in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return nil
                    }
                    state.generation += 1
                    state.waiter = continuation
                    return state.generation
                }
                guard let generation else {
                    continuation.resume()
                    return
                }
                Task {
                    try? await Task.sleep(for: timeout)
                    self.wakeWaiter(ifGeneration: generation)
                }
            }
        } onCancel: {
            wakeWaiter(ifGeneration: nil)
        }
    }

    private func wakeWaiter(ifGeneration generation: UInt64?) {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard let waiter = state.waiter, generation == nil || generation == state.generation else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }
}
