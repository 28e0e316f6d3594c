/// RFC 3339 timestamps: written in one canonical form, read in any valid form.
public enum RFC3339 {
  private static let millisecondsPerDay: Int64 = 86_400_000

  /// `time` as RFC 3339 in UTC with exactly three fraction digits, e.g. `2026-11-29T07:39:19.123Z`.
  ///
  /// One fixed width makes the text sort in time order. Years outside 0000-9999 cannot be
  /// written in RFC 3339; they are written with more digits (or a sign) rather than trapping.
  public static func format(_ time: Timestamp) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(24)
    append(time, to: &bytes)
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Appends `format(time)` as UTF-8 to `bytes`, without building a string: exports write one
  /// of these per row.
  public static func append(_ time: Timestamp, to bytes: inout [UInt8]) {
    let (days, milliseconds) = split(time)
    let (year, month, day) = civil(fromDays: days)
    let seconds = milliseconds / 1000
    if year < 0 || year > 9999 {
      bytes.append(contentsOf: yearText(year).utf8)
    } else {
      appendDigits(year, width: 4, to: &bytes)
    }
    bytes.append(UInt8(ascii: "-"))
    appendDigits(month, width: 2, to: &bytes)
    bytes.append(UInt8(ascii: "-"))
    appendDigits(day, width: 2, to: &bytes)
    bytes.append(UInt8(ascii: "T"))
    appendDigits(seconds / 3600, width: 2, to: &bytes)
    bytes.append(UInt8(ascii: ":"))
    appendDigits(seconds / 60 % 60, width: 2, to: &bytes)
    bytes.append(UInt8(ascii: ":"))
    appendDigits(seconds % 60, width: 2, to: &bytes)
    bytes.append(UInt8(ascii: "."))
    appendDigits(milliseconds % 1000, width: 3, to: &bytes)
    bytes.append(UInt8(ascii: "Z"))
  }

  /// Writes many timestamps fast: the date part (`YYYY-MM-DDT`) is computed once per day and
  /// reused, since exported rows come in time order; the rest is two-digit table lookups.
  public struct Writer: Sendable {
    private var cachedDay: Int64 = .min
    private var cachedPrefix: [UInt8] = []
    private static let pairs: [UInt8] = {
      var table: [UInt8] = []
      for value in 0..<100 {
        table.append(UInt8(ascii: "0") + UInt8(value / 10))
        table.append(UInt8(ascii: "0") + UInt8(value % 10))
      }
      return table
    }()

    public init() {}

    /// Appends `RFC3339.format(time)` as UTF-8.
    public mutating func append(_ time: Timestamp, to bytes: inout [UInt8]) {
      let (days, milliseconds) = split(time)
      if days != cachedDay {
        var prefix: [UInt8] = []
        RFC3339.append(Timestamp(millisecondsSinceEpoch: days * millisecondsPerDay), to: &prefix)
        cachedPrefix = Array(prefix.prefix(while: { $0 != UInt8(ascii: "T") })) + [UInt8(ascii: "T")]
        cachedDay = days
      }
      bytes.append(contentsOf: cachedPrefix)
      let seconds = Int(milliseconds / 1000)
      let fraction = Int(milliseconds % 1000)
      Self.pairs.withUnsafeBufferPointer { pairs in
        func pair(_ value: Int) {
          bytes.append(pairs[2 * value])
          bytes.append(pairs[2 * value + 1])
        }
        pair(seconds / 3600)
        bytes.append(UInt8(ascii: ":"))
        pair(seconds / 60 % 60)
        bytes.append(UInt8(ascii: ":"))
        pair(seconds % 60)
        bytes.append(UInt8(ascii: "."))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        pair(fraction % 100)
      }
      bytes.append(UInt8(ascii: "Z"))
    }
  }

