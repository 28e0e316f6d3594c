import JSON
import Petitions
import Service

/// Reads a params object field by field, collecting every problem with its JSON Pointer path,
/// so one response lists all of them. Fields not read by the handler are reported as unknown.
final class Params {
  /// Borrowed: the request's params, which the call keeps alive while it is read.
  private let object: JSONView?
  private let path: String
  private let problems: ProblemList
  /// Names the handler asked for (a handful: a list beats a hashed set here).
  private var readKeys: [String] = []
  /// How many of those were present, to skip the unknown-field scan when all members were read.
  private var presentCount = 0

  final class ProblemList {
    var issues: [ParamIssue] = []
  }

  init(_ object: JSON?) {
    self.object = object?.view
    self.path = ""
    self.problems = ProblemList()
    // One allocation for the names a method reads (growing from empty took three or four:
    // ~2.5k instructions a sign, whose three readers read eleven names).
    readKeys.reserveCapacity(8)
  }

  private init(object: JSONView, path: String, problems: ProblemList) {
    self.object = object
    self.path = path
    self.problems = problems
    readKeys.reserveCapacity(8)
  }

  var issues: [ParamIssue] { problems.issues }
  var isValid: Bool { problems.issues.isEmpty }

  /// The JSON Pointer of a member: `~` and `/` in the name are escaped as `~0` and `~1`.
  func pointer(_ key: String) -> String {
    guard key.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else {
      return path + "/" + key
    }
    return path + "/" + key.replacing("~", with: "~0").replacing("/", with: "~1")
  }

  func report(_ key: String, _ message: String) {
    problems.issues.append(ParamIssue(path: pointer(key), message: message))
  }

  /// A problem at an element of an array member: `/key/index`.
  func report(_ key: String, element index: Int, _ message: String) {
    problems.issues.append(ParamIssue(path: pointer(key) + "/\(index)", message: message))
  }

  /// The raw member, marked as read. JSON `null` counts as absent for optional fields.
  private func member(_ key: String) -> JSONView? {
    readKeys.append(key)
    let value = object?[key]
    if value != nil { presentCount += 1 }
    return value
  }

  func has(_ key: String) -> Bool {
    guard let value = object?[key] else { return false }
    return !value.isNull
  }

  func string(_ key: String, required: Bool = false) -> String? {
    // null reads as absent: required fields then report "is required".
    guard let value = member(key), !value.isNull else {
      if required { report(key, "is required") }
      return nil
    }
    guard let text = value.stringValue else {
      report(key, "must be a string")
      return nil
    }
    return text
  }

  /// A string checked (and normalised) by a domain rule.
  func string(_ key: String, required: Bool = false, rule: (String) -> Result<String, RuleViolation>) -> String? {
    guard let text = string(key, required: required) else { return nil }
    switch rule(text) {
    case .success(let normalized): return normalized
    case .failure(let violation):
      report(key, violation.message)
      return nil
    }
  }

  func integer(_ key: String, required: Bool = false, in range: ClosedRange<Int64>? = nil) -> Int? {
    guard let value = member(key), !value.isNull else {
      if required { report(key, "is required") }
      return nil
    }
    guard let number = value.integerValue else {
      report(key, "must be an integer")
      return nil
    }
    if let range, !range.contains(number) {
      report(key, "must be from \(range.lowerBound) to \(range.upperBound)")
      return nil
    }
    return Int(number)
  }

  func bool(_ key: String) -> Bool? {
    guard let value = member(key), !value.isNull else { return nil }
    guard let flag = value.boolValue else {
      report(key, "must be true or false")
      return nil
    }
    return flag
  }

  func choice<Choice: RawRepresentable & CaseIterable>(
    _ key: String, required: Bool = false, as type: Choice.Type
  ) -> Choice? where Choice.RawValue == String {
    guard let text = string(key, required: required) else { return nil }
    guard let value = Choice(rawValue: text) else {
      let names = Choice.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
      report(key, "must be one of \(names)")
      return nil
    }
    return value
  }

  /// An RFC 3339 date-time.
  func time(_ key: String) -> Timestamp? {
    guard let text = string(key) else { return nil }
    // since and until are bounds on millisecond timestamps: finer fractions round up.
    guard let time = RFC3339.parseBound(text) else {
      report(key, "must be an RFC 3339 date-time, e.g. 2026-11-29T07:39:19.123Z")
      return nil
    }
    return time
  }

  /// A nested object, read with its own reader; nil (and a problem) when it is not an object.
  func object(_ key: String, required: Bool = false) -> Params? {
    guard let value = member(key), !value.isNull else {
      if required { report(key, "is required") }
      return nil
    }
    guard value.isObject else {
      report(key, "must be an object")
      return nil
    }
    return Params(object: value, path: pointer(key), problems: problems)
  }

  /// The raw value of a member (marked as read), for fields with their own shape.
  func raw(_ key: String) -> JSONView? {
    guard let value = member(key), !value.isNull else { return nil }
    return value
  }

  /// Reports every member the handler did not read: no extra fields are accepted.
  func rejectUnknownFields() {
    guard let object, object.count > presentCount else { return }
    for key in object.keys where !readKeys.contains(key) {
      report(key, "is not a known field")
    }
  }

  /// Finishes reading: unknown fields are problems; returns the -32602 error if there is any.
  func finish() -> ResponseError? {
    rejectUnknownFields()
    return isValid ? nil : .invalidParams(issues)
  }
}
