import Testing

@testable import CSV

/// Every record of `text` as (line, fields), read through chunks of `chunkBytes`.
private func records(_ text: String, chunkBytes: Int = .max) throws(CSVError) -> [(Int, [String])] {
  try records(Array(text.utf8), chunkBytes: chunkBytes)
}

private func records(_ bytes: [UInt8], chunkBytes: Int = .max) throws(CSVError) -> [(Int, [String])] {
  let reader = CSVReader(source: CSVBytesSource(bytes, chunkBytes: chunkBytes), chunkBytes: 16)
  var result: [(Int, [String])] = []
  while try reader.next() { result.append((reader.line, reader.strings)) }
  return result
}

private func fields(_ text: String) throws -> [[String]] { try records(text).map(\.1) }
private func lines(_ text: String) throws -> [Int] { try records(text).map(\.0) }

private func error(_ text: String) -> CSVError? {
  error(Array(text.utf8))
}

private func error(_ bytes: [UInt8]) -> CSVError? {
  do {
    _ = try records(bytes)
    return nil
  } catch {
    return error
  }
}

@Suite struct CSVReaderTests {
  /// Plain fields split on commas, records on LF.
  @Test func readsPlainRecords() throws {
    #expect(try fields("a,b,c\n1,2,3\n") == [["a", "b", "c"], ["1", "2", "3"]])
  }

  /// The last record needs no line end; CRLF and LF may be mixed.
  @Test func acceptsCRLFAndMissingFinalLineEnd() throws {
    #expect(try fields("a,b\r\n1,2\n3,4") == [["a", "b"], ["1", "2"], ["3", "4"]])
    #expect(try fields("a,b\r\n1,2\r\n") == [["a", "b"], ["1", "2"]])
  }

  /// Quoted fields hold commas, doubled quotes and line breaks.
  @Test func unquotesFields() throws {
    let text = "name,comment\n\"Smith, Ann\",\"She said \"\"yes\"\"\r\nand left\"\n"
    #expect(try fields(text) == [["name", "comment"], ["Smith, Ann", "She said \"yes\"\r\nand left"]])
  }

  /// Empty fields, quoted or not, and a trailing comma make empty strings.
  @Test func readsEmptyFields() throws {
    #expect(try fields(",\"\",x,\n") == [["", "", "x", ""]])
  }

  /// A byte order mark is not part of the first field, even when bytes arrive one at a time.
  @Test func skipsByteOrderMark() throws {
    let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("email\nx@y.z\n".utf8)
    #expect(try records(bytes).map(\.1) == [["email"], ["x@y.z"]])
    #expect(try records(bytes, chunkBytes: 1).map(\.1) == [["email"], ["x@y.z"]])
  }

  /// Each record carries the line it starts on, line breaks inside quotes counted.
  @Test func numbersRecordsByTheirFirstLine() throws {
    #expect(try lines("h\n\"a\nb\nc\"\nd\r\ne\n") == [1, 2, 5, 6])
  }

  /// Empty lines are no records but still count as lines.
  @Test func skipsEmptyLines() throws {
    let read = try records("h\n\n1\r\n\r\n2\n\n")
    #expect(read.map(\.1) == [["h"], ["1"], ["2"]])
    #expect(read.map(\.0) == [1, 3, 5])
    // A quoted empty field is a record.
    #expect(try fields("h\n\"\"\n") == [["h"], [""]])
  }

  /// Reading byte by byte gives the same records as reading in one go.
  @Test func isIndependentOfChunking() throws {
    let text = "\u{FEFF}a,\"b\"\"c\",d\r\n\"x\r\ny\",\"\",z\n\nq"
    let whole = try records(text).map { "\($0.0):\($0.1)" }
    for size in [1, 2, 3, 5, 7] {
      #expect(try records(text, chunkBytes: size).map { "\($0.0):\($0.1)" } == whole)
    }
  }

  /// A quote inside an unquoted field is taken literally.
  @Test func keepsQuotesInsideUnquotedFields() throws {
    #expect(try fields("5\" tall,x\n") == [["5\" tall", "x"]])
  }

