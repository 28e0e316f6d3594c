import Petitions
import SQLiteStore
import Testing

@Suite("Count")
struct CountTests {
  /// Signatures over three days (and one before 1970), with sources, postal codes and countries.
  private func fixture(_ kind: StoreKind) throws -> Fixture {
    let fixture = try Fixture(kind)
    let store = fixture.store
    _ = try store.createPetition(newPetition("p", goal: 10), at: at(0))
    _ = try store.createPetition(newPetition("other"), at: at(0))
    _ = try store.sign(signing("p", "a@x.org", postalCode: "10001", source: "web"), at: at(march1))
    _ = try store.sign(signing("p", "b@x.org", postalCode: "10001", source: "mail"), at: at(march1 + day - 1))
    _ = try store.sign(signing("p", "c@x.org", postalCode: "K1A 0B1", country: "CA"), at: at(march1 + day))
    _ = try store.sign(signing("p", "d@x.org", postalCode: "02134", source: "web"), at: at(march1 + 2 * day + 5))
    _ = try store.sign(signing("p", "e@x.org", postalCode: "EC1A 1BB", country: "GB"), at: at(-1))
    _ = try store.sign(signing("other", "a@x.org"), at: at(march1))
    return fixture
  }

  private func count(
    _ store: SQLiteStore, _ grouping: CountGrouping? = nil, since: Int64? = nil, until: Int64? = nil
  ) throws -> CountResult {
    try store.count(
      CountQuery(
        petitionID: "p", grouping: grouping, window: TimeWindow(since: since.map(at), until: until.map(at))))
  }

  /// The total counts every signature of the petition; goal comes from the petition.
  @Test(arguments: StoreKind.allCases)
  func total(kind: StoreKind) throws {
    let store = try fixture(kind).store
    #expect(try count(store) == CountResult(petitionID: "p", total: 5, goal: 10, groups: nil))
    #expect(try store.total("other") == 1)
    #expect(
      storeError { () throws(StoreError) in
        try store.count(CountQuery(petitionID: "nope", grouping: nil, window: TimeWindow()))
      } == .petitionNotFound("nope"))
  }

  /// since is inclusive and until exclusive, to the millisecond.
  @Test(arguments: StoreKind.allCases)
  func windows(kind: StoreKind) throws {
    let store = try fixture(kind).store
    #expect(try count(store, since: march1).total == 4)
    #expect(try count(store, since: march1 + 1).total == 3)
    #expect(try count(store, until: march1 + day).total == 3)
    #expect(try count(store, until: march1 + day + 1).total == 4)
    #expect(try count(store, since: march1, until: march1 + day).total == 2)
    #expect(try count(store, since: march1 + day, until: march1 + day).total == 0)
  }

  /// Every grouping, sorted by key (byte order), with unsourced signatures under "" and days in
  /// UTC; groups honour the window.
  @Test(arguments: StoreKind.allCases)
  func groupings(kind: StoreKind) throws {
    let store = try fixture(kind).store
    func groups(_ result: CountResult) -> [String] { result.groups?.map { "\($0.key)=\($0.count)" } ?? ["nil"] }
    #expect(groups(try count(store, .day)) == ["1969-12-31=1", "2026-03-01=2", "2026-03-02=1", "2026-03-03=1"])
    #expect(groups(try count(store, .postalCode)) == ["02134=1", "10001=2", "EC1A 1BB=1", "K1A 0B1=1"])
    #expect(groups(try count(store, .country)) == ["CA=1", "GB=1", "US=3"])
    #expect(groups(try count(store, .source)) == ["=2", "mail=1", "web=2"])
    let windowed = try count(store, .source, since: march1 + 1, until: march1 + 2 * day + 6)
    #expect(windowed.total == 3)
    #expect(groups(windowed) == ["=1", "mail=1", "web=1"])
    #expect(try count(store, .day, since: march1 + 3 * day).groups?.isEmpty == true)
  }
}
