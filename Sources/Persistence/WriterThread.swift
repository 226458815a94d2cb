import Dispatch
import NIOPosix

/// The SQLite writer's one thread, which is also where write transactions run.
///
/// SQLiteNIO runs every statement on a thread of its pool and resumes the awaiting task
/// wherever the task runs. A write transaction that runs on the event loops pays two thread
/// wake-ups per statement, and waits behind whatever HTTP work those loops have queued, all
/// while holding the database's only writer (a paid order is about 25 statements: at an
/// on-sale, most of the writer's time went on those hops). As a task executor whose jobs the
/// same one-thread pool runs, the transaction's code and its statements take turns on one
/// thread: a statement is a queue push and pop, not a hop.
final class WriterThread: TaskExecutor {
    /// The pool SQLiteNIO runs the writer connection's statements on: one thread.
    let pool: NIOThreadPool

    init() {
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        pool.submit { state in
            switch state {
            case .active:
                job.runSynchronously(on: executor)
            case .cancelled:
                // The pool has stopped (shutdown): the job still has to run, just not here, and
                // not inside `submit`, which calls this at once from whoever enqueued it.
                DispatchQueue.global().async { job.runSynchronously(on: executor) }
            }
        }
    }

    /// Runs `body` with this thread as the task's executor, then moves the task back to the
    /// shared executors, so whatever the caller does next (encoding its answer) does not keep
    /// the next write transaction waiting for the thread.
    func run<Result>(_ body: () async throws -> Result) async throws -> Result {
        let outcome: Swift.Result<Result, any Error>
        do {
            outcome = .success(try await withTaskExecutorPreference(self) { try await body() })
        } catch {
            outcome = .failure(error)
        }
        await Task.yield()
        return try outcome.get()
    }
}
