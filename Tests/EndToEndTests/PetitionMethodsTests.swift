import Foundation
import TestSupport
import Testing

private let petitionKeys: Set<String> = [
  "id", "title", "target", "body", "goal", "status", "confirmation", "createdAt", "closedAt", "goalReachedAt",
  "anonymisedAt", "count", "pending", "invalidated",
]

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`: RFC 3339 in UTC with milliseconds.
private func isUTCMillisecondTime(_ value: Any?) -> Bool {
  guard let text = value as? String else { return false }
  return text.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#, options: .regularExpression) != nil
}

/// `petition.create`, `petition.get`, `petition.list` and `petition.close` through the binary.
@Suite struct PetitionMethodsEndToEnd {
  let directory = TemporaryDirectory()
  func start() throws -> ServerProcess { try .start(store: directory.file("store.sqlite3")) }

  /// A created petition has exactly the contract's fields: open, no closedAt, count 0, UTC times.
  @Test func createReturnsAPetition() throws {
    let server = try start()
    let petition = try #require(
      server.result(
        "petition.create", ["id": "save-the-park", "title": "Save the park", "target": "Mayor", "goal": 500]))
    #expect(Set(petition.keys) == petitionKeys)
    #expect(petition["id"] as? String == "save-the-park")
    #expect(petition["title"] as? String == "Save the park")
    #expect(petition["target"] as? String == "Mayor")
    #expect(petition["goal"] as? Int == 500)
    #expect(petition["status"] as? String == "open")
    #expect(petition["closedAt"] is NSNull)
    #expect(petition["count"] as? Int == 0)
    #expect(isUTCMillisecondTime(petition["createdAt"]))
  }

  /// Without body and goal: body is "" and goal is null.
  @Test func bodyDefaultsToEmptyAndGoalToNull() throws {
    let server = try start()
    let petition = try #require(server.result("petition.create", ["id": "p1", "title": "T", "target": "X"]))
    #expect(petition["body"] as? String == "")
    #expect(petition["goal"] is NSNull)
    let fetched = try #require(server.result("petition.get", ["id": "p1"]))
    #expect(fetched["body"] as? String == "")
    #expect(fetched["goal"] is NSNull)
  }

  /// A body keeps its line breaks and tabs exactly; `goal: null` is the same as no goal.
  @Test func bodyKeepsLayoutAndGoalMayBeNull() throws {
    let server = try start()
    let body = "Dear Mayor,\n\n\tPlease keep the park.\r\nThanks\n"
    let petition = try #require(
      server.result("petition.create", ["id": "p1", "title": "T", "target": "X", "body": body, "goal": NSNull()]))
    #expect(petition["body"] as? String == body)
    #expect(petition["goal"] is NSNull)
  }

  /// Ids that match `^[a-z0-9][a-z0-9-]{0,63}$` are accepted, 1 and 64 characters included.
  @Test(arguments: ["a", "7", "save-the-park-2026", "a" + String(repeating: "-", count: 63), "0-"])
  func validIDs(id: String) throws {
    let server = try start()
    let petition = server.result("petition.create", ["id": id, "title": "T", "target": "X"])
    #expect(petition?["id"] as? String == id)
  }

  /// Ids outside the pattern are -32602 at /id, and nothing is created.
  @Test(arguments: ["", "-abc", "Abc", "a_b", "a b", "é", "a" + String(repeating: "b", count: 64), "abc\n"])
  func invalidIDs(id: String) throws {
    let server = try start()
    let response = server.call("petition.create", ["id": id, "title": "T", "target": "X"])
    #expect(RPC.errorCode(response) == -32602)
    #expect(RPC.errorPaths(response) == ["/id"])
    #expect((server.result("petition.list", [:])?["petitions"] as? [Any])?.isEmpty == true)
  }

  /// Creating an id that exists is 1002, and the first petition is left as it was.
  @Test func duplicateIDIs1002() throws {
    let server = try start()
    let first = try #require(server.createPetition("p1", title: "First"))
    let response = server.call("petition.create", ["id": "p1", "title": "Second", "target": "Y"])
    #expect(RPC.errorCode(response) == 1002)
    let fetched = try #require(server.result("petition.get", ["id": "p1"]))
    #expect(fetched["title"] as? String == "First")
    #expect(fetched["createdAt"] as? String == first["createdAt"] as? String)
  }

  /// `petition.get` returns what create returned; an unknown id is 1001.
  @Test func getReturnsThePetitionOr1001() throws {
    let server = try start()
    let created = try #require(server.createPetition("p1", body: "Letter", goal: 10))
    let fetched = try #require(server.result("petition.get", ["id": "p1"]))
    #expect(NSDictionary(dictionary: fetched).isEqual(to: created))
    #expect(RPC.errorCode(server.call("petition.get", ["id": "nope"])) == 1001)
  }

  /// The petition's count follows its signatures (and not its duplicates).
  @Test func petitionCountFollowsSignatures() throws {
    let server = try start()
    server.createPetition("p1")
    _ = server.sign("p1", makeSigner(email: "a@example.org"))
    _ = server.sign("p1", makeSigner(email: "b@example.org"))
    _ = server.sign("p1", makeSigner(email: "A@example.org"))
    #expect(server.result("petition.get", ["id": "p1"])?["count"] as? Int == 2)
    let listed = server.result("petition.list", [:])?["petitions"] as? [[String: Any]]
    #expect(listed?.first?["count"] as? Int == 2)
  }

  /// `petition.list` is ordered by createdAt (not by id), each entry a whole Petition.
  @Test func listIsOrderedByCreation() throws {
    let server = try start()
    for id in ["zeta", "alpha", "mid", "beta"] {
      server.createPetition(id)
      usleep(5000)
    }
    let petitions = try #require(server.result("petition.list", [:])?["petitions"] as? [[String: Any]])
    #expect(petitions.compactMap { $0["id"] as? String } == ["zeta", "alpha", "mid", "beta"])
    let times = petitions.compactMap { $0["createdAt"] as? String }
    #expect(times == times.sorted())
    #expect(petitions.allSatisfy { Set($0.keys) == petitionKeys })
  }

  /// `status` filters the list; no status lists all; `null` params count as none.
  @Test func listFiltersByStatus() throws {
    let server = try start()
    for id in ["one", "two", "three"] {
      server.createPetition(id)
      usleep(2000)
    }
    _ = server.result("petition.close", ["id": "two"])
    func ids(_ params: [String: Any]?) -> [String]? {
      (server.result("petition.list", params)?["petitions"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
    }
    #expect(ids(["status": "open"]) == ["one", "three"])
    #expect(ids(["status": "closed"]) == ["two"])
    #expect(ids([:]) == ["one", "two", "three"])
    #expect(ids(nil) == ["one", "two", "three"])
    let bad = server.call("petition.list", ["status": "archived"])
    #expect(RPC.errorCode(bad) == -32602)
    #expect(RPC.errorPaths(bad) == ["/status"])
  }

  /// Closing sets status and closedAt; closing again returns the petition unchanged.
  @Test func closeTwiceReturnsItUnchanged() throws {
    let server = try start()
    server.createPetition("p1")
    _ = server.sign("p1", makeSigner(email: "a@example.org"))
    let closed = try #require(server.result("petition.close", ["id": "p1"]))
    #expect(closed["status"] as? String == "closed")
    #expect(isUTCMillisecondTime(closed["closedAt"]))
    #expect(closed["count"] as? Int == 1)
    #expect((closed["closedAt"] as? String ?? "") >= (closed["createdAt"] as? String ?? "~"))
    usleep(20_000)
    let again = try #require(server.result("petition.close", ["id": "p1"]))
    #expect(NSDictionary(dictionary: again).isEqual(to: closed))
    let fetched = try #require(server.result("petition.get", ["id": "p1"]))
    #expect(NSDictionary(dictionary: fetched).isEqual(to: closed))
  }

  /// Closing an unknown petition is 1001.
  @Test func closeUnknownIs1001() throws {
    let server = try start()
    #expect(RPC.errorCode(server.call("petition.close", ["id": "nope"])) == 1001)
  }

  /// Title and target: 200 characters are accepted, 201 are -32602 at their path.
  @Test func titleAndTargetLengths() throws {
    let server = try start()
    let long200 = String(repeating: "t", count: 200)
    let long201 = String(repeating: "t", count: 201)
    #expect(
      server.result("petition.create", ["id": "p1", "title": long200, "target": long200])?["title"] as? String
        == long200)
    let title = server.call("petition.create", ["id": "p2", "title": long201, "target": "X"])
    #expect(RPC.errorCode(title) == -32602)
    #expect(RPC.errorPaths(title) == ["/title"])
    let target = server.call("petition.create", ["id": "p3", "title": "T", "target": long201])
    #expect(RPC.errorPaths(target) == ["/target"])
    let empty = server.call("petition.create", ["id": "p4", "title": "", "target": "X"])
    #expect(RPC.errorPaths(empty) == ["/title"])
    // 200 characters that take more than 200 bytes are still 200 characters.
    let accented = String(repeating: "é", count: 200)
    #expect(
      server.result("petition.create", ["id": "p5", "title": accented, "target": "X"])?["title"] as? String == accented)
  }

  /// The body takes up to 20000 characters; 20001 is -32602 at /body.
  @Test func bodyLength() throws {
    let server = try start()
    let body = String(repeating: "b", count: 20_000)
    #expect(server.createPetition("p1", body: body)?["body"] as? String == body)
    let response = server.call("petition.create", ["id": "p2", "title": "T", "target": "X", "body": body + "b"])
    #expect(RPC.errorPaths(response) == ["/body"])
  }

  /// Control characters are refused in title and target, but allowed as line breaks in body.
  @Test func controlCharactersInTitleAndTarget() throws {
    let server = try start()
    let title = server.call("petition.create", ["id": "p1", "title": "Line\nbreak", "target": "X"])
    #expect(RPC.errorPaths(title) == ["/title"])
    let target = server.call("petition.create", ["id": "p2", "title": "T", "target": "Bell\u{7}"])
    #expect(RPC.errorPaths(target) == ["/target"])
    let body = server.call("petition.create", ["id": "p3", "title": "T", "target": "X", "body": "Null\u{0}byte"])
    #expect(RPC.errorPaths(body) == ["/body"])
  }

  /// Goal is an integer from 1: 0, negatives, fractions and strings are -32602 at /goal.
  @Test func goalMustBeAPositiveInteger() throws {
    let server = try start()
    for goal: Any in [0, -5, 1.5, "100", true] {
      let response = server.call("petition.create", ["id": "p1", "title": "T", "target": "X", "goal": goal])
      #expect(RPC.errorCode(response) == -32602)
      #expect(RPC.errorPaths(response) == ["/goal"])
    }
    #expect(server.createPetition("p1", goal: 1)?["goal"] as? Int == 1)
  }

  /// Text is stored in NFC: a decomposed title comes back composed.
  @Test func titleIsStoredInNFC() throws {
    let server = try start()
    server.send(
      #"{"jsonrpc":"2.0","id":"n","method":"petition.create","params":{"id":"p1","title":"Cafe\u0301","target":"Re\u0301gion"}}"#
        + "\n")
    let created = try #require(RPC.result(server.readObject()))
    #expect(Array((created["title"] as? String ?? "").utf8) == Array("Caf\u{E9}".utf8))
    let fetched = try #require(server.result("petition.get", ["id": "p1"]))
    #expect(Array((fetched["target"] as? String ?? "").utf8) == Array("R\u{E9}gion".utf8))
  }

  /// Petitions are durable across restarts of the server on the same store.
  @Test func petitionsSurviveARestart() throws {
    var server = try start()
    let created = try #require(server.createPetition("p1", goal: 3))
    _ = server.result("petition.close", ["id": "p1"])
    server.killHard()
    server = try start()
    let fetched = try #require(server.result("petition.get", ["id": "p1"]))
    #expect(fetched["status"] as? String == "closed")
    #expect(fetched["createdAt"] as? String == created["createdAt"] as? String)
  }
}
