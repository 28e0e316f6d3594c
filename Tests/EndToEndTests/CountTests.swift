import Foundation
import TestSupport
import Testing

private func groups(_ result: [String: Any]?) -> [(key: String, count: Int)]? {
  (result?["groups"] as? [[String: Any]])?.map { ($0["key"] as? String ?? "?", $0["count"] as? Int ?? -1) }
}

private func keys(_ result: [String: Any]?) -> [String]? { groups(result)?.map(\.key) }
private func counts(_ result: [String: Any]?) -> [Int]? { groups(result)?.map(\.count) }

/// `count` through the binary: total, goal, groupBy and the since/until window.
@Suite struct CountEndToEnd {
  let directory = TemporaryDirectory()

  func start() throws -> ServerProcess { try .start(store: directory.file("store.sqlite3")) }

  /// The result is `{petition, total, goal}`; groups appear only with groupBy.
  @Test func totalAndGoal() throws {
    let server = try start()
    server.createPetition("with-goal", goal: 100)
    server.createPetition("no-goal")
    for index in 0..<3 { _ = server.sign("with-goal", makeSigner(email: "s\(index)@example.org")) }
    _ = server.sign("with-goal", makeSigner(email: "S0@example.org"))
    let withGoal = try #require(server.result("count", ["petition": "with-goal"]))
    #expect(Set(withGoal.keys) == ["petition", "total", "goal"])
    #expect(withGoal["petition"] as? String == "with-goal")
    #expect(withGoal["total"] as? Int == 3)
    #expect(withGoal["goal"] as? Int == 100)
    let noGoal = try #require(server.result("count", ["petition": "no-goal"]))
    #expect(noGoal["total"] as? Int == 0)
    #expect(noGoal["goal"] is NSNull)
  }

  /// An unknown petition is 1001.
  @Test func unknownPetition() throws {
    let server = try start()
    #expect(RPC.errorCode(server.call("count", ["petition": "nope"])) == 1001)
    #expect(RPC.errorCode(server.call("count", ["petition": "nope", "groupBy": "day"])) == 1001)
  }

  /// A closed petition is still counted.
  @Test func closedPetitionIsCounted() throws {
    let server = try start()
    server.createPetition("p1")
    _ = server.sign("p1", makeSigner(email: "a@example.org"))
    _ = server.result("petition.close", ["id": "p1"])
    #expect(server.total("p1") == 1)
  }

  /// groupBy country: one group per country, sorted by key, counts summing to total.
  @Test func groupByCountry() throws {
    let server = try start()
    server.createPetition("p1")
    let signers = [
      makeSigner(email: "a@example.org"), makeSigner(email: "b@example.org", postalCode: "SW1A 1AA", country: "gb"),
      makeSigner(email: "c@example.org", postalCode: "K1A 0B1", country: "CA"), makeSigner(email: "d@example.org"),
      makeSigner(email: "e@example.org", postalCode: "75001", country: "FR"),
      makeSigner(email: "f@example.org", postalCode: "EC1A 1BB", country: "GB"),
    ]
    _ = server.signInBatches("p1", signers)
    let result = try #require(server.result("count", ["petition": "p1", "groupBy": "country"]))
    #expect(result["total"] as? Int == 6)
    #expect(keys(result) == ["CA", "FR", "GB", "US"])
    #expect(counts(result) == [1, 1, 2, 2])
  }

  /// groupBy postalCode: sorted keys with their counts.
  @Test func groupByPostalCode() throws {
    let server = try start()
    server.createPetition("p1")
    let codes = ["90210", "10001", "90210", "02139", "10001-1234", "90210"]
    _ = server.signInBatches("p1", codes.enumerated().map { makeSigner(email: "s\($0)@example.org", postalCode: $1) })
    let result = server.result("count", ["petition": "p1", "groupBy": "postalCode"])
    #expect(keys(result) == ["02139", "10001", "10001-1234", "90210"])
    #expect(counts(result) == [1, 1, 1, 3])
  }

