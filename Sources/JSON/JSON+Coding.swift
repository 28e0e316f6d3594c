import CJansson

/// Why a text is not JSON, as jansson reports it.
public struct JSONParseError: Error, Equatable, Sendable {
  public var message: String
  /// Byte offset where the parser stopped.
  public var position: Int
}

extension JSON {
  /// Parses one JSON text of any kind (not only objects and arrays) from UTF-8 bytes.
  /// Invalid UTF-8, trailing garbage, nesting deeper than jansson's limit (2048) and integers
  /// outside 64 bits are errors. Escaped NUL characters (`\u0000`) are accepted in strings so
  /// that the layer above can reject them with a precise error.
  /// `integersAsReals`: every number is read as a double (so an integer beyond 64 bits is one).
  public static func parse(_ bytes: UnsafeRawBufferPointer, integersAsReals: Bool = false) -> Result<
    JSON, JSONParseError
  > {
    var error = json_error_t()
    let flags = Int(JSON_DECODE_ANY | JSON_ALLOW_NUL | (integersAsReals ? JSON_DECODE_INT_AS_REAL : 0))
    // jansson wants a non-null pointer even for an empty buffer.
    let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self) ?? emptyCString
    guard let root = json_loadb(base, bytes.count, flags, &error) else {
      let message = withUnsafeBytes(of: &error.text) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      return .failure(JSONParseError(message: message, position: Int(error.position)))
    }
    return .success(JSON(owning: root))
  }

  public static func parse(_ bytes: [UInt8], integersAsReals: Bool = false) -> Result<JSON, JSONParseError> {
    bytes.withUnsafeBytes { parse($0, integersAsReals: integersAsReals) }
  }

  public static func parse(_ text: String) -> Result<JSON, JSONParseError> {
    var copy = text
    return copy.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
  }

  /// Compact UTF-8 serialisation (no spaces, no newlines: safe for line-delimited framing,
  /// since jansson escapes control characters inside strings).
  public func serialized() -> [UInt8] {
    var output: [UInt8] = []
    appendSerialized(to: &output)
    return output
  }

  /// Appends the compact serialisation to `output`. Small values (responses, records) are
  /// written by jansson into a stack buffer in one pass and copied once; larger ones are sized
  /// first, then written straight into `output`.
  public func appendSerialized(to output: inout [UInt8]) {
    let flags = Int(JSON_COMPACT | JSON_ENCODE_ANY)
    let stackBytes = 2048
    let size = withUnsafeTemporaryAllocation(of: CChar.self, capacity: stackBytes) { scratch -> Int in
      let size = json_dumpb(handle, scratch.baseAddress, stackBytes, flags)
      if size > 0 && size <= stackBytes {
        scratch.withMemoryRebound(to: UInt8.self) { output.append(contentsOf: $0.prefix(size)) }
        return 0
      }
      return size
    }
    guard size > 0 else { return }
    let start = output.count
    output.append(contentsOf: repeatElement(0, count: size))
    output.withUnsafeMutableBytes { buffer in
      let target = buffer.baseAddress!.advanced(by: start).assumingMemoryBound(to: CChar.self)
      _ = json_dumpb(handle, target, size, flags)
    }
  }

  /// The compact serialisation as a string.
  public var serializedString: String {
    String(decoding: serialized(), as: UTF8.self)
  }
}