  /// A quoted field that never closes is an error at the line where it opened.
  @Test func refusesUnclosedQuote() {
    #expect(
      error("h\nok\n\"open\nmore\n")
        == CSVError(line: 3, message: "a quoted field is not closed before the end of the file"))
  }

  /// Text after a closing quote is an error at its line.
  @Test func refusesTextAfterClosingQuote() {
    #expect(error("h\n\"a\nb\"c\n")?.line == 3)
    #expect(error("h\n\"a\"\rb\n")?.line == 2)
  }

  /// Invalid UTF-8 (a stray continuation byte, an overlong form, a truncated sequence, a
  /// surrogate) is an error at the record's line; valid multi-byte text passes.
  @Test func refusesInvalidUTF8() throws {
    for bad: [UInt8] in [[0x80], [0xC0, 0xAF], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF5, 0x80, 0x80, 0x80]] {
      let bytes = Array("h\nok\n".utf8) + Array("x".utf8) + bad + Array(",y\n".utf8)
      #expect(error(bytes)?.line == 3)
    }
    #expect(try fields("Zoë,日本,😀\n") == [["Zoë", "日本", "😀"]])
    // A sequence cut by a comma is invalid in each field.
    #expect(error([0xE2, 0x82, UInt8(ascii: ","), 0xAC]) != nil)
  }

  /// A record longer than the limit is an error, so memory stays bounded.
  @Test func limitsRecordLength() {
    let reader = CSVReader(
      source: CSVBytesSource("h\n\"" + String(repeating: "x", count: 100)), chunkBytes: 16, maximumRecordBytes: 64)
    #expect(throws: CSVError.self) {
      while try reader.next() {}
    }
  }

  /// The limit holds exactly, quoted or not, however the bytes arrive: a record of the maximum
  /// length is read, one byte more is an error.
  @Test func limitIsExact() throws {
    for chunk in [1, 5, 64] {
      for quote in ["", "\""] {
        func read(_ length: Int) throws(CSVError) -> [String] {
          let text = quote + String(repeating: "x", count: length) + quote + "\n"
          let reader = CSVReader(
            source: CSVBytesSource(text, chunkBytes: chunk), chunkBytes: 16, maximumRecordBytes: 32)
          _ = try reader.next()
          return reader.strings
        }
        #expect(try read(32) == [String(repeating: "x", count: 32)])
        #expect(throws: CSVError.self) { try read(33) }
      }
    }
  }

  /// A CR outside quotes that is not followed by LF is not RFC 4180: old Mac line ends would
  /// otherwise make the whole file one record (no rows, no error). Quoted, it is data.
  @Test func refusesLoneCarriageReturn() throws {
    #expect(throws: CSVError.self) { try fields("a\rb,c\n") }
    #expect(throws: CSVError.self) { try fields("email,zip\rx@example.org,10001\r") }
    #expect(throws: CSVError.self) { try fields("a,b\r") }
    #expect(throws: CSVError.self) { try fields("\"a\"\rb\n") }
    #expect(try fields("\"a\rb\",c\r\n") == [["a\rb", "c"]])
  }

  /// An empty source has no records.
  @Test func readsEmptySource() throws {
    #expect(try records("").isEmpty)
    #expect(try records([0xEF, 0xBB, 0xBF]).isEmpty)
  }
}

@Suite struct UTF8ValidationTests {
  private func isValid(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBufferPointer { UTF8Validation.isValid($0) }
  }

  /// Agrees with the standard library's decoder on every 1- and 2-byte sequence and on 3-byte
  /// sequences at the range boundaries.
  @Test func agreesWithStandardLibrary() {
    func reference(_ bytes: [UInt8]) -> Bool { String(validating: bytes, as: UTF8.self) != nil }
    for a in 0...255 {
      let one = [UInt8(a)]
      #expect(isValid(one) == reference(one))
      for b in 0...255 {
        let two = [UInt8(a), UInt8(b)]
        if isValid(two) != reference(two) { Issue.record("differs on \(two)") }
        // Third bytes at the boundaries of the continuation ranges, after lead bytes only.
        for c: UInt8 in [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF] where a >= 0xC0 {
          let three = [UInt8(a), UInt8(b), c]
          if isValid(three) != reference(three) { Issue.record("differs on \(three)") }
        }
      }
    }
  }

  /// Long ASCII runs (the word-at-a-time path) with a bad byte anywhere are refused.
  @Test func checksEveryPositionOfLongRuns() {
    for position in 0..<40 {
      var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 40)
      bytes[position] = 0xFF
      #expect(!isValid(bytes))
    }
    #expect(isValid([UInt8](repeating: UInt8(ascii: "a"), count: 41)))
  }
}