  /// groupBy source: signatures without a source are under "", keys sorted.
  @Test func groupBySource() throws {
    let server = try start()
    server.createPetition("p1")
    _ = server.sign("p1", makeSigner(email: "a@example.org"), ["source": "web"])
    _ = server.sign("p1", makeSigner(email: "b@example.org"))
    _ = server.sign("p1", makeSigner(email: "c@example.org"), ["source": "email-2026"])
    _ = server.sign("p1", makeSigner(email: "d@example.org"), ["source": "web"])
    _ = server.sign("p1", makeSigner(email: "e@example.org"), ["source": NSNull()])
    let result = server.result("count", ["petition": "p1", "groupBy": "source"])
    #expect(keys(result) == ["", "email-2026", "web"])
    #expect(counts(result) == [2, 1, 2])
  }

  /// groupBy day: keys are the UTC dates of signedAt (YYYY-MM-DD).
  @Test func groupByDay() throws {
    let server = try start()
    server.createPetition("p1")
    _ = server.signInBatches("p1", (0..<4).map { makeSigner(email: "s\($0)@example.org") })
    let rows = try #require(server.exportRecords("p1", audience: "delivery"))
    let days = Dictionary(grouping: rows.compactMap { ($0["signedAt"] as? String)?.prefix(10) }, by: { String($0) })
    let result = server.result("count", ["petition": "p1", "groupBy": "day"])
    #expect(keys(result) == days.keys.sorted())
    #expect(counts(result) == days.keys.sorted().map { days[$0]!.count })
    #expect(
      keys(result)?.allSatisfy { $0.range(of: #"^\d{4}-\d{2}-\d{2}$"#, options: .regularExpression) != nil } == true)
  }

  /// A petition with no signatures has an empty groups list when grouped.
  @Test func emptyGroups() throws {
    let server = try start()
    server.createPetition("p1")
    let result = try #require(server.result("count", ["petition": "p1", "groupBy": "day"]))
    #expect((result["groups"] as? [Any])?.isEmpty == true)
    #expect(result["total"] as? Int == 0)
  }

  /// Six signatures at distinct instants, and their signedAt values (from a delivery export).
  func signSpreadOut(_ server: ServerProcess) throws -> [String] {
    server.createPetition("p1")
    for index in 0..<6 {
      _ = server.sign("p1", makeSigner(email: "s\(index)@example.org"), ["source": index % 2 == 0 ? "even" : "odd"])
      usleep(4000)
    }
    let times = try #require(server.exportRecords("p1", audience: "delivery")?.compactMap { $0["signedAt"] as? String })
    try #require(times.count == 6)
    try #require(Set(times).count == 6, "signatures must have distinct signedAt for this test")
    return times
  }

  /// since is inclusive and until exclusive, on signedAt; groups follow the same window.
  @Test func sinceInclusiveUntilExclusive() throws {
    let server = try start()
    let times = try signSpreadOut(server)
    func total(_ params: [String: Any]) -> Int? {
      server.result("count", ["petition": "p1"].merging(params) { $1 })?["total"] as? Int
    }
    #expect(total(["since": times[2]]) == 4)
    #expect(total(["until": times[2]]) == 2)
    #expect(total(["since": times[1], "until": times[4]]) == 3)
    #expect(total(["since": times[3], "until": times[3]]) == 0)
    #expect(total(["since": times[5]]) == 1)
    #expect(total(["until": times[0]]) == 0)
    let grouped = server.result("count", ["petition": "p1", "groupBy": "source", "since": times[1], "until": times[4]])
    #expect(keys(grouped) == ["even", "odd"])
    #expect(counts(grouped) == [1, 2])
    #expect(grouped?["total"] as? Int == 3)
  }

  /// Any RFC 3339 date-time is accepted: offsets, more or no fraction digits; the same instant
  /// gives the same answer.
  @Test func rfc3339WithOffsets() throws {
    let server = try start()
    let times = try signSpreadOut(server)
    let since = try #require(UTCTime.milliseconds(times[2]))
    let until = try #require(UTCTime.milliseconds(times[4]))
    let forms: [(String, String)] = [
      (UTCTime.format(since, offsetMinutes: 330), UTCTime.format(until, offsetMinutes: -480)),
      (UTCTime.format(since, offsetMinutes: -90, fraction: 6), UTCTime.format(until, offsetMinutes: 60, fraction: 9)),
      (UTCTime.format(since, offsetMinutes: 0, zulu: false), UTCTime.format(until, fraction: 4)),
    ]
    for (sinceText, untilText) in forms {
      let result = server.call("count", ["petition": "p1", "since": sinceText, "until": untilText])
      #expect(RPC.result(result)?["total"] as? Int == 2, "\(sinceText) \(untilText)")
    }
    // Whole seconds: everything signed in the same second or later.
    let wholeSecond = since - since % 1000
    let expected = times.filter { (UTCTime.milliseconds($0) ?? 0) >= wholeSecond }.count
    #expect(
      server.result("count", ["petition": "p1", "since": UTCTime.format(wholeSecond, fraction: 0)])?["total"] as? Int
        == expected)
  }

  /// Bounds finer than a millisecond compare as the instants they name: a signature at
  /// .123 is before since=.1239 (not counted) and before until=.1231 (counted).
  @Test func subMillisecondBounds() throws {
    let server = try start()
    let times = try signSpreadOut(server)
    let base = times[2].dropLast()  // without the Z
    func total(_ params: [String: Any]) -> Int? {
      server.result("count", ["petition": "p1"].merging(params) { $1 })?["total"] as? Int
    }
    // signedAt[2] < since: rows 3, 4, 5.
    #expect(total(["since": base + "9Z"]) == 3)
    // signedAt[2] < until: rows 0, 1, 2.
    #expect(total(["until": base + "1Z"]) == 3)
    // Zeros after the milliseconds name the same instant.
    #expect(total(["since": base + "000Z"]) == 4)
    #expect(total(["until": base + "000Z"]) == 2)
  }

  /// A window far in the past or future counts nothing; one around everything counts all.
  @Test func windowsOutsideTheSignatures() throws {
    let server = try start()
    server.createPetition("p1")
    _ = server.sign("p1", makeSigner(email: "a@example.org"))
    #expect(server.result("count", ["petition": "p1", "until": "2000-01-01T00:00:00Z"])?["total"] as? Int == 0)
    #expect(server.result("count", ["petition": "p1", "since": "2999-01-01T00:00:00Z"])?["total"] as? Int == 0)
    #expect(
      server.result(
        "count", ["petition": "p1", "since": "2000-01-01T00:00:00+14:00", "until": "2999-12-31T23:59:59.999-12:00"])?[
          "total"]
        as? Int == 1)
  }

