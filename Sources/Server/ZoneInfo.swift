#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An IANA time zone read from the system's time-zone database (TZif files under
/// /usr/share/zoneinfo): enough to turn a local date and time into an instant.
///
/// Times after the file's last transition keep its last offset (the database's files hold
/// transitions until 2037).
struct ZoneInfo: Equatable {
  /// Transition instants (seconds since the epoch, UTC), ascending.
  private(set) var transitions: [Int64]
  /// The UTC offset in seconds from each transition on.
  private(set) var offsets: [Int32]
  /// The offset before the first transition.
  private(set) var initialOffset: Int32

  static let utc = ZoneInfo(transitions: [], offsets: [], initialOffset: 0)

  static let directory = "/usr/share/zoneinfo"

  /// Whether `name` has the shape of an IANA zone name (`Area/Location`, `UTC`), so that it is
  /// a path inside the database and nothing else.
  static func isPlausibleName(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    guard !bytes.isEmpty, bytes.count <= 64, bytes.first != UInt8(ascii: "/"), bytes.last != UInt8(ascii: "/") else {
      return false
    }
    for part in name.split(separator: "/", omittingEmptySubsequences: false) {
      guard !part.isEmpty, part != ".", part != ".." else { return false }
    }
    return bytes.allSatisfy { byte in
      (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
        || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
        || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        || byte == UInt8(ascii: "+")
    }
  }

  /// The zone called `name`, or nil when the database has no such zone.
  static func load(named name: String, directory: String = ZoneInfo.directory) -> ZoneInfo? {
    if name == "UTC" || name == "Etc/UTC" { return .utc }
    guard isPlausibleName(name), let bytes = readFile(directory + "/" + name, limit: 1 << 20) else { return nil }
    return parse(bytes)
  }

  /// Parses a TZif file (version 1, or the 64-bit data of versions 2 and later).
  static func parse(_ bytes: [UInt8]) -> ZoneInfo? {
    guard bytes.count >= 44, bytes[0] == 0x54, bytes[1] == 0x5A, bytes[2] == 0x69, bytes[3] == 0x66 else {
      return nil
    }
    let version = bytes[4]
    guard let first = Header(bytes, at: 0) else { return nil }
    if version >= UInt8(ascii: "2") {
      let secondStart = 44 + first.dataLength(timeBytes: 4)
      guard let second = Header(bytes, at: secondStart) else { return nil }
      return decode(bytes, header: second, dataStart: secondStart + 44, timeBytes: 8)
    }
    return decode(bytes, header: first, dataStart: 44, timeBytes: 4)
  }

  private struct Header {
    var isUTCCount, isStandardCount, leapCount, timeCount, typeCount, characterCount: Int

    init?(_ bytes: [UInt8], at start: Int) {
      guard start + 44 <= bytes.count, bytes[start] == 0x54, bytes[start + 1] == 0x5A else { return nil }
      func count(_ index: Int) -> Int { Int(ZoneInfo.bigEndian(bytes, at: start + 20 + 4 * index, width: 4)) }
      isUTCCount = count(0)
      isStandardCount = count(1)
      leapCount = count(2)
      timeCount = count(3)
      typeCount = count(4)
      characterCount = count(5)
    }

    func dataLength(timeBytes: Int) -> Int {
      timeCount * (timeBytes + 1) + typeCount * 6 + characterCount + leapCount * (timeBytes + 4) + isStandardCount
        + isUTCCount
    }
  }

  private static func decode(_ bytes: [UInt8], header: Header, dataStart: Int, timeBytes: Int) -> ZoneInfo? {
    guard header.typeCount > 0, dataStart + header.dataLength(timeBytes: timeBytes) <= bytes.count else { return nil }
    let indexStart = dataStart + header.timeCount * timeBytes
    let typeStart = indexStart + header.timeCount
    var typeOffsets: [Int32] = []
    var typeIsDST: [Bool] = []
    for type in 0..<header.typeCount {
      typeOffsets.append(Int32(truncatingIfNeeded: bigEndian(bytes, at: typeStart + 6 * type, width: 4)))
      typeIsDST.append(bytes[typeStart + 6 * type + 4] != 0)
    }
    var transitions: [Int64] = []
    var offsets: [Int32] = []
    for index in 0..<header.timeCount {
      let type = Int(bytes[indexStart + index])
      guard type < header.typeCount else { return nil }
      transitions.append(bigEndian(bytes, at: dataStart + index * timeBytes, width: timeBytes))
      offsets.append(typeOffsets[type])
    }
    // Before the first transition: the first standard-time type (RFC 8536, section 3.2).
    let initialType = typeIsDST.firstIndex(of: false) ?? 0
    return ZoneInfo(transitions: transitions, offsets: offsets, initialOffset: typeOffsets[initialType])
  }

  /// A signed big-endian integer of `width` bytes.
  private static func bigEndian(_ bytes: [UInt8], at start: Int, width: Int) -> Int64 {
    var value: UInt64 = 0
    for index in 0..<width { value = value << 8 | UInt64(bytes[start + index]) }
    if width == 4 { return Int64(Int32(truncatingIfNeeded: value)) }
    return Int64(bitPattern: value)
  }

  /// The UTC offset in seconds in effect at `instant` (seconds since the epoch).
  func offset(at instant: Int64) -> Int64 {
    // The last transition at or before the instant.
    var low = 0
    var high = transitions.count
    while low < high {
      let middle = (low + high) / 2
      if transitions[middle] <= instant { low = middle + 1 } else { high = middle }
    }
    return Int64(low == 0 ? initialOffset : offsets[low - 1])
  }

  /// The instant (seconds since the epoch) of a local wall-clock time given as seconds since
  /// 1970-01-01T00:00 local. A time that occurs twice (clocks set back) is read as the first
  /// occurrence; a time that does not occur (clocks set forward) is read with the offset from
  /// before the change, as POSIX `mktime` and Python do, landing after the gap.
  func instant(ofLocal local: Int64) -> Int64 {
    if transitions.isEmpty { return local - Int64(initialOffset) }
    // Any real offset is within a day, so the offsets in effect a day either side of `local`
    // read as UTC are the only candidates.
    let before = offset(at: local - 86_400)
    let after = offset(at: local + 86_400)
    var candidates: [Int64] = []
    for candidate in [before, after] where offset(at: local - candidate) == candidate {
      candidates.append(local - candidate)
    }
    if let earliest = candidates.min() { return earliest }
    return local - before
  }

  private static func readFile(_ path: String, limit: Int) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 14)
    while bytes.count <= limit {
      let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { return nil }
      if count == 0 { return bytes }
      bytes.append(contentsOf: buffer[..<count])
    }
    return nil
  }
}
