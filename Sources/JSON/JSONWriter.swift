/// Pieces of compact JSON written straight into a byte buffer, for results too large or too
/// frequent to build as a jansson tree first (a `count` grouped by postal code has tens of
/// thousands of groups: a tree costs three allocations and a `snprintf` per group).
/// The output is what `JSON.serialized()` writes for the same value, up to how control
/// characters are escaped (both forms are the same JSON string).
public enum JSONWriter {
  /// Appends `text` as a JSON string: quotes, backslashes and control characters escaped,
  /// everything else (valid UTF-8, as Swift strings and jansson's output are) as it is.
  @inlinable
  public static func appendString(_ text: some Sequence<UInt8>, to output: inout [UInt8]) {
    output.append(UInt8(ascii: "\""))
    for byte in text {
      if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
        output.append(byte)
      } else {
        appendEscaped(byte, to: &output)
      }
    }
    output.append(UInt8(ascii: "\""))
  }

  @usableFromInline
  static func appendEscaped(_ byte: UInt8, to output: inout [UInt8]) {
    output.append(UInt8(ascii: "\\"))
    switch byte {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.append(byte)
    case UInt8(ascii: "\n"): output.append(UInt8(ascii: "n"))
    case UInt8(ascii: "\r"): output.append(UInt8(ascii: "r"))
    case UInt8(ascii: "\t"): output.append(UInt8(ascii: "t"))
    default:
      output.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
      output.append(hexDigits[Int(byte >> 4)])
      output.append(hexDigits[Int(byte & 0xF)])
    }
  }

  /// Appends a decimal integer without going through `String`.
  @inlinable
  public static func appendInteger(_ value: Int, to output: inout [UInt8]) {
    if value == 0 {
      output.append(UInt8(ascii: "0"))
      return
    }
    if value < 0 { output.append(UInt8(ascii: "-")) }
    // The magnitude as UInt: Int.min has no positive Int.
    var magnitude = value.magnitude
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
    var count = 0
    withUnsafeMutableBytes(of: &digits) { buffer in
      while magnitude > 0 {
        buffer[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
        magnitude /= 10
        count += 1
      }
      output.append(contentsOf: buffer[(24 - count)...])
    }
  }

  @usableFromInline
  static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
