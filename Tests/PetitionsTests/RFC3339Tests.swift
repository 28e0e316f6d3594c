import Testing

@testable import Petitions

private func time(_ milliseconds: Int64) -> Timestamp {
  Timestamp(millisecondsSinceEpoch: milliseconds)
}

/// 2026-11-29T07:39:19.123Z
private let sample = time(1_795_937_959_123)

@Suite struct RFC3339FormatTests {
  /// Times are written in UTC with exactly three fraction digits.
  @Test func formatsUTCWithMilliseconds() {
    #expect(RFC3339.format(sample) == "2026-11-29T07:39:19.123Z")
    #expect(RFC3339.format(time(0)) == "1970-01-01T00:00:00.000Z")
    #expect(RFC3339.format(time(5)) == "1970-01-01T00:00:00.005Z")
    #expect(RFC3339.format(time(951_782_400_000)) == "2000-02-29T00:00:00.000Z")
    #expect(RFC3339.format(time(253_402_300_799_999)) == "9999-12-31T23:59:59.999Z")
  }

  /// Times before the epoch land on the right day and second.
  @Test func formatsTimesBeforeTheEpoch() {
    #expect(RFC3339.format(time(-1)) == "1969-12-31T23:59:59.999Z")
    #expect(RFC3339.format(time(-62_135_596_800_000)) == "0001-01-01T00:00:00.000Z")
  }

  /// Extreme values are written without trapping.
  @Test func survivesExtremes() {
    #expect(!RFC3339.format(time(.max)).isEmpty)
    #expect(!RFC3339.format(time(.min)).isEmpty)
  }

  /// The day key is the UTC date.
  @Test func day() {
    #expect(RFC3339.day(sample) == "2026-11-29")
    #expect(RFC3339.day(time(0)) == "1970-01-01")
    #expect(RFC3339.day(time(-1)) == "1969-12-31")
    #expect(RFC3339.day(time(86_400_000 - 1)) == "1970-01-01")
  }

  /// Formatting then parsing gives the same instant, across many dates.
  @Test func roundTrips() {
    var milliseconds: Int64 = -2_000_000_000_000
    while milliseconds < 5_000_000_000_000 {
      #expect(RFC3339.parse(RFC3339.format(time(milliseconds))) == time(milliseconds))
      milliseconds += 7_777_777_777
    }
  }
}

@Suite struct RFC3339ParseTests {
  /// The canonical form parses back.
  @Test func parsesCanonicalForm() {
    #expect(RFC3339.parse("2026-11-29T07:39:19.123Z") == sample)
  }

  /// Lower-case 't' and 'z' and a space separator are accepted.
  @Test func acceptsSeparatorVariants() {
    #expect(RFC3339.parse("2026-11-29t07:39:19.123z") == sample)
    #expect(RFC3339.parse("2026-11-29 07:39:19.123Z") == sample)
  }

  /// Offsets are applied to reach UTC, including across a day boundary.
  @Test func appliesOffsets() {
    #expect(RFC3339.parse("2026-11-29T09:39:19.123+02:00") == sample)
    #expect(RFC3339.parse("2026-11-28T23:09:19.123-08:30") == sample)
    #expect(RFC3339.parse("2026-11-29T07:39:19.123+00:00") == sample)
    #expect(RFC3339.parse("2026-11-29T07:39:19.123-00:00") == sample)
    #expect(RFC3339.parse("1970-01-01T00:00:00+00:01") == time(-60_000))
  }

  /// A missing fraction is zero; any number of digits is accepted and truncated to milliseconds.
  @Test func readsFractions() {
    #expect(RFC3339.parse("2026-11-29T07:39:19Z") == time(1_795_937_959_000))
    #expect(RFC3339.parse("2026-11-29T07:39:19.1Z") == time(1_795_937_959_100))
    #expect(RFC3339.parse("2026-11-29T07:39:19.12Z") == time(1_795_937_959_120))
    #expect(RFC3339.parse("2026-11-29T07:39:19.123999999Z") == sample)
    #expect(RFC3339.parse("2026-11-29T07:39:19.1239999999999999999999999Z") == sample)
    #expect(RFC3339.parse("1969-12-31T23:59:59.9999Z") == time(-1))
  }

  /// February 29 exists only in leap years (every fourth, not centuries, but every fourth century).
  @Test func knowsLeapYears() {
    #expect(RFC3339.parse("2024-02-29T00:00:00Z") != nil)
    #expect(RFC3339.parse("2000-02-29T00:00:00Z") == time(951_782_400_000))
    #expect(RFC3339.parse("2023-02-29T00:00:00Z") == nil)
    #expect(RFC3339.parse("1900-02-29T00:00:00Z") == nil)
    #expect(RFC3339.parse("2100-02-29T00:00:00Z") == nil)
  }

  /// Out-of-range fields are refused.
  @Test func refusesInvalidDates() {
    let invalid = [
      "2026-00-10T00:00:00Z", "2026-13-10T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-32T00:00:00Z",
      "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z", "2026-01-01T23:59:61Z",
      "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+01:60",
    ]
    for text in invalid {
      #expect(RFC3339.parse(text) == nil, "\(text)")
    }
  }

  /// A leap second is accepted and reads as the next minute's first instant.
  @Test func acceptsLeapSecond() {
    #expect(RFC3339.parse("2016-12-31T23:59:60Z") == RFC3339.parse("2017-01-01T00:00:00Z"))
  }

  /// Text that is not exactly an RFC 3339 date-time is refused.
  @Test func refusesMalformedText() {
    let malformed = [
      "", "2026-11-29", "2026-11-29T07:39:19", "2026-11-29T07:39Z", "26-11-29T07:39:19Z", "2026-1-29T07:39:19Z",
      "2026-11-29T07:39:19.Z", "2026-11-29T07:39:19.123", "2026-11-29T07:39:19+0200", "2026-11-29T07:39:19+02",
      "2026-11-29T07:39:19Z ", " 2026-11-29T07:39:19Z", "2026-11-29_07:39:19Z", "2026-11-29T07:39:19.12aZ",
      "\u{FF12}026-11-29T07:39:19Z", "+2026-11-29T07:39:19Z", "2026-11-29T07:39:19ZZ",
    ]
    for text in malformed {
      #expect(RFC3339.parse(text) == nil, "\(text)")
    }
  }

  /// The calendar helpers agree with each other across four centuries either side of the epoch.
  @Test func calendarRoundTrip() {
    for days in Int64(-146_097)...Int64(146_097) where days % 97 == 0 {
      let date = RFC3339.civil(fromDays: days)
      #expect(RFC3339.days(year: date.year, month: date.month, day: date.day) == days)
    }
  }
}

@Suite struct RFC3339BoundTests {
  /// A bound finer than a millisecond rounds up, so `t >= since` and `t < until` stay exact for
  /// millisecond timestamps; whole milliseconds are unchanged.
  @Test func boundsRoundUp() {
    #expect(RFC3339.parseBound("2026-11-29T07:39:38.9301Z")?.millisecondsSinceEpoch == 1_795_937_978_931)
    #expect(RFC3339.parseBound("2026-11-29T07:39:38.930000Z")?.millisecondsSinceEpoch == 1_795_937_978_930)
    #expect(RFC3339.parse("2026-11-29T07:39:38.9309Z")?.millisecondsSinceEpoch == 1_795_937_978_930)
  }
}
