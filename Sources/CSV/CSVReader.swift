/// A streaming RFC 4180 reader: records are read one at a time from a byte source, through a
/// fixed buffer, so memory stays flat however large the file.
///
/// Accepted: fields separated by `,`, records ended by `\r\n` or `\n` (the last one may lack
/// it), fields in double quotes holding commas, line breaks and doubled quotes, a UTF-8 byte
/// order mark at the start. Lines that are completely empty are skipped. Every field must be
/// valid UTF-8. A quote inside an unquoted field is taken literally (`5" tall`); anything but a
/// comma or a line end after a closing quote, a quoted field that never ends, a carriage return
/// outside quotes that does not end a line with a line feed (old Mac line ends: read as one
/// record they would silently lose every row), and a record longer than `maximumRecordBytes`
/// are errors.
///
/// `line` is the line of the file on which the current record starts (1 for the first line),
/// counting every line feed, also those inside quoted fields.
public final class CSVReader {
  /// Longest record accepted, in bytes (after unquoting): keeps memory bounded when a quote is
  /// never closed.
  public let maximumRecordBytes: Int

  private var source: any CSVSource
  private let chunk: UnsafeMutableBufferPointer<UInt8>
  private var chunkStart = 0
  private var chunkEnd = 0
  private var isSourceDone = false
  private var isAtFileStart = true

  /// The unquoted bytes of the current record's fields, back to back.
  private let storage: UnsafeMutablePointer<UInt8>
  private var stored = 0
  /// Where each field of the current record ends in `storage`.
  private var fieldEnds: [Int] = []

  /// The line of the next byte to read.
  private var currentLine = 1

  /// The line on which the current record starts.
  public private(set) var line = 0
  /// How many records `next()` has returned.
  public private(set) var recordCount = 0

  public init(source: any CSVSource, chunkBytes: Int = 1 << 16, maximumRecordBytes: Int = 1 << 20) {
    precondition(chunkBytes >= 4 && maximumRecordBytes > 0)
    self.source = source
    self.maximumRecordBytes = maximumRecordBytes
    chunk = .allocate(capacity: chunkBytes)
    storage = .allocate(capacity: maximumRecordBytes + 1)
    fieldEnds.reserveCapacity(64)
  }

  deinit {
    chunk.deallocate()
    storage.deallocate()
  }

  /// The number of fields of the current record.
  public var fieldCount: Int { fieldEnds.count }

  /// The bytes of field `index` of the current record (valid until the next `next()`).
  public func field(_ index: Int) -> UnsafeBufferPointer<UInt8> {
    let start = index == 0 ? 0 : fieldEnds[index - 1]
    return UnsafeBufferPointer(start: storage + start, count: fieldEnds[index] - start)
  }

  /// Field `index` of the current record as text (already checked to be valid UTF-8).
  public func string(_ index: Int) -> String {
    String(decoding: field(index), as: UTF8.self)
  }

  /// The fields of the current record as text.
  public var strings: [String] { (0..<fieldCount).map(string) }

  private enum State {
    /// At the start of a field.
    case fieldStart
    /// Inside an unquoted field.
    case unquoted
    /// Inside a quoted field.
    case quoted
    /// Just after a quote inside a quoted field: the end of the field, or the first of a doubled
    /// quote.
    case quoteInQuoted
  }

  /// Reads the next record; false at the end of the source.
  public func next() throws(CSVError) -> Bool {
    while try readRecord() {
      // A line holding nothing (not even `""`) is no record.
      if fieldEnds.count == 1 && fieldEnds[0] == 0 && !recordHasQuotes { continue }
      recordCount &+= 1
      return true
    }
    return false
  }

  private var recordHasQuotes = false

