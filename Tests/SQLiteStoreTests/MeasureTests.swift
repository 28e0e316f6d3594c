import Foundation
import Petitions
import Testing

@testable import SQLiteStore

/// Figures, not checks: run with `SQLITE_STORE_MEASURE=1 swift test --filter MeasureTests`
/// (best in a release build). Seeds 1,000,000 confirmed signatures (4 sources, 3 countries,
/// ~40,000 postal codes, over 100 days) into a file store in large write groups, then times
/// count variants; and times signing with and without writing the aggregates.
@Suite("Measure", .enabled(if: ProcessInfo.processInfo.environment["SQLITE_STORE_MEASURE"] != nil))
struct MeasureTests {
  private func median(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
    var times: [Double] = []
    for _ in 0..<runs {
      let start = DispatchTime.now().uptimeNanoseconds
      try body()
      times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    return times.sorted()[times.count / 2]
  }

  private func seed(_ store: SQLiteStore, _ petition: String, count: Int, groupSize: Int, spreadMilliseconds: Int64)
    throws
  {
    let sources = ["web", "mail", "partner", "social"]
    let countries = ["US", "CA", "GB"]
    var index = 0
    while index < count {
      try store.performWriteGroup {
        for _ in 0..<min(groupSize, count - index) {
          let country = countries[index % 3]
          _ = try? store.sign(
            signing(
              petition, "person\(index)@example.org", postalCode: String(format: "%05d", (index &* 7919) % 40_000),
              country: country, source: sources[index % 4]),
            at: at(march1 + Int64(index) * spreadMilliseconds / Int64(count)))
          index += 1
        }
      }
    }
  }

  @Test func countsAtAMillion() throws {
    let directory = try TemporaryDirectory()
    let store = try SQLiteStore(path: directory.file("million.sqlite3"), busyTimeoutMilliseconds: 1000)
    _ = try store.createPetition(newPetition("big"), at: at(march1))
    let start = DispatchTime.now().uptimeNanoseconds
    try seed(store, "big", count: 1_000_000, groupSize: 10_000, spreadMilliseconds: 100 * day)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    print("seeded 1,000,000 signatures in \(seconds) s (\(seconds * 1e6 / 1_000_000) µs per sign)")
    func query(_ grouping: CountGrouping?, since: Int64? = nil, until: Int64? = nil) -> CountQuery {
      CountQuery(petitionID: "big", grouping: grouping, window: TimeWindow(since: since.map(at), until: until.map(at)))
    }
    let middle = march1 + 50 * day + 1_234_567
    let variants: [(String, CountQuery, Int)] = [
      ("total", query(nil), 200),
      ("groupBy day", query(.day), 100),
      ("groupBy country", query(.country), 100),
      ("groupBy source", query(.source), 100),
      ("groupBy postalCode", query(.postalCode), 20),
      ("since", query(nil, since: middle), 100),
      ("since+until (30 days)", query(nil, since: middle, until: middle + 30 * day + 777), 100),
      ("groupBy day, since+until", query(.day, since: middle, until: middle + 30 * day + 777), 100),
      ("groupBy source, since", query(.source, since: middle), 50),
      ("groupBy postalCode, since+until (1 day)", query(.postalCode, since: middle, until: middle + day), 20),
    ]
    for (name, variant, runs) in variants {
      var groups = 0
      let p50 = try median(runs) { groups = try store.count(variant).groups?.count ?? 0 }
      print("count \(name): p50 \(String(format: "%.3f", p50)) ms (\(groups) groups)")
    }
    // Issue 9's figures: invalidating 250,000 matching signatures, revalidating them, and
    // anonymising the 1,000,000-signature petition.
    func timed(_ name: String, _ body: () throws -> Void) rethrows {
      let begin = DispatchTime.now().uptimeNanoseconds
      try body()
      print("\(name): \(String(format: "%.2f", Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9)) s")
    }
    let before = try store.count(query(.postalCode))
    var invalidationID: String?
    try timed("invalidate 250,000 (source web)") {
      invalidationID = try store.invalidate(
        Invalidation(
          petitionID: "big", reason: "measure", match: InvalidationMatch(source: "web"), matchDescription: "{}",
          dryRun: false), at: at(march1 + 200 * day)
      ).invalidationID
    }
    try timed("revalidate 250,000") {
      _ = try store.revalidate(petitionID: "big", .invalidation(invalidationID ?? ""), at: at(march1 + 200 * day))
    }
    _ = try store.closePetition(id: "big", at: at(march1 + 200 * day))
    try timed("anonymise 1,000,000") { _ = try store.anonymisePetition(id: "big", at: at(march1 + 201 * day)) }
    #expect(try store.count(query(.postalCode)) == before)
  }

  /// Signing 200,000 in write groups of 1,000 and one at a time, with the aggregates written
  /// and with them dropped before the commit (what the aggregates cost per sign).
  @Test func signCostOfAggregates() throws {
    for groupSize in (ProcessInfo.processInfo.environment["MEASURE_GROUPS"].map { [Int($0)!] } ?? [1000, 1]) {
      for maintained in [true, false] {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.file("s.sqlite3"), busyTimeoutMilliseconds: 1000)
        try store.connection.execute("PRAGMA synchronous = OFF")  // time the work, not the fsyncs
        _ = try store.createPetition(newPetition("p"), at: at(march1))
        let count = groupSize == 1 ? 20_000 : 200_000
        var index = 0
        var applying: UInt64 = 0
        var entries = 0
        let start = DispatchTime.now().uptimeNanoseconds
        while index < count {
          try store.performWriteGroup {
            for _ in 0..<groupSize {
              _ = try? store.sign(
                signing(
                  "p", "person\(index)@example.org", postalCode: String(format: "%05d", (index &* 7919) % 40_000)),
                at: at(march1 + Int64(index) * 1000))
              index += 1
            }
            if maintained {
              let begin = DispatchTime.now().uptimeNanoseconds
              entries += store.tallies.keyCount
              try? store.tallies.apply(to: store.connection)
              applying += DispatchTime.now().uptimeNanoseconds - begin
            } else {
              store.tallies.removeAll()
            }
          }
        }
        let micros = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3 / Double(count)
        print(
          "sign, groups of \(groupSize), aggregates \(maintained ? "written" : "dropped"): \(String(format: "%.2f", micros)) µs per sign; writing the aggregates \(String(format: "%.2f", Double(applying) / 1e3 / Double(count))) µs per sign, \(String(format: "%.2f", Double(entries) / Double(count))) upserts per sign"
        )
      }
    }
  }
}
