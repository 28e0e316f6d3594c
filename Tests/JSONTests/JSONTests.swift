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
}
