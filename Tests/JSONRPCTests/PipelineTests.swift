import Foundation
import JSON
import Logging
import Service
import Synchronization
import Testing

@testable import JSONRPC

/// A service that records the runs it is given and answers by method name.
private final class RecordingService: Service, @unchecked Sendable {
  var runs: [[String]] = []
  /// Calls prepared so far (by the thread reading the input), and how many of them were
  /// prepared while "ahead" ran.
  let prepared = Atomic<Int>(0)
  var preparedWhileAhead = 0

  func isQuick(_ call: ServiceCall) -> Bool { call.method != "wait" }

  func prepare(_ call: ServiceCall) { prepared.add(1, ordering: .relaxed) }

  func process(_ calls: [ServiceCall]) {
    runs.append(calls.map(\.method))
    for call in calls {
      switch call.method {
      case "echo":
        call.complete(.success(call.params ?? .null))
      case "bytes":
        call.complete(.serialized(Array(#"{"fast":true}"#.utf8)))
      case "ahead":
        // Stands for a wait on a database server working for the run: the other thread reads
        // and prepares the next requests meanwhile.
        let before = prepared.load(ordering: .relaxed)
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && prepared.load(ordering: .relaxed) < before + 2 { usleep(1000) }
        preparedWhileAhead = prepared.load(ordering: .relaxed) - before
        call.complete(.success(.string("ahead")))
      case "wait":
        // Stands for a wait on a locked store: polls the token, as the store's busy handler does.
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
          if call.isCancelled { return call.complete(.failure(.requestCancelled)) }
          usleep(1000)
        }
        call.complete(.success(.string("waited")))
      default:
        call.complete(.failure(.methodNotFound(call.method)))
      }
    }
  }
}

/// Runs the JSON-RPC front on a pipeline over two pipes.
private final class Harness: @unchecked Sendable {
  let service = RecordingService()
  let input: Int32
  let output: Int32
  private let serverInput: Int32
  private let thread: Thread
  private let done = DispatchSemaphore(value: 0)

  init() {
    var toServer: [Int32] = [0, 0]
    var fromServer: [Int32] = [0, 0]
    _ = pipe(&toServer)
    _ = pipe(&fromServer)
    input = toServer[1]
    output = fromServer[0]
    serverInput = toServer[0]
    let serverOutput = fromServer[1]
    let service = self.service
    let finished = done
    let readEnd = toServer[0]
    thread = Thread {
      let engine = Engine(
        limits: EngineLimits(), output: OutputWriter(descriptor: serverOutput), logger: Logger(label: "test"))
      engine.run(input: readEnd, service: service)
      close(serverOutput)
      finished.signal()
    }
    thread.start()
  }

  func send(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
  }

  /// Closes the input and returns every line written until the server ends.
  func finish() -> [String] {
    close(input)
    var all: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
      let count = read(output, &chunk, chunk.count)
      if count <= 0 { break }
      all += chunk[0..<count]
    }
    done.wait()
    close(output)
    close(serverInput)
    return String(decoding: all, as: UTF8.self).split(separator: "\n").map(String.init)
  }

  /// The next line, read without closing the input.
  func readLine() -> String? {
    var line: [UInt8] = []
    var byte: UInt8 = 0
    while read(output, &byte, 1) == 1 {
      if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
      line.append(byte)
    }
    return nil
  }
}

@Suite struct PipelineTests {
  /// Requests that arrive together reach the service as one run (one write group), and every
  /// outcome kind becomes a response.
  @Test func callsReadTogetherRunTogether() {
    let harness = Harness()
    harness.send(
      #"{"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1}}"# + "\n"
        + #"{"jsonrpc":"2.0","id":2,"method":"bytes"}"# + "\n" + #"{"jsonrpc":"2.0","id":3,"method":"nope"}"# + "\n")
    let lines = harness.finish()
    #expect(harness.service.runs == [["echo", "bytes", "nope"]])
    #expect(lines.count == 3)
    #expect(lines.contains(#"{"jsonrpc":"2.0","id":1,"result":{"a":1}}"#))
    #expect(lines.contains(#"{"jsonrpc":"2.0","id":2,"result":{"fast":true}}"#))
    #expect(lines.contains { $0.contains("-32601") && $0.contains(#""id":3"#) })
  }

  /// A cancel that arrives while the service is busy with the call reaches its token (the
  /// other thread reads the input meanwhile): -32800 at once.
  @Test func cancelReachesABusyCall() {
    let harness = Harness()
    harness.send(#"{"jsonrpc":"2.0","id":"w","method":"wait"}"# + "\n")
    usleep(100_000)
    let start = Date()
    harness.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"w"}}"# + "\n")
    let line = harness.readLine()
    #expect(Date().timeIntervalSince(start) < 1)
    #expect(line?.contains("-32800") == true)
    #expect(line?.contains(#""id":"w""#) == true)
    _ = harness.finish()
  }

  /// A request cancelled while still queued is answered -32800 without reaching the service.
  @Test func queuedCallCancelledIsNotRun() {
    let harness = Harness()
    harness.send(
      #"{"jsonrpc":"2.0","id":1,"method":"echo"}"# + "\n"
        + #"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"# + "\n")
    let lines = harness.finish()
    #expect(harness.service.runs.isEmpty)
    #expect(lines == [#"{"jsonrpc":"2.0","id":1,"error":{"code":-32800,"message":"Request cancelled"}}"#])
  }

  /// While the service works on a run, the requests that arrive meanwhile are read and prepared;
  /// they run in the next run, after the busy one.
  @Test func requestsAreReadAheadWhileTheServiceWaits() {
    let harness = Harness()
    harness.send(#"{"jsonrpc":"2.0","id":"a","method":"ahead"}"# + "\n")
    usleep(100_000)
    harness.send(
      #"{"jsonrpc":"2.0","id":1,"method":"echo","params":{"n":1}}"# + "\n"
        + #"{"jsonrpc":"2.0","id":2,"method":"echo","params":{"n":2}}"# + "\n")
    let first = harness.readLine()
    #expect(first == #"{"jsonrpc":"2.0","id":"a","result":"ahead"}"#)
    let lines = harness.finish()
    #expect(harness.service.preparedWhileAhead == 2)
    #expect(harness.service.runs == [["ahead"], ["echo", "echo"]])
    #expect(lines == [#"{"jsonrpc":"2.0","id":1,"result":{"n":1}}"#, #"{"jsonrpc":"2.0","id":2,"result":{"n":2}}"#])
  }
}
