import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Reads a whole file as UTF-8 text.
private func contents(_ path: String) -> String? {
  (try? Data(contentsOf: URL(fileURLWithPath: path))).map { String(decoding: $0, as: UTF8.self) }
}

/// Checks a file export's result against the file: bytes, sha256, mode 0600.
private func expectResultMatchesFile(
  _ result: [String: Any]?, path: String, count: Int, sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(
    Set(result.map { Array($0.keys) } ?? []) == ["path", "count", "bytes", "sha256"], sourceLocation: sourceLocation)
  #expect(result?["count"] as? Int == count, sourceLocation: sourceLocation)
  #expect(result?["bytes"] as? Int == fileSize(path), sourceLocation: sourceLocation)
  let sha = result?["sha256"] as? String
  #expect(sha != nil && sha == sha256Hex(ofFile: path), sourceLocation: sourceLocation)
  #expect(sha?.range(of: "^[0-9a-f]{64}$", options: .regularExpression) != nil, sourceLocation: sourceLocation)
  #expect(permissionBits(ofFile: path) == 0o600, sourceLocation: sourceLocation)
}

/// `export` with `path`: the whole export written to a file, atomically, with its digest.
@Suite struct ExportFileEndToEnd {
  let directory = TemporaryDirectory()
  var store: String { directory.file("store.sqlite3") }

  func start(rows: Int = 3) throws -> ServerProcess {
    let server = try ServerProcess.start(store: store)
    server.createPetition("p1")
    let signers = (0..<rows).map {
      makeSigner(email: "f\($0)@example.org", firstName: "=Name\($0)", phone: "202555\(String(format: "%04d", $0))")
    }
    _ = server.signInBatches("p1", signers, extra: ["optIn": ["email": true, "sms": true], "comment": "a, \"b\"\nc"])
    return server
  }

  func export(_ server: ServerProcess, _ params: [String: Any]) -> [String: Any]? {
    server.call("export", ["petition": "p1"].merging(params) { $1 })
  }

  /// The files in the test directory other than the store's own.
  func otherFiles() -> [String] {
    directoryEntries(directory.path).filter { !$0.hasPrefix("store.sqlite3") }
  }

