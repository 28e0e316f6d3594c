import Testing

@testable import JSONRPC

/// Feeds `input` to a decoder in pieces of `chunk` bytes and collects every event, then finishes.
private func decodeAll(_ input: [UInt8], chunk: Int = Int.max, limit: Int = 1 << 20) -> [FrameEvent] {
  var decoder = FrameDecoder(maxMessageBytes: limit)
  var events: [FrameEvent] = []
  var offset = 0
  while offset < input.count {
    let end = min(input.count, offset + max(1, min(chunk, input.count - offset)))
    decoder.append(input[offset..<end])
    offset = end
    while let event = decoder.next() { events.append(event) }
  }
  while let event = decoder.finish() { events.append(event) }
  return events
}

private func decodeAll(_ text: String, chunk: Int = Int.max, limit: Int = 1 << 20) -> [FrameEvent] {
  decodeAll(Array(text.utf8), chunk: chunk, limit: limit)
}

private func line(_ text: String) -> FrameEvent {
  .message(body: Array(text.utf8), framing: .lineDelimited, contentType: nil)
}

private func framed(_ text: String, contentType: String? = nil) -> FrameEvent {
  .message(body: Array(text.utf8), framing: .contentLength, contentType: contentType)
}

@Suite struct FrameDecoderTests {
  /// One JSON text per line is one message; CRLF line ends are accepted.
  @Test func lineDelimitedMessages() {
    #expect(decodeAll("{\"a\":1}\n{\"b\":2}\r\n") == [line("{\"a\":1}"), line("{\"b\":2}")])
  }

  /// Blank lines, including ones made of spaces and CRs, are ignored.
  @Test func blankLinesAreIgnored() {
    #expect(decodeAll("\n\r\n  \n{\"a\":1}\n\n\t\n") == [line("{\"a\":1}")])
  }

  /// A line of whitespace is dropped as it arrives, never held whole nor scanned again on each
  /// read: over the limit it is one tooLarge error, and the message after it is read.
  @Test func longWhitespaceLineIsNotHeld() {
    var decoder = FrameDecoder(maxMessageBytes: 1 << 20)
    let piece = [UInt8](repeating: 0x20, count: 65536) + [UInt8](repeating: 0x09, count: 10) + [0x0D]
    var events: [FrameEvent] = []
    var largest = 0
    for _ in 0..<64 {
      decoder.append(piece)
      while let event = decoder.next() { events.append(event) }
      largest = max(largest, decoder.bufferedCount)
    }
    decoder.append(Array("\n{\"a\":1}\n".utf8))
    while let event = decoder.next() { events.append(event) }
    #expect(largest == 0)
    #expect(events == [.error(.tooLarge(limit: 1 << 20), framing: .lineDelimited), line("{\"a\":1}")])
  }

