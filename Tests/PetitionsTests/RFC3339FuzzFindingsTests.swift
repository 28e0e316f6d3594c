import Petitions
import Testing

/// Inputs found by the RFC 3339 fuzz target (Fuzz/Targets/RFC3339.swift), kept as tests.
@Suite struct RFC3339FuzzFindings {
  /// A leap second or an offset at either end of 0000-9999 reaches an instant outside the
  /// years RFC 3339 can write in UTC. It is read (as the contract accepts any RFC 3339
  /// date-time), and written back with the year's own digits instead of trapping.
  @Test(arguments: [
    ("9999-12-31T23:59:60.999Z", "10000-01-01T00:00:00.999Z"),
    ("9999-12-31T23:59:59.999-00:01", "10000-01-01T00:00:59.999Z"),
    ("0000-01-01T00:00:00+00:01", "-0001-12-31T23:59:00.000Z"),
  ])
  func instantsBeyondFourDigitYears(input: String, written: String) throws {
    let time = try #require(RFC3339.parse(input))
    #expect(RFC3339.format(time) == written)
    #expect(RFC3339.parseBound(input) == time)
  }
}
