import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Helpers for end-to-end tests of the petition methods: building params, reading responses,
/// pipelining many requests, and checking files the server wrote.

/// Writing to a server that was killed must fail with EPIPE, not kill the test runner.
public func ignoreBrokenPipes() {
  signal(SIGPIPE, SIG_IGN)
}

/// Reading JSON-RPC responses.
public enum RPC {
  /// The error code of a response, nil when it is a success (or missing).
  public static func errorCode(_ response: [String: Any]?) -> Int? {
    (response?["error"] as? [String: Any])?["code"] as? Int
  }

  /// The JSON Pointer paths of a -32602 error's `data.errors`.
  public static func errorPaths(_ response: [String: Any]?) -> [String] {
    let data = (response?["error"] as? [String: Any])?["data"] as? [String: Any]
    let errors = data?["errors"] as? [[String: Any]] ?? []
    return errors.compactMap { $0["path"] as? String }
  }

  /// Whether every entry of `data.errors` has a string `path` and a string `message`.
  public static func errorEntriesAreWellFormed(_ response: [String: Any]?) -> Bool {
    let data = (response?["error"] as? [String: Any])?["data"] as? [String: Any]
    guard let errors = data?["errors"] as? [[String: Any]], !errors.isEmpty else { return false }
    return errors.allSatisfy { $0["path"] is String && $0["message"] is String }
  }

  public static func result(_ response: [String: Any]?) -> [String: Any]? {
    response?["result"] as? [String: Any]
  }

  /// One JSON text on one line (without the line feed).
  public static func line(_ object: Any) -> String {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])
    return String(decoding: data, as: UTF8.self)
  }

  public static func request(_ id: Any, _ method: String, _ params: [String: Any]) -> [String: Any] {
    ["jsonrpc": "2.0", "id": id, "method": method, "params": params]
  }

  public static func parse(_ text: String) -> Any? {
    try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
  }
}

/// A valid signer; override any field.
public func makeSigner(
  email: String, firstName: String = "Ada", lastName: String = "Lovelace", postalCode: String = "20001",
  country: String? = nil, phone: String? = nil
) -> [String: Any] {
  var signer: [String: Any] = [
    "email": email, "firstName": firstName, "lastName": lastName, "postalCode": postalCode,
  ]
  if let country { signer["country"] = country }
  if let phone { signer["phone"] = phone }
  return signer
}

/// Params for `sign`.
public func signParams(_ petition: String, _ signer: [String: Any], _ extra: [String: Any] = [:]) -> [String: Any] {
  var params: [String: Any] = ["petition": petition, "signer": signer]
  for (key, value) in extra { params[key] = value }
  return params
}

/// A value that crosses threads in a test where the test itself orders the accesses.
public final class Unchecked<Value>: @unchecked Sendable {
  public let value: Value
  public init(_ value: Value) { self.value = value }
}

/// A flag set by one thread and read by another.
public final class SharedFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var flag = false
  public init() {}
  public var isSet: Bool { lock.withLock { flag } }
  public func set() { lock.withLock { flag = true } }
}

extension ServerProcess {
  /// Starts the server on the store file `path`, with extra flags.
  public static func start(
    store path: String, _ extra: [String] = [], workingDirectory: String? = nil
  ) throws -> ServerProcess {
    ignoreBrokenPipes()
    return try ServerProcess(arguments: ["--db", path] + extra, workingDirectory: workingDirectory)
  }

  /// `petition.create` with sensible defaults; the result (nil on error).
  @discardableResult
  public func createPetition(
    _ id: String, title: String = "Keep the library open", target: String = "City Council",
    body: String? = nil, goal: Int? = nil
  ) -> [String: Any]? {
    var params: [String: Any] = ["id": id, "title": title, "target": target]
    if let body { params["body"] = body }
    if let goal { params["goal"] = goal }
    return result("petition.create", params)
  }

  /// `sign`: the whole response.
  public func sign(_ petition: String, _ signer: [String: Any], _ extra: [String: Any] = [:]) -> [String: Any]? {
    call("sign", signParams(petition, signer, extra))
  }

  /// The petition's total from `count`.
  public func total(_ petition: String) -> Int? {
    result("count", ["petition": petition])?["total"] as? Int
  }

  /// Every row of a json export, following nextCursor; nil if a page fails.
  public func exportRecords(
    _ petition: String, audience: String, limit: Int = 10_000, extra: [String: Any] = [:]
  ) -> [[String: Any]]? {
    var records: [[String: Any]] = []
    var cursor: String? = nil
    for _ in 0..<10_000 {
      var params: [String: Any] = ["petition": petition, "audience": audience, "format": "json", "limit": limit]
      for (key, value) in extra { params[key] = value }
      if let cursor { params["cursor"] = cursor }
      guard let page = result("export", params), let rows = page["records"] as? [[String: Any]] else { return nil }
      records += rows
      guard let next = page["nextCursor"] as? String else { return records }
      cursor = next
    }
    return nil
  }