  /// Exactly `width` decimal digits of a non-negative `value` below 10^width.
  private static func appendDigits(_ value: Int64, width: Int, to bytes: inout [UInt8]) {
    var divisor: Int64 = 1
    for _ in 1..<width { divisor *= 10 }
    var rest = value
    while divisor > 0 {
      bytes.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest / divisor))
      rest %= divisor
      divisor /= 10
    }
  }

  /// The UTC day of `time` as `YYYY-MM-DD` (the key of `count` grouped by day).
  public static func day(_ time: Timestamp) -> String {
    let (year, month, day) = civil(fromDays: split(time).days)
    return yearText(year) + "-" + padded(month, 2) + "-" + padded(day, 2)
  }

  /// The instant an RFC 3339 `date-time` names, or nil when `text` is not one.
  ///
  /// Accepted: `YYYY-MM-DD`, a `T`, `t` or space separator, `hh:mm:ss`, an optional fraction of
  /// any length (truncated to milliseconds: the store keeps no more), and `Z`, `z` or a
  /// `+hh:mm`/`-hh:mm` offset. Fields are range-checked (the day against its month, leap years
  /// included). A leap second (`:60`) is accepted as RFC 3339 allows and reads as the first
  /// instant of the next minute, since timestamps here count no leap seconds.
  public static func parse(_ text: String) -> Timestamp? {
    parse(text, roundingUp: false)
  }

  /// Like `parse`, but a fraction finer than a millisecond rounds up to the next millisecond.
  /// That is the right reading for a bound compared with millisecond timestamps: `t >= x` and
  /// `t < x` hold for a whole-millisecond `t` exactly when they hold against `x` rounded up.
  public static func parseBound(_ text: String) -> Timestamp? {
    parse(text, roundingUp: true)
  }

  private static func parse(_ text: String, roundingUp: Bool) -> Timestamp? {
    var reader = Reader(bytes: Array(text.utf8))
    guard let year = reader.number(digits: 4), reader.skip("-"),
      let month = reader.number(digits: 2), reader.skip("-"),
      let day = reader.number(digits: 2),
      reader.skip("T") || reader.skip("t") || reader.skip(" "),
      let hour = reader.number(digits: 2), reader.skip(":"),
      let minute = reader.number(digits: 2), reader.skip(":"),
      let second = reader.number(digits: 2)
    else { return nil }
    guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
      hour < 24, minute < 60, second <= 60
    else { return nil }

    var milliseconds: Int64 = 0
    var hasFinerFraction = false
    if reader.skip(".") {
      var digitCount = 0
      while let digit = reader.digit() {
        // Read every digit (they must all be digits) but keep only the first three.
        if digitCount < 3 {
          milliseconds = milliseconds * 10 + Int64(digit)
        } else if digit != 0 {
          hasFinerFraction = true
        }
        digitCount += 1
      }
      guard digitCount > 0 else { return nil }
      for _ in digitCount..<max(digitCount, 3) { milliseconds *= 10 }
    }
    if roundingUp && hasFinerFraction { milliseconds += 1 }

    var offsetMinutes: Int64 = 0
    if !reader.skip("Z") && !reader.skip("z") {
      let sign: Int64
      if reader.skip("+") {
        sign = 1
      } else if reader.skip("-") {
        sign = -1
      } else {
        return nil
      }
      guard let offsetHour = reader.number(digits: 2), reader.skip(":"), let offsetMinute = reader.number(digits: 2),
        offsetHour < 24, offsetMinute < 60
      else { return nil }
      offsetMinutes = sign * Int64(offsetHour * 60 + offsetMinute)
    }
    guard reader.isAtEnd else { return nil }

    let days = Self.days(year: Int64(year), month: Int64(month), day: Int64(day))
    let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - offsetMinutes * 60
    return Timestamp(millisecondsSinceEpoch: seconds * 1000 + milliseconds)
  }

  // MARK: Calendar arithmetic (proleptic Gregorian, after Howard Hinnant's date algorithms)

  /// Days since 1970-01-01 and milliseconds into that day, both floored so times before the
  /// epoch land on the right day.
  private static func split(_ time: Timestamp) -> (days: Int64, milliseconds: Int64) {
    let ms = time.millisecondsSinceEpoch
    var days = ms / millisecondsPerDay
    var rest = ms % millisecondsPerDay
    if rest < 0 {
      days -= 1
      rest += millisecondsPerDay
    }
    return (days, rest)
  }

  /// Days since 1970-01-01 of a civil date.
  static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  /// The civil date of a day count since 1970-01-01.
  static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let shiftedMonth = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
    let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }

  private static func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: return isLeap(year) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }

  private static func isLeap(_ year: Int) -> Bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
  }

  // MARK: Text

  private static func yearText(_ year: Int64) -> String {
    year < 0 ? "-" + padded(-year, 4) : padded(year, 4)
  }

  private static func padded(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
  }

  /// A cursor over ASCII bytes.
  private struct Reader {
    let bytes: [UInt8]
    var position = 0

    var isAtEnd: Bool { position == bytes.count }

    /// Consumes `character` if it comes next.
    mutating func skip(_ character: Unicode.Scalar) -> Bool {
      guard position < bytes.count, bytes[position] == UInt8(ascii: character) else { return false }
      position += 1
      return true
    }

    /// Consumes one ASCII digit if it comes next.
    mutating func digit() -> Int? {
      guard position < bytes.count, Text.isASCIIDigit(bytes[position]) else { return nil }
      defer { position += 1 }
      return Int(bytes[position] - UInt8(ascii: "0"))
    }

    /// Consumes exactly `digits` ASCII digits as a number.
    mutating func number(digits: Int) -> Int? {
      let start = position
      var value = 0
      for _ in 0..<digits {
        guard let digit = digit() else {
          position = start
          return nil
        }
        value = value * 10 + digit
      }
      return value
    }
  }
}
