/// Splits MCP's stdio stream into messages: one JSON text per line, `\n`-ended (`\r\n`
/// accepted), blank lines ignored. A line longer than the limit is skipped as it streams by,
/// without being held whole.
struct LineSplitter {
  enum Event: Equatable {
    case line([UInt8])
    /// A line over the limit was skipped.
    case tooLong
  }

  let maxLineBytes: Int
  private var buffer: [UInt8] = []
  private var start = 0
  /// Inside an over-long line: bytes are dropped up to its end.
  private var isSkipping = false
  private var pendingEvents: [Event] = []
  private var nextEvent = 0

  init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

  mutating func append(_ bytes: UnsafeRawBufferPointer) {
    var rest = bytes[...]
    while !rest.isEmpty {
      guard let newline = rest.firstIndex(of: UInt8(ascii: "\n")) else {
        if isSkipping { return }
        buffer.append(contentsOf: rest)
        if buffer.count - start > maxLineBytes {
          buffer.removeAll(keepingCapacity: true)
          start = 0
          isSkipping = true
          pendingEvents.append(.tooLong)
        }
        return
      }
      let piece = rest[rest.startIndex..<newline]
      rest = rest[(newline + 1)...]
      if isSkipping {
        isSkipping = false
        continue
      }
      if buffer.count - start + piece.count > maxLineBytes {
        buffer.removeAll(keepingCapacity: true)
        start = 0
        pendingEvents.append(.tooLong)
        continue
      }
      var line: [UInt8]
      if buffer.count == start {
        line = Array(piece)
      } else {
        line = Array(buffer[start...])
        line.append(contentsOf: piece)
        buffer.removeAll(keepingCapacity: true)
        start = 0
      }
      if line.last == UInt8(ascii: "\r") { line.removeLast() }
      if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
      pendingEvents.append(.line(line))
    }
  }

  /// The next complete line (or skipped one), in order.
  mutating func next() -> Event? {
    guard nextEvent < pendingEvents.count else {
      if nextEvent > 0 {
        pendingEvents.removeAll(keepingCapacity: true)
        nextEvent = 0
      }
      return nil
    }
    nextEvent += 1
    return pendingEvents[nextEvent - 1]
  }

  /// At end of input: a last line without its `\n` still counts.
  mutating func finish() -> Event? {
    if let event = next() { return event }
    guard !isSkipping, buffer.count > start else { return nil }
    var line = Array(buffer[start...])
    buffer.removeAll()
    start = 0
    if line.last == UInt8(ascii: "\r") { line.removeLast() }
    if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
    return .line(line)
  }
}
