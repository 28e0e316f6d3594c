/// Text primitives shared by the rules: normalisation, trimming and character classes.
///
/// Everything here is plain standard library so the domain module stays free of Foundation.
enum Text {
  /// The Unicode NFC form of `text`.
  ///
  /// ASCII is returned untouched because it is already NFC and by far the common case; everything
  /// else goes through the standard library's (underscored but public) NFC normaliser.
  static func nfc(_ text: String) -> String {
    if isASCII(text) { return text }
    return String(decoding: text._nfcCodeUnits, as: UTF8.self)
  }

  /// Whether every byte of `text` is ASCII.
  static func isASCII(_ text: String) -> Bool {
    // Eight bytes at a time over the contiguous UTF-8 of a native string (what every request
    // field is); a per-byte walk of the view cost ~10 instructions a byte on every field.
    let fast = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
      guard let base = UnsafeRawPointer(bytes.baseAddress) else { return true }
      let count = bytes.count
      var offset = 0
      while offset + 8 <= count {
        if base.loadUnaligned(fromByteOffset: offset, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
        offset += 8
      }
      while offset < count {
        if base.load(fromByteOffset: offset, as: UInt8.self) >= 0x80 { return false }
        offset += 1
      }
      return true
    }
    return fast ?? text.utf8.allSatisfy { $0 < 0x80 }
  }

  /// `text` without leading and trailing whitespace (per `Character.isWhitespace`, which includes
  /// line breaks and the Unicode spaces).
  static func trimmed(_ text: String) -> String {
    // ASCII fast path: the common case, judged on bytes without Unicode property lookups.
    if let ascii = asciiTrimmed(text) { return ascii }
    guard let first = text.firstIndex(where: { !$0.isWhitespace }) else { return "" }
    let last = text.lastIndex(where: { !$0.isWhitespace })!
    if first == text.startIndex && text.index(after: last) == text.endIndex { return text }
    return String(text[first...last])
  }

  /// Characters that must not appear in a single-line field: category Cc (C0, DEL, C1 including
  /// NEL) plus the line and paragraph separators (Zl, Zp: U+2028, U+2029), which break lines
  /// just as well in every consumer that honours them.
  static func isSingleLineForbidden(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .control, .lineSeparator, .paragraphSeparator: return true
    default: return false
    }
  }

  /// Characters that must not appear in a multi-line field: category Cc except tab, line feed
  /// and carriage return. Zl and Zp are line breaks and so are allowed here.
  static func isMultiLineForbidden(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case "\t", "\n", "\r": return false
    default: return scalar.properties.generalCategory == .control
    }
  }

  static func containsSingleLineForbidden(_ text: String) -> Bool {
    if isASCII(text) { return text.utf8.contains { $0 < 0x20 || $0 == 0x7F } }
    return text.unicodeScalars.contains(where: isSingleLineForbidden)
  }

  static func containsMultiLineForbidden(_ text: String) -> Bool {
    if isASCII(text) {
      return text.utf8.contains { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D) || $0 == 0x7F }
    }
    return text.unicodeScalars.contains(where: isMultiLineForbidden)
  }

  /// Whitespace or a control character, for ASCII text (the email rule's "no spaces").
  static func containsASCIISpaceOrControl(_ text: String) -> Bool {
    text.utf8.contains { $0 <= 0x20 || $0 == 0x7F }
  }

  /// `trimmed` for ASCII text (whitespace: tab, LF, VT, FF, CR, space); nil for other text.
  private static func asciiTrimmed(_ text: String) -> String? {
    let utf8 = text.utf8
    guard isASCII(text) else { return nil }
    func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) }
    guard let first = utf8.first, let last = utf8.last else { return text }
    if !isSpace(first) && !isSpace(last) { return text }
    guard let start = utf8.firstIndex(where: { !isSpace($0) }) else { return "" }
    let end = utf8.lastIndex(where: { !isSpace($0) })!
    return String(Substring(utf8[start...end]))
  }

  /// Whether `byte` is an ASCII digit `0`-`9` (not any Unicode digit: fields that take digits are ASCII).
  static func isASCIIDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
  }

  /// Whether `byte` is an ASCII letter `A`-`Z` or `a`-`z`.
  static func isASCIILetter(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
  }
}
