import BoxofficeKit
import Foundation
import Testing

@Suite struct ProblemTests {
    @Test func extensionMembersAreWrittenAtTheTopLevelAndReadBack() throws {
        var problem = Problem.conflict(detail: "Two seats are taken.", slug: "seats-taken")
        problem.extensions = ["takenSeatIds": .strings(["a", "b"])]
        problem.requestId = "req-1"
        let json = try JSONEncoder().encode(problem)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["type"] as? String == "/problems/seats-taken")
        #expect(object["status"] as? Int == 409)
        #expect(object["takenSeatIds"] as? [String] == ["a", "b"])
        #expect(object["requestId"] as? String == "req-1")
        #expect(try JSONDecoder().decode(Problem.self, from: json) == problem)
    }

    @Test func validationProblemsListEachFieldAndSummarizeThem() {
        let problem = Problem.validation([.init(field: "email", message: "is required"), .init(field: "name", message: "is too long")])
        #expect(problem.status == 422)
        #expect(problem.errors?.map(\.field) == ["email", "name"])
        #expect(problem.detail == "email: is required; name: is too long")
    }

    @Test func theInternalErrorProblemNamesNoInternals() {
        let problem = Problem.internalError()
        #expect(problem.status == 500)
        #expect(problem.errors == nil)
        #expect(problem.extensions == nil)
    }
}

@Suite struct CursorTests {
    struct Position: Codable, Equatable {
        let startsAt: Int
        let id: String
    }

    @Test func aCursorDecodesToThePositionItWasMadeFrom() throws {
        let position = Position(startsAt: 1_800_000_000, id: "0193-abc")
        let cursor = Cursor.encode(position)
        #expect(!cursor.contains("="))
        #expect(try Cursor.decode(cursor, as: Position.self) == position)
    }

    @Test func aForeignCursorNamesNoPageAndTheCursorField() {
        #expect {
            try Cursor.decode("not-a-cursor!!", as: Position.self)
        } throws: { error in
            let problem = error as? Problem
            return problem?.status == 404 && problem?.errors?.first?.field == "cursor"
        }
    }
}
