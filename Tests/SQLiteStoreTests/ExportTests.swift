import Petitions
import SQLiteStore
import Testing

@Suite("Export")
struct ExportTests {
  /// 30 signatures signed out of time order, many in the same millisecond.
  private func fixture(_ kind: StoreKind) throws -> Fixture {
    let fixture = try Fixture(kind)
    _ = try fixture.store.createPetition(newPetition("p"), at: at(0))
    for person in deterministicShuffle(30, seed: 7) {
      _ = try fixture.store.sign(signing("p", "person\(person)@example.org"), at: at(march1 + Int64(person % 6) * 1000))
    }
    return fixture
  }

  private func isOrdered(_ rows: [ExportRow]) -> Bool {
    zip(rows, rows.dropFirst()).allSatisfy { earlier, later in
      earlier.signedAt < later.signedAt
        || (earlier.signedAt == later.signedAt
          && earlier.signatureID.utf8.lexicographicallyPrecedes(later.signatureID.utf8))
    }
  }

  private func position(_ row: ExportRow) -> ExportPosition {
    ExportPosition(signedAt: row.signedAt, signatureID: row.signatureID)
  }

  /// Rows come ordered by signedAt then signature id.
  @Test(arguments: StoreKind.allCases)
  func ordering(kind: StoreKind) throws {
    let store = try fixture(kind).store
    let rows = try store.allRows("p", .delivery)
    #expect(rows.count == 30)
    #expect(isOrdered(rows))
    #expect(Set(rows.map(\.signatureID)).count == 30)
  }

  /// Following `after` page by page yields every row exactly once, even with signatures made
  /// between pages (before and after the cursor's time).
  @Test(arguments: StoreKind.allCases)
  func paginationUnderInserts(kind: StoreKind) throws {
    let store = try fixture(kind).store
    let original = try store.allRows("p", .delivery)
    var seen: [ExportRow] = []
    var after: ExportPosition?
    var page = 0
    while true {
      let query = ExportQuery(petitionID: "p", audience: .delivery, window: TimeWindow(), after: after, limit: 4)
      let rows = try store.allRows("p", .delivery, after: after, limit: 4)
      #expect(try store.exportRowCount(query) == rows.count)
      guard let last = rows.last else { break }
      seen += rows
      after = position(last)
      page += 1
      if page == 2 {
        // Same milliseconds as existing rows, earlier and later ones.
        for extra in 0..<6 {
          _ = try store.sign(signing("p", "late\(extra)@example.org"), at: at(march1 + Int64(extra) * 1000))
        }
      }
    }
    #expect(isOrdered(seen))
    #expect(Set(seen.map(\.signatureID)).count == seen.count)
    #expect(Set(original.map(\.signatureID)).isSubset(of: Set(seen.map(\.signatureID))))
  }

  /// A position whose signature id is not one of ours still means "strictly after it".
  @Test func foreignCursor() throws {
    let store = try fixture(.memory).store
    let time = at(march1 + 2000)
    let afterZ = try store.allRows("p", .delivery, after: ExportPosition(signedAt: time, signatureID: "zzz"))
    #expect(afterZ.count == 15)
    #expect(afterZ.allSatisfy { $0.signedAt > time })
    let afterEmpty = try store.allRows("p", .delivery, after: ExportPosition(signedAt: time, signatureID: ""))
    #expect(afterEmpty.count == 20)
    let end = try store.allRows("p", .delivery, after: ExportPosition(signedAt: at(.max), signatureID: "~"))
    #expect(end.isEmpty)
  }

  /// The window, the limit and an early stop are honoured; unknown petitions fail.
  @Test(arguments: StoreKind.allCases)
  func windowLimitAndStop(kind: StoreKind) throws {
    let store = try fixture(kind).store
    let window = TimeWindow(since: at(march1 + 1000), until: at(march1 + 3000))
    let windowed = try store.allRows("p", .delivery, window: window)
    #expect(windowed.count == 10)
    #expect(windowed.allSatisfy { $0.signedAt >= at(march1 + 1000) && $0.signedAt < at(march1 + 3000) })
    #expect(try store.allRows("p", .delivery, window: window, limit: 3) == Array(windowed.prefix(3)))
    #expect(try store.allRows("p", .delivery, limit: 0).isEmpty)

    var delivered = 0
    try store.exportRows(
      ExportQuery(petitionID: "p", audience: .delivery, window: TimeWindow(), after: nil, limit: nil)
    ) { _ in
      delivered += 1
      return delivered < 3
    }
    #expect(delivered == 3)
    let query = ExportQuery(petitionID: "p", audience: .delivery, window: window, after: nil, limit: nil)
    #expect(try store.exportRowCount(query) == 10)
    let unknown = ExportQuery(petitionID: "nope", audience: .delivery, window: TimeWindow(), after: nil, limit: nil)
    #expect(
      storeError { () throws(StoreError) in try store.exportRows(unknown) { _ in true } } == .petitionNotFound("nope"))
    #expect(storeError { () throws(StoreError) in try store.exportRowCount(unknown) } == .petitionNotFound("nope"))
  }
}