  /// A csv file export: result {path,count,bytes,sha256} matches the file, mode 0600, full csv.
  @Test func csvFile() throws {
    let server = try start()
    let path = directory.file("delivery.csv")
    let result = RPC.result(export(server, ["audience": "delivery", "format": "csv", "path": path]))
    expectResultMatchesFile(result, path: path, count: 3)
    #expect(result?["path"] as? String == path)
    let rows = parseCSV(try #require(contents(path)))
    #expect(rows.first == ["signatureId", "firstName", "lastName", "postalCode", "country", "comment", "signedAt"])
    #expect(rows.count == 4)
    #expect(rows.dropFirst().map { $0[1] } == ["'=Name0", "'=Name1", "'=Name2"])
    #expect(rows.dropFirst().allSatisfy { $0[5] == "a, \"b\"\nc" })
    #expect(otherFiles() == ["delivery.csv"])
  }

  /// Contacts to a csv file: guarded phones, and the same rows as the paged export.
  @Test func contactsCSVFile() throws {
    let server = try start()
    let path = directory.file("contacts.csv")
    let result = RPC.result(export(server, ["audience": "contacts", "format": "csv", "path": path]))
    expectResultMatchesFile(result, path: path, count: 3)
    let text = try #require(contents(path))
    let inline =
      server.result("export", ["petition": "p1", "audience": "contacts", "format": "csv"])?["data"] as? String
    #expect(text == inline)
    #expect(parseCSV(text).dropFirst().map { $0[6] } == ["'+12025550000", "'+12025550001", "'+12025550002"])
  }

  /// A json file export is one JSON array of the records.
  @Test func jsonFileIsOneArray() throws {
    let server = try start()
    let path = directory.file("delivery.json")
    let result = RPC.result(export(server, ["audience": "delivery", "format": "json", "path": path]))
    expectResultMatchesFile(result, path: path, count: 3)
    let text = try #require(contents(path))
    let array = try #require(RPC.parse(text) as? [[String: Any]])
    let inline = try #require(server.exportRecords("p1", audience: "delivery"))
    #expect(array.count == 3)
    #expect(array.compactMap { $0["signatureId"] as? String } == inline.compactMap { $0["signatureId"] as? String })
    #expect(array.first?["firstName"] as? String == "=Name0")
  }

  /// An empty json file export is `[]`.
  @Test func emptyJSONFile() throws {
    let server = try start(rows: 0)
    let path = directory.file("empty.json")
    let result = RPC.result(export(server, ["audience": "contacts", "format": "json", "path": path]))
    expectResultMatchesFile(result, path: path, count: 0)
    #expect((RPC.parse(contents(path) ?? "") as? [Any])?.isEmpty == true)
  }

  /// An ndjson file has one object per line, each line ended by "\n".
  @Test func ndjsonFile() throws {
    let server = try start()
    let path = directory.file("contacts.ndjson")
    let result = RPC.result(export(server, ["audience": "contacts", "format": "ndjson", "path": path]))
    expectResultMatchesFile(result, path: path, count: 3)
    let text = try #require(contents(path))
    #expect(text.utf8.last == UInt8(ascii: "\n"))
    let lines = text.split(separator: "\n").map { RPC.parse(String($0)) as? [String: Any] }
    #expect(lines.count == 3)
    #expect(lines.allSatisfy { $0?["email"] is String && $0?["optInSms"] as? Bool == true })
  }

  /// An existing path is 1004 and the file is left alone, unless overwrite is true.
  @Test func existingPath() throws {
    let server = try start()
    let path = directory.file("out.csv")
    try Data("keep me\n".utf8).write(to: URL(fileURLWithPath: path))
    for params: [String: Any] in [["path": path], ["path": path, "overwrite": false]] {
      let response = export(server, ["audience": "delivery", "format": "csv"].merging(params) { $1 })
      #expect(RPC.errorCode(response) == 1004)
      #expect(contents(path) == "keep me\n")
    }
    let result = RPC.result(export(server, ["audience": "delivery", "format": "csv", "path": path, "overwrite": true]))
    expectResultMatchesFile(result, path: path, count: 3)
    #expect(parseCSV(contents(path) ?? "").count == 4)
    #expect(otherFiles() == ["out.csv"])
  }

  /// A second export to the same path is refused: the first file stays.
  @Test func secondExportToTheSamePath() throws {
    let server = try start()
    let path = directory.file("once.json")
    let first = RPC.result(export(server, ["audience": "delivery", "format": "json", "path": path]))
    #expect(first != nil)
    #expect(RPC.errorCode(export(server, ["audience": "contacts", "format": "csv", "path": path])) == 1004)
    #expect(sha256Hex(ofFile: path) == first?["sha256"] as? String)
  }

  /// A path that cannot be written (no such directory) is 1004, and nothing is left behind.
  @Test func unwritablePath() throws {
    let server = try start()
    let missing = directory.file("no-such-dir/out.csv")
    #expect(RPC.errorCode(export(server, ["audience": "delivery", "format": "csv", "path": missing])) == 1004)
    // A directory is not a file to write either.
    let folder = directory.file("folder")
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
    #expect(
      RPC.errorCode(export(server, ["audience": "delivery", "format": "csv", "path": folder, "overwrite": true]))
        == 1004)
    #expect(otherFiles() == ["folder"])
    #expect(directoryEntries(folder).isEmpty)
  }

