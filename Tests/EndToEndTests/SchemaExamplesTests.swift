import Foundation
import TestSupport
import Testing

/// schema/openrpc.json, read from the source tree.
private func loadSchema() throws -> [String: Any] {
  let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  let data = try Data(contentsOf: root.appendingPathComponent("schema/openrpc.json"))
  return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

/// Fields whose values the server generates (times, ids): compared by type, not value.
private let generatedFields: Set<String> = [
  "createdAt", "closedAt", "signedAt", "signatureId", "nextCursor", "goalReachedAt", "anonymisedAt", "at",
  "confirmToken", "invalidationId", "signatureIds",
]

/// Made-up values that later examples pass back (a confirm's token, an invalidation's id): the
/// example's value and the value the server answered.
private let passedOnFields: Set<String> = ["signatureId", "confirmToken", "invalidationId"]

/// Records, for made-up values that examples pass back, what the server answered in their place.
private func collectPassedOn(_ expected: Any, _ actual: Any, into played: inout [String: Any]) {
  if let expected = expected as? [String: Any], let actual = actual as? [String: Any] {
    for (name, value) in expected {
      if passedOnFields.contains(name), let text = value as? String, let answered = actual[name] as? String {
        if played[text] == nil { played[text] = answered }
      } else if let other = actual[name] {
        collectPassedOn(value, other, into: &played)
      }
    }
  } else if let expected = expected as? [Any], let actual = actual as? [Any] {
    for (value, other) in zip(expected, actual) { collectPassedOn(value, other, into: &played) }
  }
}

/// An example's params with made-up values replaced by the server's.
private func substitute(_ value: Any, _ played: [String: Any]) -> Any {
  if let text = value as? String { return played[text] ?? text }
  if let list = value as? [Any] { return list.map { substitute($0, played) } }
  if let object = value as? [String: Any] { return object.mapValues { substitute($0, played) } }
  return value
}

/// Compares an example result with the server's: equal, except generated fields, which must
/// have the same JSON type (string vs null).
private func matches(_ expected: Any, _ actual: Any, key: String? = nil, path: String = "") -> [String] {
  if let key, generatedFields.contains(key) {
    if let expected = expected as? [Any], let actual = actual as? [Any] {
      return expected.count == actual.count ? [] : ["\(path): \(actual.count) elements, not \(expected.count)"]
    }
    let bothNull = expected is NSNull && actual is NSNull
    let bothStrings = expected is String && actual is String
    return bothNull || bothStrings ? [] : ["\(path): \(actual) is not like \(expected)"]
  }
  switch (expected, actual) {
  case (let expected as [String: Any], let actual as [String: Any]):
    var problems: [String] = []
    if Set(expected.keys) != Set(actual.keys) {
      problems.append("\(path): keys \(actual.keys.sorted()) != \(expected.keys.sorted())")
    }
    for (name, value) in expected {
      if let other = actual[name] { problems += matches(value, other, key: name, path: path + "/" + name) }
    }
    return problems
  case (let expected as [Any], let actual as [Any]):
    guard expected.count == actual.count else { return ["\(path): \(actual.count) elements, not \(expected.count)"] }
    return zip(expected, actual).enumerated().flatMap { matches($1.0, $1.1, path: path + "/\($0)") }
  default:
    return (expected as? NSObject) == (actual as? NSObject) ? [] : ["\(path): \(actual) != \(expected)"]
  }
}

@Suite struct SchemaExamplesTests {
  /// Every example pairing in schema/openrpc.json, played in order through the real binary on a
  /// fresh store, gets the documented result: the server's params checks agree with the schema.
  @Test func examplesRunThroughTheBinary() throws {
    let schema = try loadSchema()
    let methods = schema["methods"] as! [[String: Any]]
    let server = try ServerProcess(arguments: ["--db", ":memory:"])
    var played = 0
    var passedOn: [String: Any] = [:]
    for method in methods {
      let name = method["name"] as! String
      let examples = method["examples"] as? [[String: Any]] ?? []
      #expect(!examples.isEmpty, "\(name) has no example")
      for example in examples {
        var params: [String: Any] = [:]
        for param in example["params"] as? [[String: Any]] ?? [] {
          params[param["name"] as! String] = param["value"].map { substitute($0, passedOn) }
        }
        let response = server.call(name, params)
        let exampleName = example["name"] as? String ?? "?"
        if name == "rpc.discover" {
          let document = response?["result"] as? NSDictionary
          #expect(document == (schema as NSDictionary), "rpc.discover returns the schema")
          played += 1
          continue
        }
        guard let expected = (example["result"] as? [String: Any])?["value"] else {
          Issue.record("\(exampleName) has no result")
          continue
        }
        guard let actual = response?["result"] else {
          Issue.record("\(exampleName): \(String(describing: response))")
          continue
        }
        collectPassedOn(expected, actual, into: &passedOn)
        let problems = matches(expected, actual)
        #expect(problems.isEmpty, "\(exampleName): \(problems)")
        played += 1
      }
    }
    #expect(played >= methods.count)
  }

  /// Every method of the contract is described in the schema.
  @Test func schemaNamesEveryMethod() throws {
    let names = Set((try loadSchema()["methods"] as! [[String: Any]]).map { $0["name"] as! String })
    #expect(
      names == [
        "petition.create", "petition.get", "petition.list", "petition.close", "sign", "count", "export",
        "unsubscribe", "rpc.discover", "confirm", "consent.history", "signature.invalidate", "invalidation.list",
        "signature.revalidate", "person.erase", "petition.anonymise", "import",
      ])
  }
}
