#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How a message was framed on the wire. A response is written in its request's framing.
public enum Framing: Equatable, Sendable {
  /// One JSON text per line, ended by `\n` (`\r\n` accepted).
  case lineDelimited
  /// LSP base protocol: `Content-Length: N\r\n`, optional other headers, `\r\n`, N bytes.
  case contentLength

  /// Wraps a serialized message body in this framing.
  public func appendFrame(body: [UInt8], to output: inout [UInt8]) {
    switch self {
    case .lineDelimited:
      output.append(contentsOf: body)
      output.append(UInt8(ascii: "\n"))
    case .contentLength:
      output.append(contentsOf: Array("Content-Length: \(body.count)\r\n\r\n".utf8))
      output.append(contentsOf: body)
    }
  }
}

/// Why bytes on the wire did not yield a message. The stream position is kept (or regained) in
/// every case, so the decoder goes on with the next message.
public enum FrameError: Equatable, Sendable {
  /// The message is over the size limit; it is being skipped without being held in memory.
  case tooLarge(limit: Int)
  /// A header block that is not valid: no or a bad Content-Length, a line that is not a header.
  case badHeader(String)
  /// The input ended in the middle of a message.
  case truncated
}

/// What the decoder found next.
public enum FrameEvent: Equatable, Sendable {
  case message(body: [UInt8], framing: Framing, contentType: String?)
  case error(FrameError, framing: Framing)
}

/// Splits a byte stream into messages, detecting the framing of each message on its own.
///
/// This is a pure state machine over a buffer: feed it bytes with `append`, then call `next()`
/// until it returns nil (it needs more bytes). The only state beyond the buffered bytes is the
/// remainder of an oversized message that is being skipped, so memory stays bounded by the
/// message limit plus one read.
public struct FrameDecoder: Sendable {
  public let maxMessageBytes: Int
  /// Header blocks longer than this are not headers; the stream resynchronises after them.
  public static let maxHeaderBytes = 8192

  private var buffer: [UInt8] = []
  private var start = 0
  private var skip: Skip = .none
  /// Spaces, tabs and CRs already consumed at the start of the current line: dropped as they
  /// arrive (a line of whitespace is never held whole, nor scanned again on every read) and
  /// counted against the message limit. A line that starts with them is an NDJSON line.
  private var leadingWhitespace = 0

  private enum Skip: Sendable {
    case none
    /// Drop this many more bytes (the body of an oversized Content-Length message).
    case bytes(Int)
    /// Drop through the next line feed (an oversized line).
    case throughLineFeed
  }

  public init(maxMessageBytes: Int) {
    self.maxMessageBytes = maxMessageBytes
  }

  /// Bytes buffered and not yet consumed.
  public var bufferedCount: Int { buffer.count - start }

