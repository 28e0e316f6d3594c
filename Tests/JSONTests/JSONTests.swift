import Testing

@testable import JSON

@Suite struct JSONTests {
  /// Parsing and serialising round-trips, compactly, keeping member order.
  @Test func roundTrip() throws {
    let text = #"{"b":1,"a":[true,null,"x",1.5]}"#
    let value = try JSON.parse(text).get()
    #expect(value.serializedString == text)
    #expect(value.keys == ["b", "a"])
  }

  /// Invalid UTF-8 is a parse error.
  @Test func invalidUTF8() {
    let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
    #expect(throws: JSONParseError.self) { try JSON.parse(bytes).get() }
  }

  /// Nesting far beyond jansson's depth limit is an error, not a crash.
  @Test func deepNesting() {
    let text = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    #expect(throws: JSONParseError.self) { try JSON.parse(text).get() }
  }

  /// Integers beyond 64 bits are refused rather than silently changed.
  @Test func hugeIntegers() {
    #expect(throws: JSONParseError.self) { try JSON.parse("123456789012345678901234567890").get() }
  }

  /// Escaped NUL characters survive in strings; raw NUL bytes are an error.
  @Test func nulCharacters() throws {
    let escaped = try JSON.parse(#""a\u0000b""#).get()
    #expect(escaped.stringValue == "a\u{0}b")
    #expect(throws: JSONParseError.self) { try JSON.parse([0x22, 0x61, 0x00, 0x22]).get() }
  }

  /// Strings built from Swift keep every character, and control characters are escaped on output.
  @Test func stringsAreEscaped() {
    let value = JSON.string("line\nbreak \"quoted\" é")
    #expect(value.serializedString == #""line\nbreak \"quoted\" é""#)
  }

  /// Trailing garbage after a JSON text is an error.
  @Test func trailingGarbage() {
    #expect(throws: JSONParseError.self) { try JSON.parse("{} x").get() }
  }

  /// JSONWriter's strings parse back to the text written, for every byte that needs escaping,
  /// quotes, backslashes and non-ASCII; where jansson writes the same escape, the bytes agree.
  @Test func writerStrings() throws {
    var texts = ["", "plain", "quote\"back\\slash", "tab\tline\ncr\r", "ñandú 東京 🙂", "\u{7F}del"]
    texts.append(String(decoding: (0..<0x20).map { UInt8($0) } + [0x41], as: UTF8.self))
    for text in texts {
      var bytes: [UInt8] = []
      JSONWriter.appendString(text.utf8, to: &bytes)
      let parsed = try JSON.parse(bytes).get()
      #expect(parsed.serializedString == JSON.string(text).serializedString)
      #expect(JSON.string(String(decoding: bytes, as: UTF8.self)).serializedString.count > 0)
      if !text.utf8.contains(where: { $0 < 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) {
        #expect(bytes == JSON.string(text).serialized(), "\(text)")
      }
    }
  }

  /// JSONWriter's integers are jansson's, at the edges too.
  @Test func writerIntegers() {
    for value in [0, 1, -1, 9, 10, 99, 100, 1_000_000, 123_456_789, Int.max, Int.min, Int.min + 1] {
      var bytes: [UInt8] = []
      JSONWriter.appendInteger(value, to: &bytes)
      #expect(bytes == JSON.integer(value).serialized(), "\(value)")
    }
  }
}
