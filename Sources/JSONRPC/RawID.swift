import JSON

/// The text of request ids as the client wrote them.
///
/// jansson reads a number into an integer or a double and writes it back in its own form:
/// `0.1` comes back as `0.10000000000000001`, `1e3` as `1000.0`, `-0` as `0`. A client that
/// matches responses by the id's text would not find them, so for such ids (not integers, or
/// zero) the id's bytes are taken from the message itself. The message is valid JSON (jansson
/// accepted it), so a small scanner suffices; it looks only at the top level of the request
/// object (or of each object of a batch).
enum RawID {
  /// Whether jansson's form of this id may differ from the text sent.
  static func mayDiffer(_ id: JSON?) -> Bool {
    guard let id else { return false }
    if id.isInteger { return id.integerValue == 0 }
    return id.isNumber
  }

  /// The text of the `id` member of the request object that is the whole message.
  static func ofRequest(in body: [UInt8]) -> [UInt8]? {
    var index = skipSpace(body, 0)
    guard index < body.count, body[index] == UInt8(ascii: "{") else { return nil }
    return idText(inObjectAt: &index, body)
  }

  /// The text of the `id` member of each element of the batch that is the whole message (nil
  /// for an element that is not an object or has none).
  static func ofBatch(in body: [UInt8]) -> [[UInt8]?] {
    var index = skipSpace(body, 0)
    guard index < body.count, body[index] == UInt8(ascii: "[") else { return [] }
    index += 1
    var texts: [[UInt8]?] = []
    while true {
      index = skipSpace(body, index)
      guard index < body.count, body[index] != UInt8(ascii: "]") else { return texts }
      if body[index] == UInt8(ascii: "{") {
        texts.append(idText(inObjectAt: &index, body))
      } else {
        texts.append(nil)
        index = skipValue(body, index)
      }
      index = skipSpace(body, index)
      guard index < body.count, body[index] == UInt8(ascii: ",") else { return texts }
      index += 1
    }
  }

  /// Walks the object at `index` (past its end on return); the last `id` member's value text.
  private static func idText(inObjectAt index: inout Int, _ body: [UInt8]) -> [UInt8]? {
    var found: [UInt8]? = nil
    index += 1
    while true {
      index = skipSpace(body, index)
      guard index < body.count, body[index] == UInt8(ascii: "\"") else {
        if index < body.count { index += 1 }  // the closing brace
        return found
      }
      let keyStart = index
      index = skipString(body, index)
      let isID = body[keyStart..<index].elementsEqual(#""id""#.utf8)
      index = skipSpace(body, index)
      guard index < body.count, body[index] == UInt8(ascii: ":") else { return found }
      index = skipSpace(body, index + 1)
      let valueStart = index
      index = skipValue(body, index)
      if isID { found = Array(body[valueStart..<index]) }
      index = skipSpace(body, index)
      if index < body.count, body[index] == UInt8(ascii: ",") { index += 1 }
    }
  }

  private static func skipSpace(_ body: [UInt8], _ start: Int) -> Int {
    var index = start
    while index < body.count, [0x20, 0x09, 0x0A, 0x0D].contains(body[index]) { index += 1 }
    return index
  }

  /// Past the string starting at `start` (its opening quote).
  private static func skipString(_ body: [UInt8], _ start: Int) -> Int {
    var index = start + 1
    while index < body.count {
      switch body[index] {
      case UInt8(ascii: "\\"): index += 2
      case UInt8(ascii: "\""): return index + 1
      default: index += 1
      }
    }
    return index
  }

  /// Past the value starting at `start`.
  private static func skipValue(_ body: [UInt8], _ start: Int) -> Int {
    guard start < body.count else { return start }
    switch body[start] {
    case UInt8(ascii: "\""):
      return skipString(body, start)
    case UInt8(ascii: "{"), UInt8(ascii: "["):
      var depth = 0
      var index = start
      while index < body.count {
        switch body[index] {
        case UInt8(ascii: "\""):
          index = skipString(body, index)
          continue
        case UInt8(ascii: "{"), UInt8(ascii: "["):
          depth += 1
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
          depth -= 1
          if depth == 0 { return index + 1 }
        default:
          break
        }
        index += 1
      }
      return index
    default:
      // A number or a literal: up to the next delimiter.
      var index = start
      while index < body.count, ![0x20, 0x09, 0x0A, 0x0D, 0x2C, 0x7D, 0x5D].contains(body[index]) { index += 1 }
      return index
    }
  }
}
