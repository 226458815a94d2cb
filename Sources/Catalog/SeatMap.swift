import BoxofficeKit
import Foundation

/// One seat as an organizer describes it: where it is drawn and which price tier it sells in.
public struct SeatInput: Codable, Sendable, Equatable {
    public var section: String
    public var row: String
    public var seat: String
    public var x: Double
    public var y: Double
    public var tier: String
    public var attributes: [String]?

    public init(section: String, row: String, seat: String, x: Double, y: Double, tier: String, attributes: [String]? = nil) {
        self.section = section
        self.row = row
        self.seat = seat
        self.x = x
        self.y = y
        self.tier = tier
        self.attributes = attributes
    }

    /// The label fans see and scanners print: `A-12-7`.
    public var label: String { "\(section)-\(row)-\(seat)" }
}

/// Reads and checks seat maps. Every error names where it is (CSV line or JSON index) and
/// what is wrong, and all of them are reported at once, so an organizer fixes a file in one go.
public enum SeatMapParser {
    static let maximumSeats = 100_000
    static let maximumErrors = 50
    static let textLimit = 40

    /// Parses `section,row,seat,x,y,tier[,attributes]` lines. A first line naming the columns is
    /// skipped; attributes within their field are separated by `;` or `|`; fields may be quoted.
    public static func parseCSV(_ text: String) throws(Problem) -> [SeatInput] {
        var seats: [SeatInput] = []
        var seatLines: [Int] = []
        var errors: [Problem.FieldError] = []
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" })
        for (index, rawLine) in lines.enumerated() {
            let lineNumber = index + 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let fields = splitCSV(String(line))
            if lineNumber == 1, fields.first?.lowercased() == "section" { continue }
            func fail(_ message: String) {
                if errors.count < maximumErrors { errors.append(.init(field: "line \(lineNumber)", message: message)) }
            }
            guard (6...7).contains(fields.count) else {
                fail("has \(fields.count) fields; expected section,row,seat,x,y,tier[,attributes]")
                continue
            }
            guard let x = Double(fields[3]), x.isFinite else { fail("x '\(fields[3])' is not a number"); continue }
            guard let y = Double(fields[4]), y.isFinite else { fail("y '\(fields[4])' is not a number"); continue }
            let attributes = fields.count == 7
                ? fields[6].split(whereSeparator: { $0 == ";" || $0 == "|" }).map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
                : []
            seats.append(SeatInput(
                section: fields[0], row: fields[1], seat: fields[2], x: x, y: y, tier: fields[5],
                attributes: attributes.isEmpty ? nil : attributes))
            seatLines.append(lineNumber)
            if let problem = problem(with: seats[seats.count - 1]) { fail(problem) }
        }
        errors += duplicates(in: seats) { "line \(seatLines[$0])" }
        try check(seats, errors: errors)
        return seats
    }

    /// Checks seats that arrived as JSON; errors are named `seats[i].field`.
    public static func validate(_ seats: [SeatInput]) throws(Problem) -> [SeatInput] {
        var errors: [Problem.FieldError] = []
        for (index, seat) in seats.enumerated() {
            if let problem = problem(with: seat), errors.count < maximumErrors {
                errors.append(.init(field: "seats[\(index)]", message: problem))
            }
        }
        errors += duplicates(in: seats) { "seats[\($0)]" }
        try check(seats, errors: errors)
        return seats.map { seat in
            var trimmed = seat
            trimmed.section = seat.section.trimmingCharacters(in: .whitespaces)
            trimmed.row = seat.row.trimmingCharacters(in: .whitespaces)
            trimmed.seat = seat.seat.trimmingCharacters(in: .whitespaces)
            trimmed.tier = seat.tier.trimmingCharacters(in: .whitespaces)
            return trimmed
        }
    }

    private static func check(_ seats: [SeatInput], errors: [Problem.FieldError]) throws(Problem) {
        if !errors.isEmpty {
            throw Problem.validation(Array(errors.prefix(maximumErrors)), detail: "The seat map has \(errors.count) error(s); nothing was imported.")
        }
        guard !seats.isEmpty else { throw Problem.validation([.init(field: "seats", message: "the seat map has no seats")]) }
        guard seats.count <= maximumSeats else {
            throw Problem.validation([.init(field: "seats", message: "at most \(maximumSeats) seats per venue")])
        }
    }

    private static func problem(with seat: SeatInput) -> String? {
        for (name, value) in [("section", seat.section), ("row", seat.row), ("seat", seat.seat), ("tier", seat.tier)] {
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return "\(name) is empty" }
            if trimmed.count > textLimit { return "\(name) is longer than \(textLimit) characters" }
            if trimmed.contains("-"), name != "tier" { return "\(name) '\(trimmed)' must not contain '-' (labels are section-row-seat)" }
        }
        if !seat.x.isFinite || !seat.y.isFinite { return "x and y must be numbers" }
        if (seat.attributes ?? []).contains(where: { $0.count > textLimit || $0.contains(",") }) {
            return "attributes must be short words without commas"
        }
        return nil
    }

    private static func duplicates(in seats: [SeatInput], place: (Int) -> String) -> [Problem.FieldError] {
        var firstIndex: [String: Int] = [:]
        var errors: [Problem.FieldError] = []
        for (index, seat) in seats.enumerated() {
            let key = seat.label.lowercased()
            if let first = firstIndex[key] {
                if errors.count < maximumErrors {
                    errors.append(.init(field: place(index), message: "seat \(seat.label) is already at \(place(first))"))
                }
            } else {
                firstIndex[key] = index
            }
        }
        return errors
    }

    /// Splits one CSV line, honouring double quotes ("" inside quotes is a quote).
    static func splitCSV(_ line: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var iterator = Array(line).makeIterator()
        while let character = iterator.next() {
            switch (character, quoted) {
            case ("\"", true):
                if let next = iterator.next() {
                    if next == "\"" { current.append("\"") } else {
                        quoted = false
                        if next == "," { fields.append(current); current = "" } else { current.append(next) }
                    }
                } else {
                    quoted = false
                }
            case ("\"", false) where current.isEmpty:
                quoted = true
            case (",", false):
                fields.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            default:
                current.append(character)
            }
        }
        fields.append(current.trimmingCharacters(in: .whitespaces))
        return fields
    }
}
