import Foundation
import TestSupport
import Testing

/// -32602 for bad params of every kind, with `error.data.errors` paths as JSON Pointers into
/// params, and nothing written by a rejected request.
@Suite struct InvalidParamsEndToEnd {
  let directory = TemporaryDirectory()

  func start() throws -> ServerProcess {
    let server = try ServerProcess.start(store: directory.file("store.sqlite3"))
    server.createPetition("p1")
    return server
  }

  static var goodSigner: [String: Any] { makeSigner(email: "a@example.org") }

  /// Each bad `sign` and the paths its error must name (exactly).
  static var badSigns: [(name: String, params: [String: Any], paths: Set<String>)] {
    [
      ("no params at all", [:], ["/petition", "/signer"]),
      ("missing signer", ["petition": "p1"], ["/signer"]),
      ("missing petition", ["signer": goodSigner], ["/petition"]),
      (
        "empty signer", ["petition": "p1", "signer": [String: Any]()],
        ["/signer/email", "/signer/firstName", "/signer/lastName", "/signer/postalCode"]
      ),
      (
        "missing email", ["petition": "p1", "signer": ["firstName": "A", "lastName": "B", "postalCode": "12345"]],
        ["/signer/email"]
      ),
      (
        "missing postalCode",
        ["petition": "p1", "signer": ["email": "a@example.org", "firstName": "A", "lastName": "B"]],
        ["/signer/postalCode"]
      ),
      ("petition of wrong type", ["petition": 5, "signer": goodSigner], ["/petition"]),
      ("signer of wrong type", ["petition": "p1", "signer": "a@example.org"], ["/signer"]),
      ("signer as an array", ["petition": "p1", "signer": ["a@example.org"]], ["/signer"]),
      (
        "email of wrong type", ["petition": "p1", "signer": makeSigner(email: "x").merging(["email": 42]) { $1 }],
        ["/signer/email"]
      ),
      (
        "null required email",
        ["petition": "p1", "signer": makeSigner(email: "x").merging(["email": NSNull()]) { $1 }],
        ["/signer/email"]
      ),
      (
        "phone of wrong type",
        ["petition": "p1", "signer": makeSigner(email: "a@example.org").merging(["phone": 2025550123]) { $1 }],
        ["/signer/phone"]
      ),
      ("comment of wrong type", ["petition": "p1", "signer": goodSigner, "comment": 7], ["/comment"]),
      ("source of wrong type", ["petition": "p1", "signer": goodSigner, "source": ["web"]], ["/source"]),
      ("optIn of wrong type", ["petition": "p1", "signer": goodSigner, "optIn": true], ["/optIn"]),
      (
        "optIn flag of wrong type", ["petition": "p1", "signer": goodSigner, "optIn": ["email": "yes"]],
        ["/optIn/email"]
      ),
      ("optIn flag as number", ["petition": "p1", "signer": goodSigner, "optIn": ["email": 1]], ["/optIn/email"]),
      ("unknown top-level field", ["petition": "p1", "signer": goodSigner, "referrer": "x"], ["/referrer"]),
      (
        "unknown signer field",
        ["petition": "p1", "signer": makeSigner(email: "a@example.org").merging(["middleName": "Q"]) { $1 }],
        ["/signer/middleName"]
      ),
      (
        "unknown optIn field", ["petition": "p1", "signer": goodSigner, "optIn": ["email": true, "fax": true]],
        ["/optIn/fax"]
      ),
      ("invalid petition id", ["petition": "Not An Id", "signer": goodSigner], ["/petition"]),
      ("invalid email value", ["petition": "p1", "signer": makeSigner(email: "not-an-email")], ["/signer/email"]),
      (
        "several problems at once",
        ["petition": "p1", "signer": ["email": "bad", "firstName": "", "postalCode": "1"], "comment": 1, "extra": 2],
        ["/signer/email", "/signer/firstName", "/signer/lastName", "/signer/postalCode", "/comment", "/extra"]
      ),
      (
        "pointer escaping of unknown names", ["petition": "p1", "signer": goodSigner, "a/b": 1, "m~n": 2],
        ["/a~1b", "/m~0n"]
      ),
    ]
  }

  /// Every kind of bad `sign` params is -32602 at the right paths, each with a message; nothing
  /// is written (the count stays 0 after each).
  @Test func badSignParams() throws {
    let server = try start()
    for bad in Self.badSigns {
      let response = server.call("sign", bad.params)
      #expect(RPC.errorCode(response) == -32602, "\(bad.name)")
      #expect(Set(RPC.errorPaths(response)) == bad.paths, "\(bad.name)")
      #expect(RPC.errorEntriesAreWellFormed(response), "\(bad.name)")
      #expect(server.total("p1") == 0, "\(bad.name)")
    }
    // And nobody was recorded as consenting either.
    #expect(RPC.result(server.sign("p1", Self.goodSigner))?["duplicate"] as? Bool == false)
    #expect(server.exportRecords("p1", audience: "contacts")?.isEmpty == true)
  }