  /// Sends `requests` as JSON-RPC batch arrays of `batchSize`, one line each, reading each
  /// batch's response array before the next; returns every response entry.
  public func sendBatches(_ requests: [[String: Any]], batchSize: Int = 1000, timeout: Double = 60) -> [[String: Any]] {
    var responses: [[String: Any]] = []
    var start = 0
    while start < requests.count {
      let slice = Array(requests[start..<min(start + batchSize, requests.count)])
      start += slice.count
      send(RPC.line(slice) + "\n")
      guard let answer = readJSON(timeout: timeout) as? [[String: Any]] else { return responses }
      responses += answer
    }
    return responses
  }

  /// Signs many signers on `petition` with batches; the responses (in request order).
  public func signInBatches(
    _ petition: String, _ signers: [[String: Any]], extra: [String: Any] = [:], batchSize: Int = 1000
  ) -> [[String: Any]] {
    let tag = UUID().uuidString.prefix(8)
    let requests = signers.enumerated().map { index, signer in
      RPC.request("\(tag)-\(index)", "sign", signParams(petition, signer, extra))
    }
    let responses = sendBatches(requests, batchSize: batchSize)
    var byID: [String: [String: Any]] = [:]
    for response in responses { if let id = response["id"] as? String { byID[id] = response } }
    return requests.compactMap { byID[$0["id"] as! String] }
  }

  /// Sends every request (which must have distinct string ids) from a writer thread, one line
  /// each, without waiting, while this thread reads the responses. Returns the responses by id.
  /// `onResponse` is called for each response read; returning false stops reading.
  public func pipeline(
    _ requests: [[String: Any]], timeout: Double = 60, onResponse: (([String: Any]) -> Bool)? = nil
  ) -> [String: [String: Any]] {
    ignoreBrokenPipes()
    let lines = Unchecked(requests.map { Array((RPC.line($0) + "\n").utf8) })
    let server = Unchecked(self)
    let finished = DispatchSemaphore(value: 0)
    let writer = Thread {
      for line in lines.value { server.value.send(line) }
      finished.signal()
    }
    writer.start()
    var responses: [String: [String: Any]] = [:]
    let deadline = Date().addingTimeInterval(timeout)
    while responses.count < requests.count, Date() < deadline {
      guard let message = readObject(timeout: max(0.1, deadline.timeIntervalSinceNow)) else { break }
      guard let id = message["id"] as? String, message["method"] == nil else { continue }
      responses[id] = message
      if let onResponse, !onResponse(message) { break }
    }
    // The writer ends once everything is written, or at once when the server is gone.
    _ = finished.wait(timeout: .now() + 10)
    return responses
  }
}

/// The SHA-256 of a file, lowercase hex, computed by /usr/bin/sha256sum.
public func sha256Hex(ofFile path: String) -> String? {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
  process.arguments = [path]
  let output = Pipe()
  process.standardOutput = output
  do { try process.run() } catch { return nil }
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else { return nil }
  return String(decoding: data, as: UTF8.self).split(separator: " ").first.map(String.init)
}

/// The permission bits of a file (e.g. 0o600), nil if it does not exist.
public func permissionBits(ofFile path: String) -> Int? {
  var info = stat()
  guard stat(path, &info) == 0 else { return nil }
  return Int(info.st_mode & 0o7777)
}

/// The size of a file in bytes.
public func fileSize(_ path: String) -> Int? {
  var info = stat()
  guard stat(path, &info) == 0 else { return nil }
  return Int(info.st_size)
}

/// The names in a directory.
public func directoryEntries(_ path: String) -> [String] {
  ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// Parses RFC 4180 CSV (CRLF record ends, quoted fields with doubled quotes) into records of
/// fields. Works on Unicode scalars, so a CRLF is two separators, never one character.
public func parseCSV(_ text: String) -> [[String]] {
  var records: [[String]] = []
  var record: [String] = []
  var field = String.UnicodeScalarView()
  var inQuotes = false
  var scalars = Array(text.unicodeScalars)[...]
  var fieldStarted = false
  while let scalar = scalars.popFirst() {
    if inQuotes {
      if scalar == "\"" {
        if scalars.first == "\"" {
          field.append("\"")
          scalars.removeFirst()
        } else {
          inQuotes = false
        }
      } else {
        field.append(scalar)
      }
      continue
    }
    switch scalar {
    case "\"" where field.isEmpty:
      inQuotes = true
      fieldStarted = true
    case ",":
      record.append(String(field))
      field = String.UnicodeScalarView()
      fieldStarted = true
    case "\r" where scalars.first == "\n":
      scalars.removeFirst()
      record.append(String(field))
      records.append(record)
      record = []
      field = String.UnicodeScalarView()
      fieldStarted = false
    default:
      field.append(scalar)
      fieldStarted = true
    }
  }
  if fieldStarted || !record.isEmpty {
    record.append(String(field))
    records.append(record)
  }
  return records
}

/// A write lock on a SQLite file held by another process: the `sqlite3` command-line tool
/// inside `BEGIN IMMEDIATE` until `release()`.
public final class SQLiteLockHolder {
  private let process = Process()
  private let input = Pipe()
  private let output = Pipe()

  /// Starts `sqlite3 path`, begins an IMMEDIATE transaction and returns once it holds the lock.
  public init?(path: String) {
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    process.arguments = [path]
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    input.fileHandleForWriting.write(Data("BEGIN IMMEDIATE;\nSELECT 'locked';\n".utf8))
    // Wait for the answer: the lock is held once the SELECT inside the transaction ran.
    var seen = Data()
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
      let chunk = output.fileHandleForReading.availableData
      if chunk.isEmpty { return nil }
      seen.append(chunk)
      if String(decoding: seen, as: UTF8.self).contains("locked") { return }
    }
    return nil
  }

  private var released = false

  /// Commits (nothing was written) and ends the tool. Releasing twice is harmless.
  public func release() {
    guard !released else { return }
    released = true
    input.fileHandleForWriting.write(Data("COMMIT;\n.quit\n".utf8))
    try? input.fileHandleForWriting.close()
    process.waitUntilExit()
  }

  deinit {
    if process.isRunning { process.terminate() }
  }
}

