import Foundation
import TestSupport
import Testing

/// `petition-rpc --mcp` spoken to directly, line by line, through the real binary.
@Suite(.serialized) struct MCPProtocolTests {
  let directory = TemporaryDirectory()
  static let stateless = "2026-07-28"
  static let metaKey = "io.modelcontextprotocol/protocolVersion"

  func start(_ extra: [String] = []) throws -> ServerProcess {
    try ServerProcess(arguments: ["--mcp", "--db", directory.file("store.sqlite3")] + extra)
  }

  /// `params` with `_meta` naming the stateless revision.
  static func modern(_ params: [String: Any] = [:], revision: String = stateless) -> [String: Any] {
    var params = params
    var meta = params["_meta"] as? [String: Any] ?? [:]
    meta[metaKey] = revision
    params["_meta"] = meta
    return params
  }

  static func request(_ id: Any, _ method: String, _ params: [String: Any]? = nil) -> [String: Any] {
    var message: [String: Any] = ["jsonrpc": "2.0", "id": id, "method": method]
    if let params { message["params"] = params }
    return message
  }

  func ask(_ server: ServerProcess, _ id: Any, _ method: String, _ params: [String: Any]? = nil) -> [String: Any]? {
    server.sendLine(Self.request(id, method, params))
    return server.readObject()
  }

  static func signer(_ number: Int) -> [String: Any] {
    ["email": "person\(number)@example.org", "firstName": "Ada", "lastName": "Person", "postalCode": "12345"]
  }

  /// server/discover: the stateless revision's fields, every supported revision, the server's name.
  @Test func discovery() throws {
    let server = try start()
    let response = ask(server, 1, "server/discover", Self.modern())
    let result = try #require(response?["result"] as? [String: Any])
    #expect(result["supportedVersions"] as? [String] == ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
    #expect((result["capabilities"] as? [String: Any])?["tools"] is [String: Any])
    #expect((result["instructions"] as? String)?.isEmpty == false)
    #expect(result["resultType"] as? String == "complete")
    #expect((result["ttlMs"] as? Int).map { $0 >= 0 } == true)
    #expect(["private", "public"].contains(result["cacheScope"] as? String ?? ""))
    let info = (result["_meta"] as? [String: Any])?["io.modelcontextprotocol/serverInfo"] as? [String: Any]
    #expect(info?["name"] as? String == "petition-rpc")
  }

  /// initialize answers each handshake revision with itself, and anything else with the newest.
  @Test(arguments: [
    ("2025-11-25", "2025-11-25"), ("2025-06-18", "2025-06-18"), ("2025-03-26", "2025-03-26"),
    ("2024-11-05", "2025-11-25"), ("1999-01-01", "2025-11-25"),
  ])
  func initialize(requested: String, answered: String) throws {
    let server = try start()
    let params: [String: Any] = [
      "protocolVersion": requested, "capabilities": [:], "clientInfo": ["name": "test", "version": "1"],
    ]
    let result = try #require(ask(server, "init", "initialize", params)?["result"] as? [String: Any])
    #expect(result["protocolVersion"] as? String == answered)
    #expect((result["capabilities"] as? [String: Any])?["tools"] is [String: Any])
    let info = result["serverInfo"] as? [String: Any]
    #expect(info?["name"] as? String == "petition-rpc")
    #expect((info?["version"] as? String)?.isEmpty == false)
    #expect((result["instructions"] as? String)?.isEmpty == false)
    #expect(result["resultType"] == nil)
    // notifications/initialized is accepted silently; ping answers {}.
    server.sendLine(["jsonrpc": "2.0", "method": "notifications/initialized"])
    let pong = ask(server, 2, "ping")
    #expect(pong?["id"] as? Int == 2)
    #expect((pong?["result"] as? [String: Any])?.isEmpty == true)
  }

  /// A request naming a revision the server does not speak gets -32022 with supported and requested.
  @Test func unsupportedRevision() throws {
    let server = try start()
    for method in ["tools/list", "server/discover", "tools/call"] {
      let response = ask(server, 7, method, Self.modern(["name": "count"], revision: "2030-01-01"))
      let error = try #require(response?["error"] as? [String: Any])
      #expect(error["code"] as? Int == -32022)
      let data = error["data"] as? [String: Any]
      #expect((data?["supported"] as? [String])?.contains("2026-07-28") == true)
      #expect(data?["requested"] as? String == "2030-01-01")
    }
  }

