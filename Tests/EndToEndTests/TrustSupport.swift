import Foundation
import TestSupport
import Testing

/// Helpers for the end-to-end tests of contract v2's methods (confirmation, invalidation,
/// erasure, anonymisation, consent history).
extension ServerProcess {
  /// `petition.create` with any extra params (e.g. `confirmation`); the result.
  @discardableResult
  func create(_ id: String, _ extra: [String: Any] = [:]) -> [String: Any]? {
    var params: [String: Any] = ["id": id, "title": "Keep the library open", "target": "City Council"]
    for (key, value) in extra { params[key] = value }
    return result("petition.create", params)
  }

  func petition(_ id: String) -> [String: Any]? { result("petition.get", ["id": id]) }

  /// The groups of `count` by `grouping` as [key: count].
  func groups(_ petition: String, by grouping: String) -> [String: Int]? {
    guard let answer = result("count", ["petition": petition, "groupBy": grouping]),
      let groups = answer["groups"] as? [[String: Any]]
    else { return nil }
    var result: [String: Int] = [:]
    for group in groups { result[group["key"] as! String] = group["count"] as? Int }
    return result
  }

  /// The total and every groupBy of a petition: what must not change through erasure and
  /// anonymisation.
  func tally(_ petition: String) -> [String: [String: Int]] {
    var tally: [String: [String: Int]] = ["total": ["": total(petition) ?? -1]]
    for grouping in ["day", "postalCode", "country", "source"] {
      tally[grouping] = groups(petition, by: grouping) ?? ["missing": -1]
    }
    return tally
  }

  /// The signatureIds of a json export (delivery unless asked otherwise).
  func exportedIDs(_ petition: String, audience: String = "delivery") -> [String]? {
    exportRecords(petition, audience: audience)?.compactMap { $0["signatureId"] as? String }
  }

  /// Consent events of a person, by email or phone.
  func history(email: String) -> [[String: Any]]? {
    result("consent.history", ["email": email])?["events"] as? [[String: Any]]
  }

  func history(phone: String) -> [[String: Any]]? {
    result("consent.history", ["phone": phone])?["events"] as? [[String: Any]]
  }

  /// Closes stdin and waits for the server to exit (every answer sent, the store closed).
  func stop() {
    closeInput()
    waitForExit()
  }
}

/// Runs the `sqlite3` command-line tool on a store file (for what no method can do: moving a
/// petition's close time back, checkpointing the WAL). Returns its output.
@discardableResult
func sqlite3(_ path: String, _ sql: String) -> String {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
  process.arguments = [path, sql]
  let output = Pipe()
  process.standardOutput = output
  process.standardError = FileHandle.nullDevice
  do { try process.run() } catch { return "" }
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return String(decoding: data, as: UTF8.self)
}

/// Whether `needle` occurs in the bytes of the file at `path` (false when there is no file).
func fileContains(_ path: String, _ needle: String) -> Bool {
  guard let data = FileManager.default.contents(atPath: path) else { return false }
  return data.range(of: Data(needle.utf8)) != nil
}

/// A URL-safe token of at least 128 bits (22 base64 characters).
func isConfirmToken(_ value: Any?) -> Bool {
  guard let text = value as? String, text.utf8.count >= 22 else { return false }
  return text.utf8.allSatisfy {
    ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
      || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
  }
}
