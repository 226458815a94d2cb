import BoxofficeKit
import Foundation

/// Where waiting rooms keep their state. The gate (one node at a time) is the only writer of
/// admissions; joins come from every node, so `join` is atomic and idempotent per fan.
public protocol QueueStore: Sendable {
    func saveSettings(_ settings: QueueSettings, performanceID: String) async throws
    func settings(performanceID: String) async throws -> QueueSettings?
    /// Queues that are enabled and not closed, for the gate.
    func openQueues() async throws -> [String: QueueSettings]

    /// The fan's place, the same however often they join. Before `opensAt` a new place has no
    /// sequence yet (it waits in the pre-queue with `lottery` as its draw); from `opensAt` on it
    /// gets the next sequence number, after the pre-queue has been sealed. The pre-queue is
    /// numbered by `lottery` (ties by fan ID); draws stay within ±2^53.
    func join(performanceID: String, fanID: String, at: Date, opensAt: Date, lottery: Int64) async throws -> (place: QueuePlace, isNew: Bool)
    func place(performanceID: String, fanID: String) async throws -> QueuePlace?
    /// Gives the pre-queue its sequence numbers, in lottery order. Doing it twice changes nothing.
    func seal(performanceID: String) async throws
    func counters(performanceIDs: [String]) async throws -> [String: QueueCounters]

    /// Records that these waiting fans polled at `at` (batched by each node).
    func touch(performanceID: String, fanIDs: [String], at: Date) async throws
    /// Waiting fans after sequence `after`, in order, at most `limit`.
    func waiting(performanceID: String, after: Int, limit: Int) async throws -> [WaitingFan]
    /// The gate's step: these fans are admitted (sessions ending at `sessionEndsAt`), these
    /// skipped, and every sequence through `through` has been dealt with.
    func recordGateStep(
        performanceID: String, admitted: [String], skipped: [String], through: Int, at: Date, sessionEndsAt: Date
    ) async throws
    func outcome(performanceID: String, fanID: String) async throws -> GateOutcome?
    /// Ends every session that ran out by `at`; returns whose.
    func endExpiredSessions(performanceID: String, at: Date) async throws -> [String]
    /// Ends these fans' sessions (they finished buying); returns those whose session was running.
    func endSessions(performanceID: String, fanIDs: [String]) async throws -> [String]

    /// Admissions since `since` (what a node's view needs four times a second: cheap).
    func admissions(performanceID: String, since: Date) async throws -> Int

    /// Live figures: fans waiting (and of them, those who stopped polling before `seenSince`),
    /// shoppers whose session runs at `at`, and admissions since `admittedSince`.
    func figures(performanceID: String, at: Date, seenSince: Date, admittedSince: Date) async throws
        -> (waiting: Int, abandoned: Int, active: Int, admitted: Int)
}
