import Petitions
import SQLiteStore
import StoreConformance
import Testing

@Suite("Store conformance (SQLite)")
struct ConformanceTests {
  /// Every rule of the store conformance suite holds on an in-memory and on a file store.
  @Test(arguments: StoreKind.allCases, StoreConformance.cases)
  func conformance(kind: StoreKind, check: ConformanceCase) throws {
    var fixtures: [Fixture] = []  // file stores keep their directories until the case ends
    try check.run {
      let fixture = try Fixture(kind)
      fixtures.append(fixture)
      return fixture.store
    }
    _ = fixtures
  }
}