  private func readRecord() throws(CSVError) -> Bool {
    stored = 0
    recordHasQuotes = false
    fieldEnds.removeAll(keepingCapacity: true)
    var state = State.fieldStart
    var pendingCR = false
    var isRecordStarted = false
    var fieldIsQuoted = false
    var fieldStartLine = currentLine

    while true {
      // Fast path: the ordinary bytes of a field, copied in a tight loop over locals (the byte
      // by byte path below pays for property accesses on every byte).
      if !pendingCR && (state == .unquoted || state == .quoted) && chunkStart < chunkEnd {
        var position = chunkStart
        var count = stored
        let end = min(chunkEnd, position + (maximumRecordBytes - count))
        let input = chunk.baseAddress!
        let output = storage
        if state == .unquoted {
          while position < end {
            let byte = input[position]
            if byte == UInt8(ascii: ",") || byte == 0x0A || byte == 0x0D { break }
            output[count] = byte
            count &+= 1
            position &+= 1
          }
        } else {
          while position < end {
            let byte = input[position]
            if byte == UInt8(ascii: "\"") || byte == 0x0A { break }
            output[count] = byte
            count &+= 1
            position &+= 1
          }
        }
        chunkStart = position
        stored = count
      }
      if chunkStart == chunkEnd {
        // (A chunk that held only the byte order mark is empty after refilling.)
        while chunkStart == chunkEnd && !isSourceDone { try refill() }
        if chunkStart == chunkEnd {
          // End of the source.
          guard isRecordStarted || pendingCR else { return false }
          switch state {
          case .quoted:
            throw CSVError(line: fieldStartLine, message: "a quoted field is not closed before the end of the file")
          case .fieldStart, .unquoted, .quoteInQuoted:
            if pendingCR { throw Self.loneCarriageReturn(line: currentLine) }
            try endField(quoted: fieldIsQuoted)
          }
          return finishRecord()
        }
      }
      let byte = chunk[chunkStart]
      chunkStart &+= 1

      if pendingCR {
        pendingCR = false
        if byte == 0x0A {  // CRLF ends the record
          currentLine &+= 1
          try endField(quoted: fieldIsQuoted)
          return finishRecord()
        }
        // A lone CR outside quotes is not RFC 4180 (a CR in a field must be quoted).
        throw Self.loneCarriageReturn(line: currentLine)
      }

      if !isRecordStarted {
        if byte == 0x0A {  // an empty line: skipped
          currentLine &+= 1
          continue
        }
        isRecordStarted = true
        line = currentLine
        fieldStartLine = currentLine
      }

      switch state {
      case .fieldStart:
        switch byte {
        case UInt8(ascii: "\""):
          state = .quoted
          fieldIsQuoted = true
          recordHasQuotes = true
          fieldStartLine = currentLine
        case UInt8(ascii: ","):
          try endField(quoted: false)
        case 0x0A:
          currentLine &+= 1
          try endField(quoted: false)
          return finishRecord()
        case 0x0D:
          pendingCR = true
        default:
          try append(byte)
          state = .unquoted
        }
      case .unquoted:
        switch byte {
        case UInt8(ascii: ","):
          try endField(quoted: false)
          state = .fieldStart
        case 0x0A:
          currentLine &+= 1
          try endField(quoted: false)
          return finishRecord()
        case 0x0D:
          pendingCR = true
        default:
          try append(byte)
        }
      case .quoted:
        if byte == UInt8(ascii: "\"") {
          state = .quoteInQuoted
        } else {
          if byte == 0x0A { currentLine &+= 1 }
          try append(byte)
        }
      case .quoteInQuoted:
        switch byte {
        case UInt8(ascii: "\""):
          try append(byte)
          state = .quoted
        case UInt8(ascii: ","):
          try endField(quoted: true)
          fieldIsQuoted = false
          state = .fieldStart
        case 0x0A:
          currentLine &+= 1
          try endField(quoted: true)
          return finishRecord()
        case 0x0D:
          pendingCR = true
        default:
          throw CSVError(line: currentLine, message: "a quoted field must be followed by a comma or a line end")
        }
      }
    }
  }

  private func finishRecord() -> Bool { true }

  private static func loneCarriageReturn(line: Int) -> CSVError {
    CSVError(
      line: line,
      message:
        "a carriage return without a line feed: lines must end with LF or CRLF (a CR inside a field must be quoted)")
  }

  /// A read error is located at the line being read.
  private func readSource(into buffer: UnsafeMutableBufferPointer<UInt8>) throws(CSVError) -> Int {
    do {
      return try source.read(into: buffer)
    } catch {
      throw CSVError(line: currentLine, message: error.message)
    }
  }

  @inline(__always)
  private func append(_ byte: UInt8) throws(CSVError) {
    guard stored < maximumRecordBytes else {
      throw CSVError(line: line, message: "a record is longer than \(maximumRecordBytes) bytes")
    }
    storage[stored] = byte
    stored &+= 1
  }

  private func endField(quoted: Bool) throws(CSVError) {
    let start = fieldEnds.last ?? 0
    if !UTF8Validation.isValid(UnsafeBufferPointer(start: storage + start, count: stored - start)) {
      throw CSVError(line: line, message: "field \(fieldEnds.count + 1) is not valid UTF-8")
    }
    fieldEnds.append(stored)
  }

  private func refill() throws(CSVError) {
    var count = try readSource(into: chunk)
    if isAtFileStart {
      // Enough bytes to recognise a byte order mark, whatever sizes the source reads in.
      while count > 0 && count < 3 {
        let more = try readSource(into: UnsafeMutableBufferPointer(rebasing: chunk[count...]))
        if more == 0 { break }
        count += more
      }
    }
    chunkStart = 0
    chunkEnd = count
    if count == 0 {
      isSourceDone = true
      return
    }
    if isAtFileStart {
      // A byte order mark is not part of the first field.
      isAtFileStart = false
      if count >= 3 && chunk[0] == 0xEF && chunk[1] == 0xBB && chunk[2] == 0xBF { chunkStart = 3 }
    }
  }
}

/// Why a file is not CSV that `CSVReader` accepts, or could not be read.
public struct CSVError: Error, Equatable, Sendable {
  /// The line of the file where the problem is (1 for the first line).
  public var line: Int
  public var message: String
  public init(line: Int, message: String) {
    self.line = line
    self.message = message
  }
}

/// Where a `CSVReader` takes its bytes from.
public protocol CSVSource {
  /// Fills the start of `buffer` and returns how many bytes it wrote; 0 at the end.
  mutating func read(into buffer: UnsafeMutableBufferPointer<UInt8>) throws(CSVError) -> Int
}

/// Bytes in memory, served in chunks of at most `chunkBytes` (tests feed byte by byte).
public struct CSVBytesSource: CSVSource {
  private let bytes: [UInt8]
  private let chunkBytes: Int
  private var offset = 0

  public init(_ bytes: [UInt8], chunkBytes: Int = .max) {
    self.bytes = bytes
    self.chunkBytes = max(1, chunkBytes)
  }

  public init(_ text: String, chunkBytes: Int = .max) {
    self.init(Array(text.utf8), chunkBytes: chunkBytes)
  }

  public mutating func read(into buffer: UnsafeMutableBufferPointer<UInt8>) throws(CSVError) -> Int {
    let count = min(buffer.count, chunkBytes, bytes.count - offset)
    guard count > 0 else { return 0 }
    for index in 0..<count { buffer[index] = bytes[offset + index] }
    offset += count
    return count
  }
}