/// RFC 3339 time arithmetic on the server's `YYYY-MM-DDTHH:MM:SS.mmmZ` strings, exact to the
/// millisecond (no floating point).
public enum UTCTime {
  /// Milliseconds since the epoch of `2026-11-29T07:39:19.123Z`.
  public static func milliseconds(_ text: String) -> Int64? {
    let digits = text.unicodeScalars.map { $0 }
    guard digits.count == 24, text.hasSuffix("Z") else { return nil }
    func number(_ from: Int, _ length: Int) -> Int64? {
      Int64(String(String.UnicodeScalarView(digits[from..<(from + length)])))
    }
    guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
      let minute = number(14, 2), let second = number(17, 2), let milli = number(20, 3)
    else { return nil }
    let days = daysFromCivil(year, month, day)
    return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli
  }

  /// The instant `milliseconds` written with a UTC offset of `offsetMinutes` and `fraction`
  /// digits of fraction (3 = milliseconds, 6 = microseconds with trailing zeros, 0 = none).
  public static func format(_ milliseconds: Int64, offsetMinutes: Int = 0, fraction: Int = 3, zulu: Bool = true)
    -> String
  {
    let local = milliseconds + Int64(offsetMinutes) * 60_000
    let days = Int64((Double(local) / 86_400_000).rounded(.down))
    var rest = local - days * 86_400_000
    let (year, month, day) = civilFromDays(days)
    let hour = rest / 3_600_000
    rest %= 3_600_000
    let minute = rest / 60_000
    rest %= 60_000
    let second = rest / 1000
    let milli = rest % 1000
    func pad(_ value: Int64, _ width: Int) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
    if fraction > 0 {
      text += "." + String((pad(milli, 3) + String(repeating: "0", count: max(0, fraction - 3))).prefix(fraction))
    }
    if offsetMinutes == 0 && zulu { return text + "Z" }
    let sign = offsetMinutes < 0 ? "-" : "+"
    let magnitude = Int64(abs(offsetMinutes))
    return text + sign + pad(magnitude / 60, 2) + ":" + pad(magnitude % 60, 2)
  }

  private static func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
  }

  private static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    return (month <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, month, day)
  }
}

/// A memory bound of a test, in the unit given, scaled for a server built with a sanitizer.
///
/// ThreadSanitizer and AddressSanitizer keep shadow memory (and ASan a quarantine) in proportion
/// to what the process uses, so a bounded server still measures a few times its usual RSS;
/// `make test-sanitizers` sets `PETITION_RPC_TEST_MEMORY_FACTOR` (4). The bound stays a bound:
/// what these tests catch (memory growing with the input: gigabytes) still fails.
public func memoryBound(_ value: Int) -> Int {
  let factor = ProcessInfo.processInfo.environment["PETITION_RPC_TEST_MEMORY_FACTOR"].flatMap { Int($0) } ?? 1
  return value * max(1, factor)
}

/// A time bound of a test, in seconds, scaled for a server built with a sanitizer.
///
/// ThreadSanitizer makes the server several times slower; on a loaded 2-core machine its first
/// page export of 400 answered in 107 ms against a 100 ms bound (CI, stop 17).
/// `make test-sanitizers` sets `PETITION_RPC_TEST_TIME_FACTOR` (4). The bound stays a bound:
/// what these tests catch (answers held until a whole run ends: seconds; a cancel that waits
/// out the busy timeout: 5 s) still fails.
public func timeBound(_ seconds: Double) -> Double {
  let factor = ProcessInfo.processInfo.environment["PETITION_RPC_TEST_TIME_FACTOR"].flatMap { Double($0) } ?? 1
  return seconds * max(1, factor)
}