  public mutating func append<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
    // Drop consumed bytes before growing, once they are at least half of the buffer (so a large
    // message arriving in many reads is not moved again on every read): the buffer holds at most
    // about twice one message plus the newest read.
    if start > 0 && (start == buffer.count || (start >= 65536 && start >= buffer.count / 2)) {
      buffer.removeSubrange(0..<start)
      start = 0
    }
    buffer.append(contentsOf: bytes)
  }

  public mutating func append(_ bytes: UnsafeRawBufferPointer) {
    append(bytes.bindMemory(to: UInt8.self))
  }

  /// The next message or framing error, or nil when more bytes are needed.
  public mutating func next() -> FrameEvent? {
    while true {
      switch skip {
      case .none:
        break
      case .bytes(let remaining):
        let dropped = min(remaining, buffer.count - start)
        start += dropped
        if dropped < remaining {
          skip = .bytes(remaining - dropped)
          return nil
        }
        skip = .none
      case .throughLineFeed:
        if let lineFeed = firstIndex(of: UInt8(ascii: "\n"), from: start) {
          start = lineFeed + 1
          skip = .none
        } else {
          start = buffer.count
          return nil
        }
      }

      guard start < buffer.count else { return nil }
      // Blank lines (and stray line ends) between messages are ignored.
      let first = buffer[start]
      if first == UInt8(ascii: "\n") {
        start += 1
        continue
      }
      if isHorizontalSpace(first) || first == UInt8(ascii: "\r") {
        var end = start
        while end < buffer.count, isHorizontalSpace(buffer[end]) || buffer[end] == UInt8(ascii: "\r") { end += 1 }
        leadingWhitespace += end - start
        start = end
        if leadingWhitespace > maxMessageBytes {
          leadingWhitespace = 0
          skip = .throughLineFeed
          return .error(.tooLarge(limit: maxMessageBytes), framing: .lineDelimited)
        }
        guard start < buffer.count else { return nil }
        if buffer[start] == UInt8(ascii: "\n") {
          // A blank line.
          leadingWhitespace = 0
          start += 1
          continue
        }
      }
      if leadingWhitespace > 0 { return nextLine() }

      switch startsWithHeader() {
      case nil:
        return nil
      case true?:
        return nextContentLengthMessage()
      case false?:
        return nextLine()
      }
    }
  }

  /// At end of input: what is left. A partial message is reported as truncated.
  public mutating func finish() -> FrameEvent? {
    if let event = next() { return event }
    if case .bytes = skip { skip = .none; return nil }
    if case .throughLineFeed = skip { skip = .none; return nil }
    let rest = buffer[start...]
    guard !rest.isEmpty else { return nil }
    if rest.allSatisfy({ isHorizontalSpace($0) || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) {
      start = buffer.count
      return nil
    }
    let framing: Framing = leadingWhitespace == 0 && startsWithHeader() == true ? .contentLength : .lineDelimited
    if framing == .lineDelimited {
      // A last line without its line feed is still a whole message.
      let body = Array(rest)
      start = buffer.count
      let leading = leadingWhitespace
      leadingWhitespace = 0
      if body.count + leading > maxMessageBytes {
        return .error(.tooLarge(limit: maxMessageBytes), framing: .lineDelimited)
      }
      return .message(body: body, framing: .lineDelimited, contentType: nil)
    }
    start = buffer.count
    return .error(.truncated, framing: framing)
  }

  // MARK: Line-delimited

  private mutating func nextLine() -> FrameEvent? {
    // The line's leading whitespace, already dropped, counts against the limit.
    let limit = maxMessageBytes - leadingWhitespace
    let searchLimit = min(buffer.count, start + limit + 2)
    if let lineFeed = firstIndex(of: UInt8(ascii: "\n"), from: start, before: searchLimit) {
      var end = lineFeed
      if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
      let body = Array(buffer[start..<end])
      start = lineFeed + 1
      leadingWhitespace = 0
      if body.count > limit {
        return .error(.tooLarge(limit: maxMessageBytes), framing: .lineDelimited)
      }
      return .message(body: body, framing: .lineDelimited, contentType: nil)
    }
    if buffer.count - start > limit + 1 {
      // Drop what was searched; the rest of the line is dropped as it arrives.
      start = searchLimit
      skip = .throughLineFeed
      leadingWhitespace = 0
      return .error(.tooLarge(limit: maxMessageBytes), framing: .lineDelimited)
    }
    return nil
  }

  // MARK: Content-Length

  /// The header names that start an LSP-framed message, lower-cased with their colon.
  private static let framingHeaders = [Array("content-length:".utf8), Array("content-type:".utf8)]

  /// Whether the next message is LSP-framed: its first line is a `Content-Length:` or
  /// `Content-Type:` header (names case-insensitive) ended by `\r\n`. Anything else is an NDJSON
  /// line, whatever it looks like. Nil when it cannot be told yet.
  private func startsWithHeader() -> Bool? {
    let available = buffer.count - start
    var named = false
    for name in Self.framingHeaders {
      let compared = min(available, name.count)
      var matches = true
      for offset in 0..<compared where asciiLowercased(buffer[start + offset]) != name[offset] {
        matches = false
        break
      }
      guard matches else { continue }
      if compared < name.count { return nil }
      named = true
      break
    }
    guard named else { return false }
    let limit = min(buffer.count, start + Self.maxHeaderBytes)
    guard let lineFeed = firstIndex(of: UInt8(ascii: "\n"), from: start, before: limit) else {
      // A "header" line longer than any header is a line of text.
      return available >= Self.maxHeaderBytes ? false : nil
    }
    return buffer[lineFeed - 1] == UInt8(ascii: "\r")
  }

  private enum HeaderScan {
    /// More bytes are needed to see the whole header block.
    case incomplete
    /// The header lines end before `linesEnd`; the body starts at `bodyStart`. `hasBadLine`: a
    /// line among them is not `Name: value`.
    case complete(linesEnd: Int, bodyStart: Int, hasBadLine: Bool)
    /// The line starting at `lineStart` (after `start`) is not a header: the block ends there.
    case notAHeader(lineStart: Int)
  }

  /// Walks the header lines from `start`: each should be `Name: value`, and an empty line ends
  /// them. A line that is not a header but not JSON either (`bogus`, a name with a non-ASCII
  /// byte) is a bad line inside the block: the block still ends at its empty line, so the
  /// message is reported whole and its body skipped, and the stream keeps its place. A line
  /// that starts a JSON text is a body sent without the empty line.
  private func scanHeaderBlock() -> HeaderScan {
    var lineStart = start
    var hasBadLine = false
    let limit = min(buffer.count, start + Self.maxHeaderBytes)
    while lineStart < limit {
      guard let lineFeed = firstIndex(of: UInt8(ascii: "\n"), from: lineStart, before: limit) else {
        return .incomplete
      }
      let lineEnd = (lineFeed > lineStart && buffer[lineFeed - 1] == UInt8(ascii: "\r")) ? lineFeed - 1 : lineFeed
      if lineEnd == lineStart {
        return lineStart == start
          ? .notAHeader(lineStart: lineStart)
          : .complete(linesEnd: lineStart, bodyStart: lineFeed + 1, hasBadLine: hasBadLine)
      }
      var index = lineStart
      while index < lineEnd && isTokenByte(buffer[index]) { index += 1 }
      if index == lineStart || index == lineEnd || buffer[index] != UInt8(ascii: ":") {
        var first = lineStart
        while first < lineEnd && isHorizontalSpace(buffer[first]) { first += 1 }
        if first == lineEnd || buffer[first] == UInt8(ascii: "{") || buffer[first] == UInt8(ascii: "[") {
          return .notAHeader(lineStart: lineStart)
        }
        hasBadLine = true
      }
      lineStart = lineFeed + 1
    }
    return .incomplete
  }

  private mutating func nextContentLengthMessage() -> FrameEvent? {
    let headerEnd: Int
    let bodyStart: Int
    let hasBadLine: Bool
    switch scanHeaderBlock() {
    case .incomplete:
      if buffer.count - start >= Self.maxHeaderBytes {
        // No end of headers in sight: drop this line and resynchronise on the next.
        skip = .throughLineFeed
        return .error(.badHeader("header block too long or not terminated"), framing: .contentLength)
      }
      return nil
    case .notAHeader(let lineStart):
      // Headers without their blank line: report them and read on from the offending line.
      start = max(lineStart, start + 1)
      return .error(.badHeader("header block not ended by an empty line"), framing: .contentLength)
    case .complete(let linesEnd, let body, let bad):
      headerEnd = linesEnd
      bodyStart = body
      hasBadLine = bad
    }

    var contentLength: Int?
    var contentType: String?
    var problem: String? = hasBadLine ? "a header line is not \"Name: value\"" : nil
    var lengthIsAmbiguous = false
    for line in splitLines(buffer[start..<headerEnd]) {
      guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
      let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
      let value = trimmed(line[(colon + 1)...])
      switch name {
      case "content-length":
        if let first = contentLength {
          // Two lengths that agree still say where the body ends; two that differ do not.
          problem = "Content-Length given twice"
          if Int(String(decoding: value, as: UTF8.self)) != first { lengthIsAmbiguous = true }
        } else if !value.isEmpty, value.count <= 18, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
          contentLength = Int(String(decoding: value, as: UTF8.self))
        } else {
          problem = "Content-Length is not a decimal number"
        }
      case "content-type":
        contentType = String(decoding: value, as: UTF8.self)
      default:
        break
      }
    }
    if let problem {
      // With a readable length the body is skipped too: the next message starts after it.
      start = bodyStart
      if let contentLength, !lengthIsAmbiguous { skip = .bytes(contentLength) }
      return .error(.badHeader(problem), framing: .contentLength)
    }
    guard let length = contentLength else {
      start = bodyStart
      return .error(.badHeader("missing Content-Length header"), framing: .contentLength)
    }
    if length > maxMessageBytes {
      start = bodyStart
      skip = .bytes(length)
      return .error(.tooLarge(limit: maxMessageBytes), framing: .contentLength)
    }
    // Until the whole body is here, nothing is consumed: the headers are read again next time.
    guard buffer.count - bodyStart >= length else { return nil }
    let body = Array(buffer[bodyStart..<(bodyStart + length)])
    start = bodyStart + length
    return .message(body: body, framing: .contentLength, contentType: contentType)
  }

  private func splitLines(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
    bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).map { line in
      line.last == UInt8(ascii: "\r") ? line.dropLast() : line
    }.filter { !$0.isEmpty }
  }

  private func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    var slice = bytes
    while let first = slice.first, isHorizontalSpace(first) { slice = slice.dropFirst() }
    while let last = slice.last, isHorizontalSpace(last) || last == UInt8(ascii: "\r") { slice = slice.dropLast() }
    return slice
  }

  private func firstIndex(of byte: UInt8, from index: Int, before limit: Int? = nil) -> Int? {
    let end = limit ?? buffer.count
    guard index < end else { return nil }
    return buffer.withUnsafeBufferPointer { pointer in
      guard let base = pointer.baseAddress else { return nil }
      guard let found = memchr(base + index, Int32(byte), end - index) else { return nil }
      return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }
  }
}

private func asciiLowercased(_ byte: UInt8) -> UInt8 {
  byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
}

private func isHorizontalSpace(_ byte: UInt8) -> Bool {
  byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
}

/// RFC 7230 token characters, the ones a header name is made of.
private func isTokenByte(_ byte: UInt8) -> Bool {
  switch byte {
  case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
    UInt8(ascii: "0")...UInt8(ascii: "9"):
    return true
  case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "#"),
    UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"),
    UInt8(ascii: "+"), UInt8(ascii: "^"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
    return true
  default:
    return false
  }
}
