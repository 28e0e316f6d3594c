import Foundation
import TestSupport
import Testing

/// Parses a line of output as JSON.
private func parse(_ line: String?) -> Any? {
  guard let line else { return nil }
  return try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
}

private func errorCode(_ response: Any?) -> Int? {
  ((response as? [String: Any])?["error"] as? [String: Any])?["code"] as? Int
}

private func id(_ response: Any?) -> Any? {
  (response as? [String: Any])?["id"]
}

/// The JSON-RPC 2.0 specification's examples, adapted: `subtract` and friends are not methods
/// here, so calls use this server's methods; everything about ids, errors and batches is as the
/// specification shows.
@Suite(.serialized) struct JSONRPCSpecificationExamples {
  let directory = TemporaryDirectory()
  func start() throws -> ServerProcess { try ServerProcess(arguments: ["--db", directory.file("store.sqlite3")]) }

  /// rpc call with positional parameters: refused with -32602, params go by name here.
  @Test func positionalParameters() throws {
    let server = try start()
    server.send(#"{"jsonrpc": "2.0", "method": "count", "params": [42, 23], "id": 1}"# + "\n")
    let response = server.readObject()
    #expect(errorCode(response) == -32602)
    #expect(id(response) as? Int == 1)
    // An unknown method is -32601 whatever its params; positional params are not judged first.
    server.send(#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 2}"# + "\n")
    let unknown = server.readObject()
    #expect(errorCode(unknown) == -32601)
    #expect(id(unknown) as? Int == 2)
    server.send(#"{"jsonrpc": "2.0", "method": "initialize", "params": [1], "id": 3}"# + "\n")
    let hint = server.readObject()?["error"] as? [String: Any]
    #expect(hint?["code"] as? Int == -32601)
    #expect(hint?["message"] as? String == "start petition-rpc with --mcp")
  }

  /// rpc call with named parameters: answered with the same id.
  @Test func namedParameters() throws {
    let server = try start()
    server.send(#"{"jsonrpc": "2.0", "method": "petition.list", "params": {"status": "open"}, "id": 3}"# + "\n")
    let response = server.readObject()
    #expect(id(response) as? Int == 3)
    #expect((response?["result"] as? [String: Any])?["petitions"] is [Any])
  }

  /// a Notification gets no response.
  @Test func notificationIsNotAnswered() throws {
    let server = try start()
    server.send(#"{"jsonrpc": "2.0", "method": "petition.list", "params": {}}"# + "\n")
    server.send(#"{"jsonrpc": "2.0", "method": "foobar"}"# + "\n")
    server.send(#"{"jsonrpc": "2.0", "method": "petition.list", "id": "after"}"# + "\n")
    let response = server.readObject()
    #expect(id(response) as? String == "after")
  }

  /// rpc call of non-existent method: -32601.
  @Test func nonExistentMethod() throws {
    let server = try start()
    server.send(#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"# + "\n")
    let response = server.readObject()
    #expect(errorCode(response) == -32601)
    #expect(id(response) as? String == "1")
  }

  /// rpc call with invalid JSON: -32700 with id null.
  @Test func invalidJSON() throws {
    let server = try start()
    server.send(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"# + "\n")
    let response = server.readObject()
    #expect(errorCode(response) == -32700)
    #expect(id(response) is NSNull)
  }

  /// rpc call with invalid Request object: -32600 with id null.
  @Test func invalidRequestObject() throws {
    let server = try start()
    server.send(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"# + "\n")
    let response = server.readObject()
    #expect(errorCode(response) == -32600)
    #expect(id(response) is NSNull)
  }

  /// rpc call Batch, invalid JSON: one -32700.
  @Test func batchWithInvalidJSON() throws {
    let server = try start()
    server.send(
      #"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method""# + "\n")
    #expect(errorCode(server.readJSON()) == -32700)
  }

  /// rpc call with an empty Array: one -32600, not an array.
  @Test func emptyBatch() throws {
    let server = try start()
    server.send("[]\n")
    let response = server.readJSON()
    #expect(errorCode(response) == -32600)
  }

  /// rpc call with an invalid Batch (but not empty): an array with one -32600.
  @Test func invalidBatchOfOne() throws {
    let server = try start()
    server.send("[1]\n")
    let response = server.readJSON() as? [Any]
    #expect(response?.count == 1)
    #expect(errorCode(response?.first) == -32600)
  }

  /// rpc call with invalid Batch: an array with one -32600 per entry.
  @Test func invalidBatchOfThree() throws {
    let server = try start()
    server.send("[1,2,3]\n")
    let response = server.readJSON() as? [Any]
    #expect(response?.count == 3)
    #expect(response?.allSatisfy { errorCode($0) == -32600 } == true)
  }

  /// rpc call Batch: every request answered by id, notifications not, invalid entries with errors.
  @Test func mixedBatch() throws {
    let server = try start()
    server.send(
      """
      [
        {"jsonrpc": "2.0", "method": "petition.list", "params": {}, "id": "1"},
        {"jsonrpc": "2.0", "method": "petition.list", "params": {"status": "open"}},
        {"jsonrpc": "2.0", "method": "count", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "petition.get", "params": {"id": "nope"}, "id": "9"}
      ]
      """.replacingOccurrences(of: "\n", with: "") + "\n")
    let response = server.readJSON() as? [[String: Any]]
    #expect(response?.count == 5)
    var byID: [String: [String: Any]] = [:]
    var nullIDs: [[String: Any]] = []
    for entry in response ?? [] {
      if let key = entry["id"] as? String { byID[key] = entry } else { nullIDs.append(entry) }
    }
    #expect(byID["1"]?["result"] != nil)
    #expect(errorCode(byID["2"]) == -32602)
    #expect(errorCode(byID["5"]) == -32601)
    #expect(errorCode(byID["9"]) == 1001)
    #expect(nullIDs.count == 1 && errorCode(nullIDs.first) == -32600)
  }

  /// rpc call Batch (all notifications): nothing is returned at all.
  @Test func batchOfNotifications() throws {
    let server = try start()
    server.send(
      #"[{"jsonrpc": "2.0", "method": "petition.list", "params": {}},{"jsonrpc": "2.0", "method": "petition.list"}]"#
        + "\n")
    server.send(#"{"jsonrpc": "2.0", "method": "petition.list", "id": 99}"# + "\n")
    #expect(id(server.readObject()) as? Int == 99)
  }
}

@Suite(.serialized) struct TransportTests {
  let directory = TemporaryDirectory()
  func start(_ extra: [String] = []) throws -> ServerProcess {
    try ServerProcess(arguments: ["--db", directory.file("store.sqlite3")] + extra)
  }

  /// Ids are echoed exactly: strings (with unicode), integers, reals, null.
  @Test func idsAreEchoedExactly() throws {
    let server = try start()
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":"ünï-☃"}"# + "\n")
    #expect(server.readLine()?.contains(#""id":"ünï-☃""#) == true)
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":-9007199254740993}"# + "\n")
    #expect(server.readLine()?.contains(#""id":-9007199254740993"#) == true)
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":null}"# + "\n")
    #expect(server.readLine()?.contains(#""id":null"#) == true)
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":1.5}"# + "\n")
    #expect(server.readLine()?.contains(#""id":1.5"#) == true)
  }

  /// Number ids come back with the text they were sent with, not jansson's reading of it
  /// (`0.1` was answered as `0.10000000000000001`, `1e3` as `1000.0`, `-0` as `0`), alone, in a
  /// batch and in an invalid request; an integer beyond 64 bits is no parse error.
  @Test(arguments: ["0.1", "1e3", "1E2", "-0", "1e-7", "5e-324", "2.50", "12345678901234567890"])
  func numberIdsAreEchoedAsSent(id: String) throws {
    let server = try start()
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":\#(id)}"# + "\n")
    #expect(server.readLine()?.contains(#"{"jsonrpc":"2.0","id":\#(id),"result""#) == true)
    server.send(#"{"jsonrpc":"2.0","method":"nope","id":\#(id)}"# + "\n")
    #expect(server.readLine()?.contains(#"{"jsonrpc":"2.0","id":\#(id),"error""#) == true)
    server.send(
      #"[{"jsonrpc":"2.0","method":"petition.list","id":"a"}, { "id" : \#(id) , "method":"petition.list","jsonrpc":"2.0"},"#
        + #"{"jsonrpc":"1.0","method":"x","id":\#(id)}]"# + "\n")
    let batch = server.readLine() ?? ""
    #expect(batch.contains(#"{"jsonrpc":"2.0","id":\#(id),"result""#), "\(batch)")
    #expect(batch.contains(#"{"jsonrpc":"2.0","id":\#(id),"error""#), "\(batch)")
  }

  /// An invalid request whose id can be read gets that id back.
  @Test func invalidRequestKeepsItsID() throws {
    let server = try start()
    server.send(#"{"jsonrpc":"1.0","method":"petition.list","id":"keep-me"}"# + "\n")
    let response = server.readObject()
    #expect(errorCode(response) == -32600)
    #expect(id(response) as? String == "keep-me")
  }

  /// `null` and `[]` params count as no params.
  @Test func nullAndEmptyParams() throws {
    let server = try start()
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","params":null,"id":1}"# + "\n")
    #expect(server.readObject()?["result"] != nil)
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","params":[],"id":2}"# + "\n")
    #expect(server.readObject()?["result"] != nil)
  }

  /// A Content-Length request is answered with exactly `Content-Length: N\r\n\r\n` and N bytes.
  @Test func contentLengthFraming() throws {
    let server = try start()
    server.sendFramed(#"{"jsonrpc":"2.0","method":"petition.list","id":"é"}"#)
    let frame = server.readFrame()
    #expect(frame != nil)
    #expect(frame?.header.hasPrefix("Content-Length: ") == true)
    #expect(frame?.header.contains("\r\n") == false)
    #expect(frame?.body.contains(#""id":"é""#) == true)
  }

  /// Framing is detected per message: mixed NDJSON and Content-Length, each answered in kind.
  @Test func framingPerMessage() throws {
    let server = try start()
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":1}"# + "\n")
    server.send("Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n")
    server.sendFramed(#"{"jsonrpc":"2.0","method":"petition.list","id":2}"#)
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":3}"# + "\r\n")
    let first = server.readObject()
    #expect(id(first) as? Int == 1)
    let second = server.readFrame()
    #expect(second?.body.contains(#""id":2"#) == true)
    #expect(id(server.readObject()) as? Int == 3)
  }

  /// A Content-Type with a charset other than UTF-8 gets -32600 with the request's id.
  @Test func nonUTF8Charset() throws {
    let server = try start()
    let body = #"{"jsonrpc":"2.0","method":"petition.list","id":7}"#
    server.send("Content-Type: application/json; charset=latin1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
    let frame = server.readFrame()
    #expect(frame?.body.contains("-32600") == true)
    #expect(frame?.body.contains(#""id":7"#) == true)
  }

  /// A message over --max-message-bytes gets -32600 (id null) and the next message is served.
  @Test func oversizedMessages() throws {
    let server = try start(["--max-message-bytes", "1024"])
    let padding = String(repeating: "x", count: 5000)
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":1,"pad":""# + padding + "\"}\n")
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":2}"# + "\n")
    let tooLarge = server.readObject()
    #expect(errorCode(tooLarge) == -32600)
    #expect(id(tooLarge) is NSNull)
    #expect(id(server.readObject()) as? Int == 2)
    server.send("Content-Length: 100000\r\n\r\n" + String(repeating: " ", count: 100000))
    server.sendFramed(#"{"jsonrpc":"2.0","method":"petition.list","id":3}"#)
    #expect(server.readFrame()?.body.contains("-32600") == true)
    #expect(server.readFrame()?.body.contains(#""id":3"#) == true)
  }

  /// A 50 MB line is skipped without the server holding it: its memory stays small.
  @Test func hugeLineIsNotHeld() throws {
    let server = try start()
    let chunk = [UInt8](repeating: UInt8(ascii: "7"), count: 1 << 20)
    server.send(Array("[".utf8))
    for _ in 0..<50 { server.send(chunk) }
    server.send(Array("]\n".utf8))
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":2}"# + "\n")
    #expect(errorCode(server.readObject()) == -32600)
    #expect(id(server.readObject()) as? Int == 2)
    let status = (try? String(contentsOfFile: "/proc/\(server.pid)/status", encoding: .utf8)) ?? ""
    let peakKiB =
      status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
      .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
    #expect(peakKiB > 0 && peakKiB < memoryBound(40 * 1024), "peak RSS \(peakKiB) KiB")
  }

  /// A batch over --max-batch is one -32600.
  @Test func batchOverLimit() throws {
    let server = try start(["--max-batch", "2"])
    let request = #"{"jsonrpc":"2.0","method":"petition.list","id":1}"#
    server.send("[\(request),\(request),\(request)]\n")
    let response = server.readJSON()
    #expect(errorCode(response) == -32600)
    server.send("[\(request),\(request)]\n")
    #expect((server.readJSON() as? [Any])?.count == 2)
  }

  /// Bad input of every kind gets an error and the server keeps serving.
  @Test func badInputOfEveryKind() throws {
    let server = try start()
    let probe = #"{"jsonrpc":"2.0","method":"petition.list","id":"alive"}"# + "\n"
    let inputs: [(bytes: [UInt8], code: Int)] = [
      (Array(#"{"jsonrpc":"2.0","method":"petition.list","id":""#.utf8) + [0xC3, 0x28] + Array("\"}\n".utf8), -32700),
      (Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n").utf8), -32700),
      (Array(#"{"jsonrpc":"2.0","method":"petition.list","id":1e999999}"#.utf8) + [10], -32700),
      (Array(#"{"jsonrpc":"2.0","method":"petition.list","#.utf8) + [0] + Array(#""id":1}"#.utf8) + [10], -32700),
      (Array("\u{1}\u{2}garbage\u{7f}\n".utf8), -32700),
      (Array("42\n".utf8), -32600),
      (Array(#""just a string""#.utf8) + [10], -32600),
      (Array(#"{"jsonrpc":"2.0","method":"petition.list","id":[1]}"#.utf8) + [10], -32600),
      (Array(#"{"jsonrpc":"2.0","method":"petition.list","id":true}"#.utf8) + [10], -32600),
      (Array(#"{"jsonrpc":"2.0","method":"petition.list","params":"x","id":1}"#.utf8) + [10], -32600),
    ]
    for input in inputs {
      server.send(input.bytes)
      let response = server.readObject()
      #expect(errorCode(response) == input.code, "input \(String(decoding: input.bytes.prefix(40), as: UTF8.self))")
      server.send(probe)
      #expect(id(server.readObject()) as? String == "alive")
    }
  }

  /// Bad header blocks get -32600 in Content-Length framing, and the server keeps serving.
  @Test func badHeaders() throws {
    let server = try start()
    for header in [
      "Content-Length: abc\r\n\r\n", "Content-Type: text/plain\r\n\r\n",
      "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    ] {
      server.send(header)
      #expect(server.readFrame()?.body.contains("-32600") == true, "\(header)")
      server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":"alive"}"# + "\n")
      #expect(id(server.readObject()) as? String == "alive")
    }
  }

  /// A bad line inside a header block that ends properly (`bogus`, a name with a non-ASCII
  /// byte, a nameless header) costs that message alone: one -32600 frame, its body skipped,
  /// and the next messages keep their LSP framing (the server used to read the block's lines
  /// and the body as NDJSON: three -32700 lines, and the next request answered as NDJSON).
  @Test(arguments: ["bogus\r\n", "X-\u{E9}: y\r\n", ": nameless\r\n"])
  func badLineInAHeaderBlockKeepsTheStreamInStep(line: String) throws {
    let server = try start()
    let create = #"{"jsonrpc":"2.0","id":1,"method":"petition.create","params":{"id":"p","title":"T","target":"X"}}"#
    let sign =
      #"{"jsonrpc":"2.0","id":2,"method":"sign","params":{"petition":"p","signer":{"email":"a@example.org","#
      + #""firstName":"A","lastName":"B","postalCode":"10001"}}}"#
    let count = #"{"jsonrpc":"2.0","id":3,"method":"count","params":{"petition":"p"}}"#
    func frame(_ body: String, extra: String = "") -> String {
      "Content-Length: \(body.utf8.count)\r\n" + extra + "\r\n" + body
    }
    server.send(frame(create) + frame(sign, extra: line) + frame(count))
    // Three LSP frames, in any order (answers are written as each is done).
    var bodies: [String] = []
    for _ in 0..<3 { bodies.append(try #require(server.readFrame()).body) }
    #expect(bodies.contains { $0.contains(#""id":1"#) && $0.contains("result") }, "\(bodies)")
    #expect(bodies.contains { $0.contains("-32600") && $0.contains(#""id":null"#) }, "\(bodies)")
    #expect(bodies.contains { $0.contains(#""id":3"#) && $0.contains(#""total":0"#) }, "\(bodies)")
    server.closeInput()
    #expect(server.waitForExit() == 0)
  }

  /// A lying Content-Length (shorter than the body) costs that message; the stream recovers.
  @Test func lyingContentLength() throws {
    let server = try start()
    let body = #"{"jsonrpc":"2.0","method":"petition.list","id":1}"#
    server.send("Content-Length: 10\r\n\r\n\(body)\n")
    #expect(server.readFrame()?.body.contains("-32700") == true)
    #expect(errorCode(server.readObject()) == -32700)
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":"ok"}"# + "\n")
    #expect(id(server.readObject()) as? String == "ok")
  }

  /// A Content-Length longer than what is sent, then end of input: answered with -32700, exit 0.
  @Test func truncatedAtEndOfInput() throws {
    let run = try runServer(
      ["--db", directory.file("store.sqlite3")], stdin: "Content-Length: 500\r\n\r\n{\"jsonrpc\"")
    #expect(run.status == 0)
    #expect(run.stdout.contains("-32700"))
  }

  /// Unknown `$/` notifications are ignored; unknown `$/` requests get -32601.
  @Test func dollarMethods() throws {
    let server = try start()
    server.send(#"{"jsonrpc":"2.0","method":"$/setTrace","params":{"value":"off"}}"# + "\n")
    server.send(#"{"jsonrpc":"2.0","method":"$/unknown","id":5}"# + "\n")
    let response = server.readObject()
    #expect(id(response) as? Int == 5)
    #expect(errorCode(response) == -32601)
  }

  /// End of input: every request already read is answered, output flushed, exit 0.
  @Test func endOfInputAnswersEverything() throws {
    var input = ""
    input +=
      #"{"jsonrpc":"2.0","method":"petition.create","params":{"id":"eof","title":"T","target":"X"},"id":0}"# + "\n"
    for index in 1...300 {
      input +=
        #"{"jsonrpc":"2.0","method":"sign","params":{"petition":"eof","signer":{"email":"p\#(index)@example.org","firstName":"A","lastName":"B","postalCode":"12345"}},"id":\#(index)}"#
        + "\n"
    }
    let run = try runServer(["--db", directory.file("eof.sqlite3")], stdin: input)
    #expect(run.status == 0)
    let lines = run.stdout.split(separator: "\n")
    #expect(lines.count == 301)
    #expect(lines.allSatisfy { $0.contains("\"result\"") })
  }

  /// SIGTERM and SIGINT: stop reading, answer what was read, exit 0.
  @Test(arguments: [SIGTERM, SIGINT]) func stopSignals(signal: Int32) throws {
    let server = try start()
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":1}"# + "\n")
    #expect(id(server.readObject()) as? Int == 1)
    server.signal(signal)
    #expect(server.waitForExit(timeout: 10) == 0)
  }

  /// A stop signal while the client is in the middle of a message: what was whole is answered,
  /// the fragment is dropped (not answered -32700: the client sent nothing malformed).
  @Test(arguments: [SIGTERM, SIGINT]) func stopSignalDropsAPartialMessage(signal: Int32) throws {
    let server = try start()
    server.send(#"{"jsonrpc":"2.0","method":"petition.list","id":1}"# + "\n" + #"{"jsonrpc":"2.0","met"#)
    #expect(id(server.readObject()) as? Int == 1)
    server.signal(signal)
    #expect(server.waitForExit(timeout: 10) == 0)
    #expect(server.readLine(timeout: 2) == nil)
  }

  /// stdout carries frames only: every line of a mixed session is a JSON-RPC message.
  @Test func stdoutCarriesFramesOnly() throws {
    let run = try runServer(
      ["--db", directory.file("store.sqlite3")],
      stdin: "nonsense\n" + #"{"jsonrpc":"2.0","method":"petition.get","params":{"id":"missing"},"id":1}"# + "\n")
    for line in run.stdout.split(separator: "\n") {
      let object = parse(String(line)) as? [String: Any]
      #expect(object?["jsonrpc"] as? String == "2.0")
    }
  }

  /// rpc.discover returns the OpenRPC document, equal to schema/openrpc.json, also when the binary
  /// is copied elsewhere.
  @Test func discoverFromACopiedBinary() throws {
    let copy = directory.file("elsewhere-petition-rpc")
    // Copied by cp, not in this process: a server that another test spawns while this process
    // holds the copy open for writing inherits that descriptor, and executing the copy then
    // fails with ETXTBSY for as long as that server runs (seen once in CI).
    let cp = Process()
    cp.executableURL = URL(fileURLWithPath: "/bin/cp")
    cp.arguments = [ServerProcess.binaryPath, copy]
    try cp.run()
    cp.waitUntilExit()
    #expect(cp.terminationStatus == 0)
    let server = try ServerProcess(arguments: ["--db", ":memory:"], workingDirectory: directory.path, binary: copy)
    server.send(#"{"jsonrpc":"2.0","method":"rpc.discover","id":1}"# + "\n")
    let document = server.readObject()?["result"] as? NSDictionary
    let schemaPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("schema/openrpc.json")
    let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: schemaPath)) as? NSDictionary
    #expect(document != nil)
    #expect(document == expected)
    server.send(#"{"jsonrpc":"2.0","method":"rpc.discover","params":[],"id":2}"# + "\n")
    #expect(server.readObject()?["result"] != nil)
  }
}

@Suite(.serialized) struct CommandLineTests {
  let directory = TemporaryDirectory()

  /// --help and --version print to stdout and exit 0.
  @Test func helpAndVersion() throws {
    let help = try runServer(["--help"])
    #expect(help.status == 0)
    #expect(help.stdout.contains("--db"))
    #expect(help.stdout.contains("--max-message-bytes"))
    let version = try runServer(["--version"])
    #expect(version.status == 0)
    #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
  }

  /// A bad flag prints usage to stderr and exits 64.
  @Test func badFlag() throws {
    let run = try runServer(["--no-such-flag"])
    #expect(run.status == 64)
    #expect(run.stdout.isEmpty)
    #expect(run.stderr.contains("Usage"))
    #expect(try runServer(["--max-batch", "zero"]).status == 64)
    // A URI given without --db is an unexpected argument: its password is not printed (the
    // parser's message quoted it whole).
    let bare = try runServer(["postgresql://ann:Pw0rdZebra77@/petitions?host=/nowhere"])
    #expect(bare.status == 64)
    #expect(bare.stderr.contains("Unexpected argument") && !bare.stderr.contains("Pw0rdZebra77"))
  }

  /// A store that cannot be opened: a message on stderr, exit 1, nothing on stdout.
  @Test(.sqliteFileOnly) func storeCannotBeOpened() throws {
    let run = try runServer(["--db", "/nonexistent-dir/x/store.sqlite3"], stdin: "")
    #expect(run.status == 1)
    #expect(run.stdout.isEmpty)
    #expect(run.stderr.contains("store"))
  }

  /// Without --db, $PETITION_RPC_DB is used, else petitions.sqlite3 in the working directory.
  @Test func storeLocation() throws {
    let create =
      #"{"jsonrpc":"2.0","method":"petition.create","params":{"id":"here","title":"T","target":"X"},"id":1}"# + "\n"
    _ = try runServer([], stdin: create, workingDirectory: directory.path)
    #expect(FileManager.default.fileExists(atPath: directory.file("petitions.sqlite3")))
    let fromEnvironment = directory.file("env.sqlite3")
    _ = try runServer(
      [], stdin: create, environment: ["PETITION_RPC_DB": fromEnvironment], workingDirectory: directory.path)
    #expect(FileManager.default.fileExists(atPath: fromEnvironment))
  }

  /// The store's files are created with mode 0600.
  @Test(.sqliteFileOnly) func storeFilesArePrivate() throws {
    let path = directory.file("private.sqlite3")
    let server = try ServerProcess(arguments: ["--db", path])
    _ = server.call("petition.create", ["id": "p", "title": "T", "target": "X"])
    for file in [path, path + "-wal", path + "-shm"] {
      let attributes = try FileManager.default.attributesOfItem(atPath: file)
      #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(file)")
    }
  }
}