  /// notifications/cancelled racing with the serving of pipelined signs: a cancelled call that
  /// gets no response wrote nothing, a call answered with a result was written, and every call
  /// not cancelled is answered once. (A cancel that arrived after a sign ran but before its
  /// group committed used to leave a written signature with no response.)
  @Test func cancelsRacingWithServingKeepAnswersAndWritesTogether() throws {
    for round in 0..<2 {
      let path = directory.file("race\(round).sqlite3")
      var lines = [
        #"{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"petition_create","arguments":{"id":"p","title":"T","target":"X"}}}"#
      ]
      var cancelled: Set<Int> = []
      for id in 1...3000 {
        lines.append(
          #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"sign","arguments":{"petition":"p","signer":{"email":"u\#(id)@example.org","firstName":"A","lastName":"B","postalCode":"12345"}}}}"#
        )
        if Int.random(in: 0..<10) == 0 {
          let target = Int.random(in: max(1, id - 40)...id)
          cancelled.insert(target)
          lines.append(#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":\#(target)}}"#)
        }
      }
      let run = try runServer(["--mcp", "--db", path], stdin: lines.joined(separator: "\n") + "\n")
      #expect(run.status == 0)
      var answered: [Int: Int] = [:]
      var written = 0
      for line in run.stdout.split(separator: "\n") {
        let message = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        guard let id = message?["id"] as? Int else { continue }
        answered[id, default: 0] += 1
        let result = message?["result"] as? [String: Any]
        if result != nil && result?["isError"] == nil { written += 1 }
      }
      #expect(answered.values.allSatisfy { $0 == 1 })
      let unanswered = (1...3000).filter { answered[$0] == nil }
      #expect(unanswered.allSatisfy { cancelled.contains($0) }, "round \(round): \(unanswered.prefix(5))")
      // The store holds exactly the signs answered with a result.
      let count = try runServer(
        ["--db", path], stdin: #"{"jsonrpc":"2.0","id":1,"method":"count","params":{"petition":"p"}}"# + "\n")
      #expect(count.stdout.contains(#""total":\#(written),"#), "round \(round): \(written) answered; \(count.stdout)")
    }
  }

  /// A handshake revision named in `_meta` is one -32022 lists as supported: it is served (as
  /// the handshake era, without resultType), so a client retrying with it is not refused again.
  @Test func listedRevisionsAreServedWhenNamedInMeta() throws {
    let server = try start()
    for revision in ["2025-11-25", "2025-06-18", "2025-03-26"] {
      let response = ask(server, revision, "tools/list", Self.modern([:], revision: revision))
      let result = try #require(response?["result"] as? [String: Any], "\(revision): \(String(describing: response))")
      #expect((result["tools"] as? [Any])?.isEmpty == false)
      #expect(result["resultType"] == nil)
    }
  }

  /// An argument the tool lacks or does not take is reported together with every problem the
  /// service finds in the others, as JSON-RPC mode reports them all.
  @Test func everyArgumentProblemIsReported() throws {
    let server = try start()
    func paths(_ id: Int, _ tool: String, _ arguments: [String: Any]) throws -> [String] {
      let result = try #require(
        ask(server, id, "tools/call", ["name": tool, "arguments": arguments])?["result"] as? [String: Any])
      #expect(result["isError"] as? Bool == true)
      let data = (result["structuredContent"] as? [String: Any])?["data"] as? [String: Any]
      return (data?["errors"] as? [[String: Any]])?.compactMap { $0["path"] as? String } ?? []
    }
    #expect(try paths(1, "petition_create", ["id": "BAD ID", "title": "T"]) == ["/id", "/target"])
    #expect(
      try paths(2, "petition_create", ["id": "BAD ID", "title": "T", "target": "X", "zzz": 1]) == ["/id", "/zzz"])
    let signer = try paths(3, "sign", ["signer": ["email": "x"]])
    #expect(signer.first == "/petition" && signer.contains("/signer/email") && signer.count >= 3, "\(signer)")
    // A member the method takes but the tool does not: only the front's message for it.
    #expect(
      try paths(4, "export_page", ["petition": "p", "audience": "nobody", "path": "x.csv"]) == [
        "/audience", "/format", "/path",
      ])
  }

  /// Tool texts speak MCP: no JSON-RPC notification, no argument the tool does not take; an
  /// existing export file is not answered with a hint to pass `overwrite`.
  @Test func toolTextsSpeakMCP() throws {
    let server = try start()
    let result = try #require(ask(server, 1, "tools/list")?["result"] as? [String: Any])
    for tool in result["tools"] as? [[String: Any]] ?? [] {
      let name = tool["name"] as? String ?? ""
      let description = tool["description"] as? String ?? ""
      #expect(!description.contains("$/"), "\(name): \(description)")
      #expect(!description.contains("-32800"), "\(name)")
      #expect(!description.contains("ProgressParams"), "\(name)")
      #expect(!description.contains("x-paramsSchema"), "\(name): \(description)")
      if name.hasPrefix("export_") { #expect(!description.contains("overwrite"), "\(name): \(description)") }
    }
    _ = ask(
      server, 2, "tools/call", ["name": "petition_create", "arguments": ["id": "p", "title": "P", "target": "T"]])
    let arguments: [String: Any] = [
      "petition": "p", "audience": "delivery", "format": "csv", "path": directory.file("out.csv"),
    ]
    _ = ask(server, 3, "tools/call", ["name": "export_file", "arguments": arguments])
    let again = try #require(
      ask(server, 4, "tools/call", ["name": "export_file", "arguments": arguments])?["result"] as? [String: Any])
    let error = try #require(again["structuredContent"] as? [String: Any])
    #expect(error["code"] as? Int == 1004)
    #expect((error["message"] as? String)?.contains("overwrite") == false, "\(error)")
  }

  /// ping answers {} (with resultType in the stateless revision).
  @Test func ping() throws {
    let server = try start()
    #expect((ask(server, 1, "ping")?["result"] as? [String: Any])?.isEmpty == true)
    server.sendLine(["jsonrpc": "2.0", "id": 9, "method": "ping", "params": [1]])
    let refused = server.readObject()?["error"] as? [String: Any]
    #expect(refused?["message"] as? String == "Invalid params: params must be an object")
    let modern = ask(server, 2, "ping", Self.modern())?["result"] as? [String: Any]
    #expect(modern?["resultType"] as? String == "complete")
  }

  /// tools/list: the stateless revision adds resultType, ttlMs and cacheScope; the handshake one does not.
  @Test func toolsListInBothEras() throws {
    let server = try start()
    let modern = try #require(ask(server, 1, "tools/list", Self.modern())?["result"] as? [String: Any])
    #expect(modern["resultType"] as? String == "complete")
    #expect(modern["ttlMs"] is Int)
    #expect(modern["cacheScope"] is String)
    let legacy = try #require(ask(server, 2, "tools/list")?["result"] as? [String: Any])
    #expect(legacy["resultType"] == nil && legacy["ttlMs"] == nil)
    let names = (legacy["tools"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
    #expect(names.starts(with: ["petition_create", "petition_get", "petition_list", "petition_close", "sign"]))
    #expect(names.contains("export_page") && names.contains("export_file") && !names.contains("export"))
    #expect(names == (modern["tools"] as? [[String: Any]])?.compactMap { $0["name"] as? String })
  }

  /// --mcp-tools: only the named groups and tools are listed and callable.
  @Test func toolSelection() throws {
    let server = try start(["--mcp-tools", "count,petition_get"])
    let result = try #require(ask(server, 1, "tools/list")?["result"] as? [String: Any])
    #expect((result["tools"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["petition_get", "count"])
    let refused = ask(
      server, 2, "tools/call", ["name": "petition_create", "arguments": ["id": "x", "title": "X", "target": "T"]])
    #expect((refused?["error"] as? [String: Any])?["code"] as? Int == -32602)
  }

  /// A bad --mcp-tools value, or --mcp-tools without --mcp, is a usage error (exit 64).
  @Test func badToolSelectionIsUsageError() throws {
    for arguments in [["--mcp", "--mcp-tools", "read,nonsense"], ["--mcp-tools", "read"]] {
      let server = try ServerProcess(arguments: arguments + ["--db", directory.file("unused.sqlite3")])
      server.closeInput()
      #expect(server.waitForExit() == 64)
    }
  }

  /// An unknown tool name is a JSON-RPC -32602, not a tool result.
  @Test func unknownTool() throws {
    let server = try start()
    let response = ask(server, 1, "tools/call", ["name": "drop_everything", "arguments": [:]])
    #expect((response?["error"] as? [String: Any])?["code"] as? Int == -32602)
    #expect(response?["result"] == nil)
  }

  /// tools/call: content is the result as JSON text, structuredContent the result; a domain error
  /// is a result with isError and {code, message}.
  @Test func toolResultsAndErrors() throws {
    let server = try start()
    let created = try #require(
      ask(
        server, 1, "tools/call", ["name": "petition_create", "arguments": ["id": "p", "title": "P", "target": "T"]])?[
          "result"] as? [String: Any])
    let structured = try #require(created["structuredContent"] as? [String: Any])
    #expect(structured["id"] as? String == "p")
    let text = ((created["content"] as? [[String: Any]])?.first)?["text"] as? String ?? ""
    let decoded = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    #expect(decoded?["id"] as? String == "p" && decoded?["count"] as? Int == 0)
    #expect(created["isError"] == nil)

    let failed = try #require(
      ask(server, 2, "tools/call", Self.modern(["name": "petition_get", "arguments": ["id": "missing"]]))?["result"]
        as? [String: Any])
    #expect(failed["isError"] as? Bool == true)
    #expect((failed["structuredContent"] as? [String: Any])?["code"] as? Int == 1001)
    #expect(failed["resultType"] as? String == "complete")
    // Arguments a tool does not take: export_page has no path.
    let page = try #require(
      ask(
        server, 3, "tools/call",
        [
          "name": "export_page",
          "arguments": ["petition": "p", "audience": "delivery", "format": "json", "path": "x.csv"],
        ])?[
          "result"] as? [String: Any])
    #expect(page["isError"] as? Bool == true)
    #expect((page["structuredContent"] as? [String: Any])?["code"] as? Int == -32602)
    #expect(!FileManager.default.fileExists(atPath: directory.file("x.csv")))
  }

  /// Pipelined signs; then a file export with a progress token: notifications/progress with
  /// strictly increasing progress, the last one (progress = total) before the result; every line
  /// on stdout is a protocol message.
  @Test func progressOfAFileExport() throws {
    let server = try start()
    _ = ask(
      server, 0, "tools/call", ["name": "petition_create", "arguments": ["id": "big", "title": "Big", "target": "T"]])
    let count = 12_000
    // Pipelined, a thousand at a time (the answers to more would fill the pipe while this
    // thread is still writing).
    for first in stride(from: 1, to: count, by: 1000) {
      var batch = ""
      for number in first..<(first + 1000) {
        let request = Self.request(
          number, "tools/call", ["name": "sign", "arguments": ["petition": "big", "signer": Self.signer(number)]])
        batch += String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self) + "\n"
      }
      server.send(batch)
      for _ in 0..<1000 {
        let line = try #require(server.readObject())
        #expect((line["result"] as? [String: Any])?["isError"] == nil)
      }
    }
    let path = directory.file("big.ndjson")
    server.sendLine(
      Self.request(
        "export", "tools/call",
        [
          "name": "export_file",
          "arguments": ["petition": "big", "audience": "delivery", "format": "ndjson", "path": path],
          "_meta": ["progressToken": "tok"],
        ]))
    var progress: [Int] = []
    var total: Int?
    while true {
      let message = try #require(server.readObject())
      #expect(message["jsonrpc"] as? String == "2.0")
      if message["method"] as? String == "notifications/progress" {
        let params = message["params"] as? [String: Any]
        #expect(params?["progressToken"] as? String == "tok")
        progress.append(params?["progress"] as? Int ?? -1)
        total = params?["total"] as? Int
        continue
      }
      #expect(message["id"] as? String == "export")
      #expect(
        ((message["result"] as? [String: Any])?["structuredContent"] as? [String: Any])?["count"] as? Int == count)
      break
    }
    #expect(progress.count >= 2)
    #expect(zip(progress, progress.dropFirst()).allSatisfy { $0 < $1 }, "\(progress)")
    #expect(progress.last == count && total == count)
  }

  /// export_page is an export too: with a progress token its rows are reported (the last
  /// notification's progress is the page's count) before the result.
  @Test func progressOfAPage() throws {
    let server = try start()
    _ = ask(
      server, 0, "tools/call", ["name": "petition_create", "arguments": ["id": "pg", "title": "Page", "target": "T"]])
    for number in 1...3 {
      _ = ask(
        server, number, "tools/call", ["name": "sign", "arguments": ["petition": "pg", "signer": Self.signer(number)]])
    }
    server.sendLine(
      Self.request(
        "page", "tools/call",
        [
          "name": "export_page", "arguments": ["petition": "pg", "audience": "delivery", "format": "json", "limit": 2],
          "_meta": ["progressToken": 7],
        ]))
    var progress: [Int] = []
    while true {
      let message = try #require(server.readObject())
      if message["method"] as? String == "notifications/progress" {
        let params = message["params"] as? [String: Any]
        #expect(params?["progressToken"] as? Int == 7)
        progress.append(params?["progress"] as? Int ?? -1)
        continue
      }
      #expect(message["id"] as? String == "page")
      #expect(
        ((message["result"] as? [String: Any])?["structuredContent"] as? [String: Any])?["count"] as? Int == 2)
      break
    }
    #expect(progress.last == 2)
    #expect(zip(progress, progress.dropFirst()).allSatisfy { $0 < $1 }, "\(progress)")
  }

  /// notifications/cancelled: the cancelled call gets no response at all and writes nothing; the
  /// next request is answered.
  @Test func cancelledCallIsNotAnswered() throws {
    let server = try start()
    _ = ask(
      server, 0, "tools/call", ["name": "petition_create", "arguments": ["id": "c", "title": "C", "target": "T"]])
    let path = directory.file("cancelled.csv")
    // Sent together: the cancellation reaches the call before it runs.
    var lines = ""
    for message in [
      Self.request(
        5, "tools/call",
        ["name": "export_file", "arguments": ["petition": "c", "audience": "delivery", "format": "csv", "path": path]]),
      Self.request(6, "tools/call", ["name": "sign", "arguments": ["petition": "c", "signer": Self.signer(1)]]),
      ["jsonrpc": "2.0", "method": "notifications/cancelled", "params": ["requestId": 5, "reason": "test"]],
      ["jsonrpc": "2.0", "method": "notifications/cancelled", "params": ["requestId": 6]],
      Self.request(7, "ping"),
    ] {
      lines += String(decoding: try JSONSerialization.data(withJSONObject: message), as: UTF8.self) + "\n"
    }
    server.send(lines)
    let next = try #require(server.readObject())
    #expect(next["id"] as? Int == 7, "the cancelled calls are not answered: \(next)")
    #expect(!FileManager.default.fileExists(atPath: path))
    let count = ask(server, 8, "tools/call", ["name": "count", "arguments": ["petition": "c"]])
    #expect(((count?["result"] as? [String: Any])?["structuredContent"] as? [String: Any])?["total"] as? Int == 0)
    server.closeInput()
    #expect(server.readToEnd().isEmpty)
  }

  /// MCP's stdio transport has no batches and no Content-Length framing; bad lines get
  /// JSON-RPC errors and the server goes on.
  @Test func transportErrors() throws {
    let server = try start()
    server.send("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]\n")
    #expect((server.readObject()?["error"] as? [String: Any])?["code"] as? Int == -32600)
    server.send("{not json\n")
    #expect((server.readObject()?["error"] as? [String: Any])?["code"] as? Int == -32700)
    server.sendLine(Self.request(3, "resources/list"))
    #expect((server.readObject()?["error"] as? [String: Any])?["code"] as? Int == -32601)
    // A response from the client is not answered.
    server.send("{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{}}\n")
    #expect(ask(server, 4, "ping")?["id"] as? Int == 4)
  }

  /// Without --mcp, an MCP client is told how to start the server.
  @Test func jsonRPCModeRefersToMCP() throws {
    let server = try ServerProcess(arguments: ["--db", directory.file("store.sqlite3")])
    for method in ["initialize", "server/discover"] {
      let error = ask(server, 1, method, ["protocolVersion": "2025-11-25"])?["error"] as? [String: Any]
      #expect(error?["code"] as? Int == -32601)
      #expect(error?["message"] as? String == "start petition-rpc with --mcp")
    }
  }
}

/// The official MCP Python client (`mcp` on PyPI) drives every tool, in both of its connect modes.
@Suite struct MCPPythonClientTests {
  @Test func officialPythonClient() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    let script = root.appendingPathComponent("MCP/run-client-test.sh").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [script, ServerProcess.binaryPath]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    #expect(process.terminationStatus == 0, "\(text)")
    #expect(text.contains(" passed, 0 failed"), "\(text)")
  }
}
