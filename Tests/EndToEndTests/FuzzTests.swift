import Foundation
import TestSupport
import Testing

/// A small deterministic generator, so a failing run can be replayed.
private struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return state ^ (state >> 29)
  }
}

/// Splits the server's output into frames (NDJSON lines or Content-Length frames); nil if a
/// frame is cut or its body is not JSON.
private func frames(_ output: [UInt8]) -> [Any]? {
  var result: [Any] = []
  var position = 0
  let header = Array("Content-Length: ".utf8)
  while position < output.count {
    let body: ArraySlice<UInt8>
    if output[position...].starts(with: header) {
      guard let end = output[position...].firstRange(of: Array("\r\n\r\n".utf8)),
        let length = Int(String(decoding: output[(position + header.count)..<end.lowerBound], as: UTF8.self)),
        end.upperBound + length <= output.count
      else { return nil }
      body = output[end.upperBound..<(end.upperBound + length)]
      position = end.upperBound + length
    } else {
      guard let newline = output[position...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
      body = output[position..<newline]
      position = newline + 1
    }
    guard let value = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) else {
      return nil
    }
    result.append(value)
  }
  return result
}

@Suite struct FuzzTests {
  /// Thousands of mutated requests, broken bytes, framing debris and batches: the server never
  /// crashes or hangs, every frame it writes is well-formed JSON-RPC, and it still answers at the end.
  @Test(arguments: [1, 2, 3] as [UInt64])
  func mutatedInputNeverBreaksTheServer(seed: UInt64) throws {
    var random = SeededGenerator(state: seed)
    let directory = TemporaryDirectory()
    let valid: [String] = [
      #"{"jsonrpc":"2.0","id":1,"method":"petition.create","params":{"id":"p","title":"T","target":"X","goal":10}}"#,
      #"{"jsonrpc":"2.0","id":2,"method":"sign","params":{"petition":"p","signer":{"email":"a@example.org","firstName":"A","lastName":"B","postalCode":"12345","phone":"2025550123"},"optIn":{"email":true,"sms":true},"comment":"hi","source":"web"}}"#,
      #"{"jsonrpc":"2.0","id":3,"method":"count","params":{"petition":"p","groupBy":"day","since":"2020-01-01T00:00:00Z"}}"#,
      #"{"jsonrpc":"2.0","id":4,"method":"export","params":{"petition":"p","audience":"contacts","format":"csv","limit":5}}"#,
      #"{"jsonrpc":"2.0","id":5,"method":"unsubscribe","params":{"phone":"(202) 555-0123","channels":["sms"]}}"#,
      #"{"jsonrpc":"2.0","id":6,"method":"export","params":{"petition":"p","audience":"delivery","format":"json","path":"x.json","overwrite":true}}"#,
    ]
    let debris: [[UInt8]] = [
      Array("Content-Length: 5\r\n\r\n".utf8), [10], Array("[".utf8), Array("{".utf8), Array("\r\n\r\n".utf8), [0],
      [0xFF, 0xFE], Array("\"".utf8), Array("null".utf8), Array("Content-Length: 9999\r\n\r\n".utf8),
    ]
    var input: [UInt8] = []
    for _ in 0..<1500 {
      var message = Array(valid.randomElement(using: &random)!.utf8)
      for _ in 0..<Int.random(in: 0...4, using: &random) {
        let index = Int.random(in: 0..<message.count, using: &random)
        switch Int.random(in: 0..<4, using: &random) {
        case 0: message[index] = UInt8.random(in: 0...255, using: &random)
        case 1: message.remove(at: index)
        case 2: message.insert(contentsOf: debris.randomElement(using: &random)!, at: index)
        default: message.insert(UInt8.random(in: 32...126, using: &random), at: index)
        }
      }
      switch Int.random(in: 0..<10, using: &random) {
      case 0..<6: input += message + [10]
      case 6..<8: input += Array("Content-Length: \(message.count)\r\n\r\n".utf8) + message
      default: input += Array("[".utf8) + message + Array(",".utf8) + message + Array("]\n".utf8)
      }
    }
    input += Array("\n{\"jsonrpc\":\"2.0\",\"id\":\"final\",\"method\":\"petition.list\"}\n".utf8)

    let server = try ServerProcess(
      arguments: ["--db", directory.file("fuzz.sqlite3"), "--max-message-bytes", "4096"],
      workingDirectory: directory.path)
    let box = Unchecked(server)
    let writer = Thread { [input] in
      box.value.send(input)
      box.value.closeInput()
    }
    writer.start()
    let output = server.readToEnd(timeout: 120)
    #expect(server.waitForExit(timeout: 30) == 0)
    let parsed = try #require(frames(output), "a malformed frame")
    #expect(parsed.count > 1000)
    for frame in parsed {
      let messages = (frame as? [Any]) ?? [frame]
      for message in messages {
        #expect((message as? [String: Any])?["jsonrpc"] as? String == "2.0")
      }
    }
    #expect(parsed.contains { (($0 as? [String: Any])?["id"] as? String) == "final" })
    #expect(!server.standardError.contains("internal error"))
  }
}