  /// Invalid dates are -32602 at /since or /until.
  @Test(arguments: [
    "yesterday", "2026-11-29", "2026-11-29T07:39:19", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
    "2026-11-29T25:00:00Z", "2026-11-29 07:39:19Z x", "", "2026-11-29T07:39:19.123+5:00",
  ])
  func invalidDates(text: String) throws {
    let server = try start()
    server.createPetition("p1")
    let since = server.call("count", ["petition": "p1", "since": text])
    #expect(RPC.errorCode(since) == -32602)
    #expect(RPC.errorPaths(since) == ["/since"])
    let until = server.call("count", ["petition": "p1", "until": text])
    #expect(RPC.errorPaths(until) == ["/until"])
  }

  /// Unsubscribing does not remove a signature from the total.
  @Test func unsubscribeKeepsTheTotal() throws {
    let server = try start()
    server.createPetition("p1")
    _ = server.sign(
      "p1", makeSigner(email: "a@example.org", phone: "2025550123"), ["optIn": ["email": true, "sms": true]])
    _ = server.sign("p1", makeSigner(email: "b@example.org"))
    _ = server.result("unsubscribe", ["email": "a@example.org"])
    _ = server.result("unsubscribe", ["phone": "2025550123"])
    #expect(server.total("p1") == 2)
    #expect(counts(server.result("count", ["petition": "p1", "groupBy": "country"])) == [2])
  }
}
