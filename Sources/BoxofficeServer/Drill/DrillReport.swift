import Foundation

/// What a drill found: outcomes, latencies, throughput over time and the invariants, as a
/// terminal table and as a self-contained HTML page (SVG drawn here, no scripts).
public struct DrillReport: Sendable {
    public struct Invariant: Sendable {
        public let name: String
        public let holds: Bool
        public let detail: String
    }

    public struct StepFigures: Sendable {
        public let step: String
        public let count: Int
        public let p50: Double
        public let p95: Double
        public let p99: Double
        public let max: Double
    }

    public let runID: String
    public let url: String
    public let fans: Int
    public let seats: Int
    public let elapsed: Duration
    let recorder: DrillRecorder.Snapshot
    public let invariants: [Invariant]

    public var passed: Bool { invariants.allSatisfy(\.holds) }
    public var paidOrders: Int { recorder.paid.count }
    var seconds: Double { Self.seconds(elapsed) }

    public var steps: [StepFigures] {
        DrillRecorder.Step.allCases.compactMap { step in
            guard let samples = recorder.latencies[step], !samples.isEmpty else { return nil }
            let sorted = samples.map(Self.milliseconds).sorted()
            func quantile(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)] }
            return StepFigures(step: step.rawValue, count: sorted.count, p50: quantile(0.5), p95: quantile(0.95), p99: quantile(0.99), max: sorted.last ?? 0)
        }
    }

    /// Paid orders in each second of the sale.
    var paidPerSecond: [Int] { Self.perSecond(recorder.paid.map(\.at), over: elapsed) }

    // MARK: Terminal

    public func terminal() -> String {
        var lines: [String] = []
        lines.append("Drill \(runID) against \(url): \(fans) fans, \(seats) seats, \(String(format: "%.1f", seconds)) s")
        lines.append("")
        lines.append(Self.table(
            ["outcome", "fans"],
            DrillRecorder.Outcome.allCases.map { [$0.rawValue, String(recorder.outcomes[$0] ?? 0)] }))
        lines.append("")
        lines.append(Self.table(
            ["request", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"],
            steps.map { [$0.step, String($0.count), Self.ms($0.p50), Self.ms($0.p95), Self.ms($0.p99), Self.ms($0.max)] }))
        lines.append("")
        let peak = paidPerSecond.max() ?? 0
        lines.append("paid orders: \(paidOrders), \(String(format: "%.1f", Double(paidOrders) / max(seconds, 0.001)))/s over the run, \(peak)/s at the busiest second")
        lines.append("")
        for invariant in invariants {
            lines.append("\(invariant.holds ? "ok  " : "FAIL") \(invariant.name): \(invariant.detail)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == 0 ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[index] - cell.count) + cell
            }.joined(separator: "  ")
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line)).joined(separator: "\n")
    }

    // MARK: HTML

    public func html() -> String {
        var body = ""
        body += "<h1>Boxoffice drill \(Self.escape(runID))</h1>"
        body += "<p>\(Self.escape(url)) · \(fans) fans · \(seats) seats · \(String(format: "%.1f", seconds)) s · "
        body += "\(paidOrders) paid orders (\(String(format: "%.1f", Double(paidOrders) / max(seconds, 0.001)))/s, busiest second \(paidPerSecond.max() ?? 0))</p>"
        body += "<h2>Invariants</h2><ul class=\"invariants\">"
        for invariant in invariants {
            body += "<li class=\"\(invariant.holds ? "ok" : "fail")\"><strong>\(invariant.holds ? "✓" : "✗") \(Self.escape(invariant.name))</strong> — \(Self.escape(invariant.detail))</li>"
        }
        body += "</ul><h2>Fans</h2><table><tr><th>outcome</th><th>fans</th></tr>"
        for outcome in DrillRecorder.Outcome.allCases {
            body += "<tr><td>\(outcome.rawValue)</td><td>\(recorder.outcomes[outcome] ?? 0)</td></tr>"
        }
        body += "</table><h2>Requests</h2><table><tr><th>request</th><th>count</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>"
        for step in steps {
            body += "<tr><td>\(step.step)</td><td>\(step.count)</td><td>\(Self.ms(step.p50))</td><td>\(Self.ms(step.p95))</td><td>\(Self.ms(step.p99))</td><td>\(Self.ms(step.max))</td></tr>"
        }
        body += "</table>"
        if !recorder.errors.isEmpty {
            body += "<h2>Unexpected answers</h2><table><tr><th>request: answer</th><th>count</th></tr>"
            for (error, count) in recorder.errors.sorted(by: { $0.value > $1.value }) {
                body += "<tr><td>\(Self.escape(error))</td><td>\(count)</td></tr>"
            }
            body += "</table>"
        }
        body += "<h2>Throughput over time</h2>"
        let series: [(String, String, [Int])] = [
            ("queue joins", "#7a5af8", Self.perSecond(recorder.starts[.join] ?? [], over: elapsed)),
            ("holds", "#f79009", Self.perSecond(recorder.starts[.hold] ?? [], over: elapsed)),
            ("paid orders", "#12b76a", paidPerSecond),
        ]
        body += Self.lineChart(series)
        body += "<h2>Latency histograms</h2><div class=\"grid\">"
        for step in DrillRecorder.Step.allCases {
            guard let samples = recorder.latencies[step], !samples.isEmpty else { continue }
            body += "<figure><figcaption>\(step.rawValue) (\(samples.count))</figcaption>\(Self.histogram(samples.map(Self.milliseconds)))</figure>"
        }
        body += "</div>"
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Boxoffice drill \(Self.escape(runID))</title>
            <style>
            body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1d2939; }
            h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
            table { border-collapse: collapse; } td, th { padding: .25rem .75rem; border-bottom: 1px solid #eaecf0; text-align: right; }
            td:first-child, th:first-child { text-align: left; }
            .invariants { list-style: none; padding: 0; } .ok strong { color: #067647; } .fail strong { color: #b42318; }
            .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr)); gap: 1rem; }
            figure { margin: 0; } figcaption { font-weight: 600; } svg { max-width: 100%; height: auto; }
            svg text { font: 11px system-ui, sans-serif; fill: #475467; }
            </style></head><body>\(body)</body></html>

            """
    }

    /// Requests per second as lines, one per series, with a legend.
    static func lineChart(_ series: [(name: String, color: String, values: [Int])]) -> String {
        let width = 720.0, height = 240.0, left = 40.0, bottom = 24.0, top = 10.0
        let length = max(series.map(\.values.count).max() ?? 1, 2)
        let peak = max(Double(series.flatMap(\.values).max() ?? 1), 1)
        func x(_ index: Int) -> Double { left + (width - left - 10) * Double(index) / Double(length - 1) }
        func y(_ value: Int) -> Double { top + (height - top - bottom) * (1 - Double(value) / peak) }
        var svg = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height) + 20)\" role=\"img\" aria-label=\"requests per second over the drill\">"
        svg += "<line x1=\"\(left)\" y1=\"\(y(0))\" x2=\"\(width - 10)\" y2=\"\(y(0))\" stroke=\"#d0d5dd\"/>"
        svg += "<text x=\"2\" y=\"\(top + 8)\">\(Int(peak))/s</text><text x=\"2\" y=\"\(y(0))\">0</text>"
        svg += "<text x=\"\(left)\" y=\"\(height - 6)\">0 s</text><text x=\"\(width - 40)\" y=\"\(height - 6)\">\(length - 1) s</text>"
        for line in series where !line.values.isEmpty {
            let points = line.values.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y($0.element)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\" points=\"\(points)\"/>"
        }
        for (index, line) in series.enumerated() {
            let lx = left + Double(index) * 150
            svg += "<rect x=\"\(lx)\" y=\"\(height + 6)\" width=\"10\" height=\"10\" fill=\"\(line.color)\"/>"
            svg += "<text x=\"\(lx + 14)\" y=\"\(height + 15)\">\(escape(line.name))</text>"
        }
        return svg + "</svg>"
    }

    /// Counts in log-spaced buckets from 1 ms to 30 s.
    static func histogram(_ milliseconds: [Double]) -> String {
        let edges: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000]
        var counts = Array(repeating: 0, count: edges.count + 1)
        for value in milliseconds { counts[edges.firstIndex { value <= $0 } ?? edges.count] += 1 }
        let labels = edges.map { $0 >= 1000 ? "\(Int($0 / 1000))s" : "\(Int($0))" } + [">30s"]
        let width = 280.0, height = 140.0, bottom = 20.0
        let barWidth = width / Double(counts.count)
        let peak = Double(max(counts.max() ?? 1, 1))
        var svg = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"latency histogram\">"
        for (index, count) in counts.enumerated() {
            let barHeight = (height - bottom - 12) * Double(count) / peak
            let x = Double(index) * barWidth
            svg += "<rect x=\"\(x + 1)\" y=\"\(height - bottom - barHeight)\" width=\"\(barWidth - 2)\" height=\"\(barHeight)\" fill=\"#2e90fa\"><title>≤ \(labels[index]) ms: \(count)</title></rect>"
            if count > 0 { svg += "<text x=\"\(x + 2)\" y=\"\(height - bottom - barHeight - 2)\">\(count)</text>" }
            if index % 2 == 0 { svg += "<text x=\"\(x + 1)\" y=\"\(height - 6)\">\(labels[index])</text>" }
        }
        return svg + "</svg>"
    }

    static func perSecond(_ moments: [Duration], over elapsed: Duration) -> [Int] {
        var buckets = Array(repeating: 0, count: Int(seconds(elapsed).rounded(.up)) + 1)
        for moment in moments {
            let index = Int(seconds(moment))
            if index >= 0, index < buckets.count { buckets[index] += 1 }
        }
        return buckets
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func milliseconds(_ duration: Duration) -> Double { seconds(duration) * 1000 }

    static func ms(_ value: Double) -> String { value < 10 ? String(format: "%.1f", value) : String(Int(value.rounded())) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