  /// `overwrite: true` replaces a file, never a pipe or device: renaming the export over a FIFO
  /// (or /dev/null) turned it into a regular file. Such a path is 1004, left as it was; a
  /// symbolic link is replaced by the file, and what it points to is left alone.
  @Test func overwriteNeverReplacesAPipe() throws {
    let server = try start()
    let fifo = directory.file("pipe")
    #expect(mkfifo(fifo, 0o600) == 0)
    let response = export(server, ["audience": "delivery", "format": "csv", "path": fifo, "overwrite": true])
    #expect(RPC.errorCode(response) == 1004)
    #expect(((response?["error"] as? [String: Any])?["message"] as? String)?.contains("not a regular file") == true)
    var info = stat()
    #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
    #expect(otherFiles() == ["pipe"])

    let target = directory.file("target.csv")
    try Data("kept\n".utf8).write(to: URL(fileURLWithPath: target))
    let link = directory.file("link.csv")
    #expect(symlink(target, link) == 0)
    let result = RPC.result(export(server, ["audience": "delivery", "format": "csv", "path": link, "overwrite": true]))
    expectResultMatchesFile(result, path: link, count: 3)
    #expect(contents(target) == "kept\n")
  }

  /// A relative path is relative to the server's working directory.
  @Test func relativePath() throws {
    _ = try start(rows: 2).killHard()
    let server = try ServerProcess(arguments: ["--db", "store.sqlite3"], workingDirectory: directory.path)
    let result = RPC.result(
      server.call("export", ["petition": "p1", "audience": "delivery", "format": "ndjson", "path": "rel.ndjson"]))
    let path = directory.file("rel.ndjson")
    expectResultMatchesFile(result, path: path, count: 2)
    #expect(otherFiles() == ["rel.ndjson"])
  }

