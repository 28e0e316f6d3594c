import Petitions
import Testing

@testable import Server

private func iso(_ time: Timestamp?) -> String? { time.map(RFC3339.format) }

@Suite struct ImportColumnTests {
  /// Header names match ignoring case, spaces, `-` and `_`; aliases of other tools map to ours.
  @Test func matchesNamesAndAliases() {
    #expect(ImportColumn.named("Email Address") == .email)
    #expect(ImportColumn.named("e-mail") == .email)
    #expect(ImportColumn.named("first_name") == .firstName, "first_name, First Name and firstName are one name")
    #expect(ImportColumn.named("mail") == nil)
    #expect(ImportColumn.named("First Name") == .firstName)
    #expect(ImportColumn.named("given_name") == .firstName)
    #expect(ImportColumn.named("ZIP_CODE") == .postalCode)
    #expect(ImportColumn.named("can2_country") == .country)
    #expect(ImportColumn.named("can2_sms_phone") == .phone)
    #expect(ImportColumn.named("Created Date") == .signedAt)
    #expect(ImportColumn.named("mobile-opt-in") == .optInSms)
    #expect(ImportColumn.named("unknown") == nil)
  }

  /// The first column of a kind counts when a file has two.
  @Test func firstColumnWins() {
    let layout = ImportLayout(header: ["can2_phone", "email", "phone"])
    #expect(layout.index(of: .phone) == 0)
    #expect(layout.index(of: .email) == 1)
    #expect(layout.index(of: .comment) == nil)
  }

  /// Opt-in values: true/false, yes/no, 1/0 in any case; blank is not given; others refused.
  @Test func readsOptInValues() {
    #expect(ImportRowReader.optInValue(" YES ") == .some(true))
    #expect(ImportRowReader.optInValue("0") == .some(false))
    #expect(ImportRowReader.optInValue("False") == .some(false))
    #expect(ImportRowReader.optInValue("  ") == .some(nil))
    #expect(ImportRowReader.optInValue("maybe") == nil)
    #expect(ImportRowReader.optInValue("y") == nil)
  }
}

@Suite struct ImportTimeTests {
  let newYork = ZoneInfo.load(named: "America/New_York")!

  /// RFC 3339 wins whatever the zone; local forms are read in the zone.
  @Test func readsLocalAndRFC3339Times() {
    #expect(iso(ImportTime.parse("2025-07-01T12:00:00Z", zone: newYork)) == "2025-07-01T12:00:00.000Z")
    #expect(iso(ImportTime.parse("2025-07-01 12:00:00", zone: .utc)) == "2025-07-01T12:00:00.000Z")
    #expect(iso(ImportTime.parse("2025-07-01 12:00:00", zone: newYork)) == "2025-07-01T16:00:00.000Z")
    #expect(iso(ImportTime.parse("2025-12-01", zone: newYork)) == "2025-12-01T05:00:00.000Z")
    #expect(iso(ImportTime.parse("2024-02-29 23:59:59.5", zone: .utc)) == "2024-02-29T23:59:59.500Z")
  }

  /// Malformed or impossible dates are refused.
  @Test func refusesBadDates() {
    for text in ["2025-02-29", "2025-13-01", "2025-01-01 24:00:00", "01/02/2025", "2025-01-01 1:00:00", "2025-01-01 "] {
      #expect(ImportTime.parse(text, zone: .utc) == nil, "\(text)")
    }
  }

  /// Around daylight saving changes: a skipped time reads with the earlier offset, a repeated
  /// time as its first occurrence.
  @Test func handlesDaylightSavingChanges() {
    #expect(iso(ImportTime.parse("2025-03-09 01:59:59", zone: newYork)) == "2025-03-09T06:59:59.000Z")
    #expect(iso(ImportTime.parse("2025-03-09 02:30:00", zone: newYork)) == "2025-03-09T07:30:00.000Z")
    #expect(iso(ImportTime.parse("2025-03-09 03:00:00", zone: newYork)) == "2025-03-09T07:00:00.000Z")
    #expect(iso(ImportTime.parse("2025-11-02 01:30:00", zone: newYork)) == "2025-11-02T05:30:00.000Z")
    #expect(iso(ImportTime.parse("2025-11-02 02:00:00", zone: newYork)) == "2025-11-02T07:00:00.000Z")
  }

  /// Zones east of UTC and the southern hemisphere.
  @Test func readsOtherZones() throws {
    let tokyo = try #require(ZoneInfo.load(named: "Asia/Tokyo"))
    #expect(iso(ImportTime.parse("2025-01-01 09:00:00", zone: tokyo)) == "2025-01-01T00:00:00.000Z")
    let sydney = try #require(ZoneInfo.load(named: "Australia/Sydney"))
    #expect(iso(ImportTime.parse("2025-01-15 12:00:00", zone: sydney)) == "2025-01-15T01:00:00.000Z")
    #expect(iso(ImportTime.parse("2025-07-15 12:00:00", zone: sydney)) == "2025-07-15T02:00:00.000Z")
  }

  /// Only names of the database load: no paths outside it, nothing unknown.
  @Test func loadsOnlyZoneNames() {
    #expect(ZoneInfo.load(named: "UTC") == .utc)
    #expect(ZoneInfo.load(named: "Europe/London") != nil)
    #expect(ZoneInfo.load(named: "Mars/Olympus") == nil)
    #expect(ZoneInfo.load(named: "../../etc/passwd") == nil)
    #expect(ZoneInfo.load(named: "/etc/localtime") == nil)
    #expect(ZoneInfo.load(named: "") == nil)
    #expect(ZoneInfo.load(named: "zone.tab") == nil, "a file of the database that is not a zone")
  }
}