  /// Whitespace before a message on its line: the message is read (in any cut), the whitespace
  /// counts against the limit, and such a line is never an LSP header.
  @Test func leadingWhitespace() {
    #expect(decodeAll("  \t{\"a\":1}\n", chunk: 1) == [line("{\"a\":1}")])
    #expect(decodeAll("  \t{\"a\":1}", chunk: 2) == [line("{\"a\":1}")])
    #expect(decodeAll(" Content-Length: 2\r\n\r\n{}\n") == [line("Content-Length: 2"), line("{}")])
    let padded = String(repeating: " ", count: 10) + "{\"a\":1}\n{}\n"
    #expect(
      decodeAll(padded, chunk: 3, limit: 12) == [.error(.tooLarge(limit: 12), framing: .lineDelimited), line("{}")])
    #expect(decodeAll(padded, limit: 17) == [line("{\"a\":1}"), line("{}")])
  }

  /// A last line without its line feed is still read at end of input.
  @Test func lastLineWithoutLineFeed() {
    #expect(decodeAll("{\"a\":1}\n[1]") == [line("{\"a\":1}"), line("[1]")])
  }

  /// A Content-Length frame yields exactly N bytes of body.
  @Test func contentLengthFrame() {
    #expect(decodeAll("Content-Length: 7\r\n\r\n{\"a\":1}") == [framed("{\"a\":1}")])
  }

  /// Content-Length counts bytes, not characters: a multibyte body is read whole.
  @Test func contentLengthCountsBytes() {
    let body = "{\"name\":\"Zoë 🌍\"}"
    let input = "Content-Length: \(body.utf8.count)\r\n\r\n\(body){\"next\":1}\n"
    #expect(body.utf8.count != body.count)
    #expect(decodeAll(input) == [framed(body), line("{\"next\":1}")])
  }

  /// Other headers (Content-Type) are allowed, in any order, and header names are case-insensitive.
  @Test func otherHeaders() {
    let input = "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length: 2\r\n\r\n{}"
    #expect(decodeAll(input) == [framed("{}", contentType: "application/vscode-jsonrpc; charset=utf-8")])
  }

  /// Fed one byte at a time, both framings give the same messages as fed at once.
  @Test func dripFeed() {
    let input = "Content-Length: 7\r\n\r\n{\"a\":1}{\"b\":2}\nContent-Length: 2\r\n\r\n[]\n{\"c\":3}\n"
    let whole = decodeAll(input)
    #expect(whole == [framed("{\"a\":1}"), line("{\"b\":2}"), framed("[]"), line("{\"c\":3}")])
    for chunk in 1...9 {
      #expect(decodeAll(input, chunk: chunk) == whole)
    }
  }

  /// Many frames of both kinds in one buffer come out in order.
  @Test func manyFramesInOneBuffer() {
    var input = ""
    var expected: [FrameEvent] = []
    for index in 0..<200 {
      let body = "{\"id\":\(index)}"
      if index % 2 == 0 {
        input += body + "\n"
        expected.append(line(body))
      } else {
        input += "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        expected.append(framed(body))
      }
    }
    #expect(decodeAll(input) == expected)
  }

  /// Headers split across reads (even inside "\r\n\r\n") are put together.
  @Test func headersSplitAcrossReads() {
    var decoder = FrameDecoder(maxMessageBytes: 1024)
    decoder.append(Array("Content-Len".utf8))
    #expect(decoder.next() == nil)
    decoder.append(Array("gth: 2\r\n\r".utf8))
    #expect(decoder.next() == nil)
    decoder.append(Array("\n{".utf8))
    #expect(decoder.next() == nil)
    decoder.append(Array("}".utf8))
    #expect(decoder.next() == framed("{}"))
  }

  /// A line over the limit is reported once and skipped without being kept; the next line is read.
  @Test func oversizedLineIsSkipped() {
    let big = "[" + String(repeating: "1,", count: 600) + "1]"
    let events = decodeAll(big + "\n{\"ok\":1}\n", chunk: 100, limit: 256)
    #expect(events == [.error(.tooLarge(limit: 256), framing: .lineDelimited), line("{\"ok\":1}")])
  }

  /// While skipping an oversized line the decoder holds at most about one limit of bytes.
  @Test func oversizedLineKeepsMemoryBounded() {
    var decoder = FrameDecoder(maxMessageBytes: 1000)
    var reported = 0
    for _ in 0..<1000 {
      decoder.append(repeatElement(UInt8(ascii: "x"), count: 100))
      while let event = decoder.next() {
        if case .error(.tooLarge, _) = event { reported += 1 }
      }
      #expect(decoder.bufferedCount <= 1200)
    }
    #expect(reported == 1)
  }

  /// A Content-Length over the limit is reported and its body skipped; the next frame is read.
  @Test func oversizedContentLengthIsSkipped() {
    let body = String(repeating: "a", count: 500)
    let input = "Content-Length: 502\r\n\r\n\"\(body)\"Content-Length: 2\r\n\r\n{}"
    #expect(
      decodeAll(input, chunk: 37, limit: 100) == [.error(.tooLarge(limit: 100), framing: .contentLength), framed("{}")])
  }

  /// A missing or non-numeric Content-Length is a header error, and the stream goes on.
  @Test func badContentLength() {
    #expect(
      decodeAll("Content-Type: x\r\n\r\n{\"a\":1}\n")
        == [.error(.badHeader("missing Content-Length header"), framing: .contentLength), line("{\"a\":1}")])
    #expect(
      decodeAll("Content-Length: -5\r\n\r\n[]\n")
        == [.error(.badHeader("Content-Length is not a decimal number"), framing: .contentLength), line("[]")])
  }

  /// Headers not ended by an empty line are reported and reading resumes at the next line.
  @Test func headersWithoutBlankLine() {
    let events = decodeAll("Content-Length: 2\r\n{}\n")
    #expect(
      events == [.error(.badHeader("header block not ended by an empty line"), framing: .contentLength), line("{}")])
  }

  /// A body cut short by the end of input is reported as truncated.
  @Test func truncatedBody() {
    #expect(decodeAll("Content-Length: 10\r\n\r\n{}") == [.error(.truncated, framing: .contentLength)])
  }

  /// Garbage lines are passed on as messages (the JSON parser rejects them), then framing resumes.
  @Test func garbageBetweenFrames() {
    let events = decodeAll("hello world\nContent-Length: 2\r\n\r\n{}\n")
    #expect(events == [line("hello world"), framed("{}")])
  }

  /// JSON literals that start with letters are not mistaken for headers.
  @Test func literalsAreNotHeaders() {
    #expect(decodeAll("true\nnull\n") == [line("true"), line("null")])
  }

  /// Only a first line `Content-Length:` or `Content-Type:` ended by CRLF starts a frame; any
  /// other line, however header-like, is an NDJSON line (contract v2).
  @Test func onlyContentHeadersStartAFrame() {
    #expect(decodeAll("p:\u{1}garbage\n{}\n") == [line("p:\u{1}garbage"), line("{}")])
    #expect(decodeAll("X-Other: 1\r\n{}\n") == [line("X-Other: 1"), line("{}")])
    #expect(decodeAll("Content-Length: 2\n\n{}\n") == [line("Content-Length: 2"), line("{}")])
    #expect(decodeAll("CONTENT-length: 2\r\n\r\n{}") == [framed("{}")])
  }

  /// Bytes that may still become `Content-Length:` wait for more; drip-fed, the result is the
  /// same as fed at once.
  @Test func headerPrefixWaitsForMore() {
    let input = "Content-Length: 2\r\n\r\n{}Content-Lengthy\n"
    let whole = decodeAll(input)
    #expect(whole == [framed("{}"), line("Content-Lengthy")])
    for chunk in 1...5 { #expect(decodeAll(input, chunk: chunk) == whole) }
  }
}