  /// With a progressToken, `$/progress` begin … end arrive before the response, with the token.
  @Test(arguments: [RPCToken.text("job-1"), RPCToken.number(42)])
  func progressNotifications(token: RPCToken) throws {
    let server = try start()
    let path = directory.file("progress.csv")
    server.sendLine(
      RPC.request(
        "progress", "export",
        ["petition": "p1", "audience": "delivery", "format": "csv", "path": path, "progressToken": token.value]))
    var notifications: [[String: Any]] = []
    var response: [String: Any]? = nil
    while let message = server.readObject() {
      if message["method"] as? String == "$/progress" {
        notifications.append(message["params"] as? [String: Any] ?? [:])
      } else {
        response = message
        break
      }
    }
    #expect(response?["id"] as? String == "progress")
    expectResultMatchesFile(RPC.result(response), path: path, count: 3)
    let kinds = notifications.map { ($0["value"] as? [String: Any])?["kind"] as? String }
    #expect(kinds.first == "begin")
    #expect(kinds.last == "end")
    #expect(kinds.dropFirst().dropLast().allSatisfy { $0 == "report" })
    #expect(notifications.allSatisfy { token.matches($0["token"]) })
    let end = notifications.last?["value"] as? [String: Any]
    if let done = end?["done"] { #expect(done as? Int == 3) }
    if let total = (notifications.first?["value"] as? [String: Any])?["total"] { #expect(total as? Int == 3) }
  }

  /// A page export with a progressToken sends `begin` and `end` (done = the page's rows) before
  /// its answer.
  @Test func progressOfAPage() throws {
    let server = try start()
    server.sendLine(
      RPC.request(
        "page", "export",
        ["petition": "p1", "audience": "delivery", "format": "json", "limit": 2, "progressToken": "pg"]))
    var kinds: [String?] = []
    var lastDone: Int?
    while let message = server.readObject() {
      guard message["method"] as? String == "$/progress" else {
        #expect(message["id"] as? String == "page")
        #expect(RPC.result(message)?["count"] as? Int == 2)
        break
      }
      let params = message["params"] as? [String: Any]
      #expect(params?["token"] as? String == "pg")
      let value = params?["value"] as? [String: Any]
      kinds.append(value?["kind"] as? String)
      lastDone = value?["done"] as? Int
    }
    #expect(kinds == ["begin", "end"])
    #expect(lastDone == 2)
  }

  /// Without a progressToken no `$/progress` is sent.
  @Test func noProgressWithoutToken() throws {
    let server = try start()
    server.sendLine(
      RPC.request(
        "quiet", "export", ["petition": "p1", "audience": "delivery", "format": "csv", "path": directory.file("q.csv")])
    )
    let first = server.readObject()
    #expect(first?["id"] as? String == "quiet")
    #expect(first?["method"] == nil)
  }
}

/// A progress token: a string or an integer.
enum RPCToken: Sendable, CustomStringConvertible {
  case text(String)
  case number(Int)

  var value: Any {
    switch self {
    case .text(let text): return text
    case .number(let number): return number
    }
  }

  func matches(_ other: Any?) -> Bool {
    switch self {
    case .text(let text): return other as? String == text
    case .number(let number): return other as? Int == number && !(other is String)
    }
  }

  var description: String { "\(value)" }
}

/// One store of ~100k signatures, seeded once for the large-export tests.
private final class LargeStore: @unchecked Sendable {
  static let shared = LargeStore()
  static let rows = 100_000
  let directory = TemporaryDirectory()
  private let lock = NSLock()
  private var seeded = false

  private var users = 0

  var path: String { directory.file("store.sqlite3") }

  /// Called by each of the suite's tests when done: the last one removes the store's files.
  func finished(tests: Int) {
    lock.withLock {
      users += 1
      if users == tests { try? FileManager.default.removeItem(atPath: directory.path) }
    }
  }

  /// Seeds the store (once) with JSON-RPC batches of 1000 signs per line, written by a thread
  /// while this one reads the answers (client and server work at the same time).
  func seed() throws -> Bool {
    try lock.withLock {
      if seeded { return true }
      let server = try ServerProcess.start(store: path)
      server.createPetition("big")
      let chunk = 1000
      let batches = Self.rows / chunk
      let box = Unchecked(server)
      let written = DispatchSemaphore(value: 0)
      let writer = Thread {
        for batch in 0..<batches {
          var line = "["
          for index in (batch * chunk)..<((batch + 1) * chunk) {
            if index > batch * chunk { line += "," }
            line +=
              #"{"jsonrpc":"2.0","id":\#(index),"method":"sign","params":{"petition":"big","optIn":{"email":true},"#
            line +=
              #""signer":{"email":"bulk\#(index)@example.org","firstName":"Bulk\#(index)","lastName":"Lovelace","postalCode":"20001"}}}"#
          }
          box.value.send(line + "]\n")
        }
        written.signal()
      }
      writer.start()
      var signed = 0
      for _ in 0..<batches {
        guard let line = server.readLine(timeout: 60) else { break }
        // Each successful sign answers with a duplicate flag: count them without parsing.
        signed += line.components(separatedBy: #""duplicate":false"#).count - 1
      }
      _ = written.wait(timeout: .now() + 10)
      seeded = signed == Self.rows && server.total("big") == Self.rows
      return seeded
    }
  }
}

/// Large file exports: atomic publication, progress reports, and `$/cancelRequest`.
@Suite(.serialized) struct LargeExportEndToEnd {
  let output = TemporaryDirectory()

  /// Progress over a large export: begin, reports with growing done, end, then the response;
  /// and a reader polling the path never sees a partial file.
  @Test func largeExportIsPublishedWhole() throws {
    defer { LargeStore.shared.finished(tests: 3) }
    try #require(try LargeStore.shared.seed())
    let server = try ServerProcess.start(store: LargeStore.shared.path)
    let path = output.file("big.csv")
    let stop = SharedFlag()
    let sizes = Unchecked(NSMutableArray())
    let watcher = Thread {
      while !stop.isSet {
        if let size = fileSize(path) { sizes.value.add(size) }
        usleep(500)
      }
    }
    watcher.start()
    server.sendLine(
      RPC.request(
        "big", "export",
        ["petition": "big", "audience": "contacts", "format": "csv", "path": path, "progressToken": "t"]))
    var values: [[String: Any]] = []
    var response: [String: Any]? = nil
    while let message = server.readObject(timeout: 60) {
      if message["method"] as? String == "$/progress" {
        values.append((message["params"] as? [String: Any])?["value"] as? [String: Any] ?? [:])
      } else {
        response = message
        break
      }
    }
    stop.set()
    usleep(5000)
    let result = try #require(RPC.result(response))
    #expect(result["count"] as? Int == LargeStore.rows)
    let bytes = try #require(result["bytes"] as? Int)
    #expect(bytes == fileSize(path))
    #expect(result["sha256"] as? String == sha256Hex(ofFile: path))
    let observed = (sizes.value as? [Int]) ?? sizes.value.compactMap { ($0 as? NSNumber)?.intValue }
    #expect(observed.allSatisfy { $0 == bytes }, "a reader saw a partial file")
    let kinds = values.map { $0["kind"] as? String }
    #expect(kinds.first == "begin")
    #expect(kinds.last == "end")
    let done = values.filter { $0["kind"] as? String == "report" }.compactMap { $0["done"] as? Int }
    #expect(done == done.sorted())
    #expect(values.last?["done"] as? Int == LargeStore.rows)
    #expect(directoryEntries(output.path) == ["big.csv"])
  }

  /// `$/cancelRequest` during a large file export: -32800, no file, no temporary file left.
  @Test func cancelLeavesNoFile() throws {
    defer { LargeStore.shared.finished(tests: 3) }
    try #require(try LargeStore.shared.seed())
    let server = try ServerProcess.start(store: LargeStore.shared.path)
    let path = output.file("cancelled.json")
    server.sendLine(
      RPC.request(
        "slow", "export",
        ["petition": "big", "audience": "delivery", "format": "json", "path": path, "progressToken": "c"]))
    // Cancel once it has begun.
    let begin = server.readObject(timeout: 60)
    #expect(begin?["method"] as? String == "$/progress")
    server.sendLine(["jsonrpc": "2.0", "method": "$/cancelRequest", "params": ["id": "slow"]])
    var response: [String: Any]? = nil
    while let message = server.readObject(timeout: 60) {
      if message["method"] == nil {
        response = message
        break
      }
    }
    #expect(response?["id"] as? String == "slow")
    #expect(RPC.errorCode(response) == -32800)
    #expect(fileSize(path) == nil)
    #expect(directoryEntries(output.path).isEmpty)
    // The server goes on serving.
    #expect(server.total("big") == LargeStore.rows)
  }

  /// `$/cancelRequest` overtakes the queue: a sign waiting behind a running export is cancelled
  /// before it runs (-32800, nothing written), while the export goes on.
  @Test func cancelOvertakesQueuedWork() throws {
    defer { LargeStore.shared.finished(tests: 3) }
    try #require(try LargeStore.shared.seed())
    let server = try ServerProcess.start(store: LargeStore.shared.path)
    let path = output.file("overtaken.json")
    server.sendLine(
      RPC.request(
        "slow", "export",
        ["petition": "big", "audience": "delivery", "format": "json", "path": path, "progressToken": "q"]))
    let begin = server.readObject(timeout: 60)
    #expect(begin?["method"] as? String == "$/progress")
    server.sendLine(
      RPC.request(
        "queued", "sign",
        [
          "petition": "big",
          "signer": ["email": "late@example.org", "firstName": "Late", "lastName": "Comer", "postalCode": "20001"],
        ]))
    server.sendLine(["jsonrpc": "2.0", "method": "$/cancelRequest", "params": ["id": "queued"]])
    var answers: [String: [String: Any]] = [:]
    while answers.count < 2, let message = server.readObject(timeout: 60) {
      if message["method"] == nil, let id = message["id"] as? String { answers[id] = message }
    }
    #expect(RPC.errorCode(answers["queued"]) == -32800)
    #expect(RPC.result(answers["slow"])?["count"] as? Int == LargeStore.rows)
    #expect(server.total("big") == LargeStore.rows)
  }
}