  /// Params as a string or number (not an object) are -32602.
  @Test func paramsOfTheWrongKind() throws {
    let server = try start()
    for params in [#""p1""#, "5", "true"] {
      server.send(#"{"jsonrpc":"2.0","id":"k","method":"sign","params":"# + params + "}\n")
      let response = server.readObject()
      #expect(RPC.errorCode(response) == -32602 || RPC.errorCode(response) == -32600, "params \(params)")
    }
    #expect(server.total("p1") == 0)
  }

  /// Each bad call of the other methods, and the paths its error must name.
  static var badCalls: [(method: String, params: [String: Any], paths: Set<String>)] {
    [
      ("petition.create", [:], ["/id", "/title", "/target"]),
      ("petition.create", ["id": "x", "title": "T", "target": "X", "colour": "red"], ["/colour"]),
      ("petition.create", ["id": 1, "title": ["T"], "target": true], ["/id", "/title", "/target"]),
      ("petition.create", ["id": "x", "title": "T", "target": "X", "body": 5], ["/body"]),
      ("petition.get", [:], ["/id"]),
      ("petition.get", ["id": "p1", "verbose": true], ["/verbose"]),
      ("petition.get", ["id": 7], ["/id"]),
      ("petition.list", ["status": 1], ["/status"]),
      ("petition.list", ["state": "open"], ["/state"]),
      ("petition.close", [:], ["/id"]),
      ("petition.close", ["id": "p1", "reason": "done"], ["/reason"]),
      ("count", [:], ["/petition"]),
      ("count", ["petition": "p1", "groupBy": "week"], ["/groupBy"]),
      ("count", ["petition": "p1", "since": 12], ["/since"]),
      ("count", ["petition": "p1", "until": "tomorrow"], ["/until"]),
      ("count", ["petition": "p1", "filter": "x"], ["/filter"]),
      ("export", [:], ["/petition", "/audience", "/format"]),
      ("export", ["petition": "p1", "audience": "press", "format": "xml"], ["/audience", "/format"]),
      ("export", ["petition": "p1", "audience": "delivery", "format": "csv", "limit": "10"], ["/limit"]),
      (
        "export",
        [
          "petition": "p1", "audience": "delivery", "format": "csv", "overwrite": "yes",
          "path": "/nonexistent-petition-rpc-test-dir/x.csv",
        ], ["/overwrite"]
      ),
      (
        "export",
        [
          "petition": "p1", "audience": "delivery", "format": "csv", "progressToken": ["t"],
          "path": "/nonexistent-petition-rpc-test-dir/x.csv",
        ],
        ["/progressToken"]
      ),
      ("export", ["petition": "p1", "audience": "delivery", "format": "csv", "columns": ["email"]], ["/columns"]),
      ("unsubscribe", ["email": "not-an-email"], ["/email"]),
      ("unsubscribe", ["phone": "12"], ["/phone"]),
      ("unsubscribe", ["email": "a@example.org", "channels": ["fax"]], ["/channels/0"]),
      ("unsubscribe", ["email": "a@example.org", "channels": "email"], ["/channels"]),
      ("unsubscribe", ["email": "a@example.org", "reason": "spam"], ["/reason"]),
    ]
  }

  /// Bad params of every other method are -32602 at the right paths; none of them writes.
  @Test func badParamsOfOtherMethods() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "a@example.org"), ["optIn": ["email": true]])
    for bad in Self.badCalls {
      let response = server.call(bad.method, bad.params)
      #expect(RPC.errorCode(response) == -32602, "\(bad.method) \(bad.params)")
      #expect(Set(RPC.errorPaths(response)) == bad.paths, "\(bad.method) \(bad.params)")
      #expect(RPC.errorEntriesAreWellFormed(response), "\(bad.method) \(bad.params)")
    }
    let petitions = server.result("petition.list", [:])?["petitions"] as? [[String: Any]]
    #expect(petitions?.count == 1)
    #expect(petitions?.first?["status"] as? String == "open")
    // The rejected unsubscribes changed nothing.
    #expect(server.exportRecords("p1", audience: "contacts")?.count == 1)
  }

  /// `unsubscribe` needs exactly one of email and phone: neither, or both, is -32602.
  @Test func unsubscribeNeedsOneSubject() throws {
    let server = try start()
    let neither = server.call("unsubscribe", [:])
    #expect(RPC.errorCode(neither) == -32602)
    #expect(!RPC.errorPaths(neither).isEmpty)
    let both = server.call("unsubscribe", ["email": "a@example.org", "phone": "+12025550123"])
    #expect(RPC.errorCode(both) == -32602)
    let emptyChannels = server.call("unsubscribe", ["email": "a@example.org", "channels": [String]()])
    #expect(RPC.errorCode(emptyChannels) == -32602)
  }

  /// Positional params are -32602 for the petition methods too, and write nothing.
  @Test func positionalParamsWriteNothing() throws {
    let server = try start()
    server.send(#"{"jsonrpc":"2.0","id":1,"method":"petition.create","params":["p2","T","X"]}"# + "\n")
    #expect(RPC.errorCode(server.readObject()) == -32602)
    #expect(RPC.errorCode(server.call("petition.get", ["id": "p2"])) == 1001)
  }
}
