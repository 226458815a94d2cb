import ArgumentParser
import NIOCore
import NIOPosix

// Run Swift concurrency's tasks on NIO's event loops instead of a second thread pool beside
// them. Every request awaits the network (HTTP, PostgreSQL) several times; with two pools each
// await hops threads, and on a 2-core machine those switches were a fifth of the CPU of a seat
// hold (Benchmarks/README.md). Must run before anything else touches concurrency. Blocking work
// never runs on these threads: bcrypt and SQLite have thread pools of their own.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

/// In an async context the command's async `main` is chosen over `ParsableCommand`'s blocking one.
func runCommand() async { await Boxoffice.main() }
await runCommand()
