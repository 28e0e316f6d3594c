import Petitions
import StoreConformance
import Testing

@testable import SQLiteStore

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

  /// The newest signatures are counted from their rows until they go into the aggregates (see
  /// `TallyTail`): every rule holds with the tail folded after every few signatures, handed
  /// over by any write group of two signs, or never folded at all.
  @Test(arguments: TailMode.allCases, StoreConformance.cases)
  func conformanceWithTail(mode: TailMode, check: ConformanceCase) throws {
    try check.run {
      let store = try SQLiteStore(path: ":memory:", busyTimeoutMilliseconds: 1000)
      store.tailLimits = mode.limits
      return store
    }
  }
}

enum TailMode: String, CaseIterable, CustomTestStringConvertible {
  case foldingOften, neverFolding
  var testDescription: String { rawValue }
  var limits: TallyTail.Limits {
    switch self {
    case .foldingOften: TallyTail.Limits(foldAt: 3, applyGroupAt: 2)
    case .neverFolding: TallyTail.Limits(foldAt: .max, applyGroupAt: .max)
    }
  }
}
