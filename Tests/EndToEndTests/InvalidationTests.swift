import Foundation
import TestSupport
import Testing

/// `signature.invalidate`, `invalidation.list` and `signature.revalidate` through the binary.
@Suite struct InvalidationEndToEnd {
  let directory = TemporaryDirectory()

  func start() throws -> ServerProcess {
    let server = try ServerProcess.start(store: directory.file("store.sqlite3"))
    server.create("p1", ["goal": 3])
    return server
  }

  /// Signs and returns the signatureId.
  func sign(
    _ server: ServerProcess, _ email: String, postalCode: String = "20001", country: String? = nil,
    phone: String? = nil, source: String? = nil, petition: String = "p1"
  ) throws -> String {
    var extra: [String: Any] = [:]
    if let source { extra["source"] = source }
    let response = server.sign(
      petition, makeSigner(email: email, postalCode: postalCode, country: country, phone: phone), extra)
    return try #require(RPC.result(response)?["signatureId"] as? String)
  }

  func invalidate(_ server: ServerProcess, _ match: [String: Any], dryRun: Bool? = nil, reason: String = "fraud")
    -> [String: Any]?
  {
    var params: [String: Any] = ["petition": "p1", "reason": reason, "match": match]
    if let dryRun { params["dryRun"] = dryRun }
    return server.result("signature.invalidate", params)
  }

  /// A dry run counts and writes nothing; the real one sets the signatures aside: they leave
  /// the count, the groups and the exports, Petition counts them as invalidated, and the record
  /// keeps the match as given (postal code normalised).
  @Test func invalidateByPostalCode() throws {
    let server = try start()
    let keep = try sign(server, "keep@example.org", postalCode: "20001")
    _ = try sign(server, "a@example.org", postalCode: "SW1A 1AA", country: "GB")
    _ = try sign(server, "b@example.org", postalCode: "sw1a 1aa", country: "GB")

    let dry = try #require(invalidate(server, ["postalCode": " sw1a 1aa "], dryRun: true))
    #expect(dry["invalidationId"] is NSNull)
    #expect(dry["invalidated"] as? Int == 2 && dry["count"] as? Int == 3)
    #expect(server.total("p1") == 3)
    #expect(server.result("invalidation.list", ["petition": "p1"])?["invalidations"] as? [Any] != nil)
    #expect((server.result("invalidation.list", ["petition": "p1"])?["invalidations"] as? [Any])?.isEmpty == true)

    let real = try #require(invalidate(server, ["postalCode": " sw1a 1aa "], reason: "One printer, many names"))
    #expect(real["invalidationId"] is String)
    #expect(real["invalidated"] as? Int == 2 && real["count"] as? Int == 1)
    let petition = try #require(server.petition("p1"))
    #expect(petition["count"] as? Int == 1 && petition["invalidated"] as? Int == 2)
    #expect(server.groups("p1", by: "postalCode") == ["20001": 1])
    #expect(server.groups("p1", by: "country") == ["US": 1])
    #expect(server.exportedIDs("p1") == [keep])

    let list = try #require(
      server.result("invalidation.list", ["petition": "p1"])?["invalidations"] as? [[String: Any]])
    #expect(list.count == 1)
    let record = try #require(list.first)
    #expect(record["invalidationId"] as? String == real["invalidationId"] as? String)
    #expect(record["reason"] as? String == "One printer, many names")
    #expect((record["match"] as? NSDictionary) == ["postalCode": "SW1A 1AA"])
    #expect(record["invalidated"] as? Int == 2 && record["revalidated"] as? Int == 0)
    #expect(record["at"] is String)

    // Again: nothing left to change.
    #expect(invalidate(server, ["postalCode": "SW1A 1AA"])?["invalidated"] as? Int == 0)
  }

  /// Email matches by canonical form (the record keeps it as given); phone by E.164, whatever
  /// the form given; source; every condition must hold.
  @Test func invalidateByEmailPhoneSourceAndAllConditions() throws {
    let server = try start()
    let gmail = try sign(server, "ab@gmail.com")
    _ = try sign(server, "one@example.org", phone: "+12025550123", source: "ad")
    _ = try sign(server, "two@example.org", phone: "202.555.0123")
    _ = try sign(server, "three@example.org", source: "ad")
    _ = try sign(server, "four@example.org", postalCode: "10001", source: "ad")

    let byEmail = try #require(invalidate(server, ["email": " A.B+x@GMAIL.com "]))
    #expect(byEmail["invalidated"] as? Int == 1 && byEmail["count"] as? Int == 4)
    #expect(!(server.exportedIDs("p1") ?? []).contains(gmail))

    #expect(invalidate(server, ["phone": "(202) 555-0123"])?["invalidated"] as? Int == 2)
    #expect(server.total("p1") == 2)
    // source AND postalCode: only "four".
    #expect(invalidate(server, ["source": "ad", "postalCode": "10001"])?["invalidated"] as? Int == 1)
    #expect(server.total("p1") == 1)

    let list = try #require(
      server.result("invalidation.list", ["petition": "p1"])?["invalidations"] as? [[String: Any]])
    #expect(list.count == 3)
    #expect((list[0]["match"] as? NSDictionary) == ["email": "A.B+x@GMAIL.com"])
    #expect((list[1]["match"] as? NSDictionary) == ["phone": "+12025550123"])
    #expect((list[2]["match"] as? NSDictionary) == ["source": "ad", "postalCode": "10001"])
    #expect(list.map { $0["invalidated"] as? Int } == [1, 2, 1])
  }

  /// since (inclusive) and until (exclusive) narrow a match to a window of signedAt.
  @Test func invalidateWithinAWindow() throws {
    let server = try start()
    _ = try sign(server, "early@example.org", source: "ad")
    usleep(20_000)
    let late = try sign(server, "late@example.org", source: "ad")
    let rows = try #require(server.exportRecords("p1", audience: "delivery"))
    let lateAt = try #require(rows.first { $0["signatureId"] as? String == late }?["signedAt"] as? String)
    let answer = try #require(invalidate(server, ["source": "ad", "since": lateAt]))
    #expect(answer["invalidated"] as? Int == 1)
    #expect(server.exportedIDs("p1")?.contains(late) == false)
    #expect(invalidate(server, ["source": "ad", "until": lateAt], dryRun: true)?["invalidated"] as? Int == 1)
    let record = (server.result("invalidation.list", ["petition": "p1"])?["invalidations"] as? [[String: Any]])?.first
    #expect((record?["match"] as? NSDictionary) == ["source": "ad", "since": lateAt])
  }

  /// Invalidated signatures keep their person's place: signing again is a duplicate with status
  /// invalidated and an unchanged count.
  @Test func invalidatedSignatureKeepsItsPlace() throws {
    let server = try start()
    let id = try sign(server, "fraud@example.org")
    _ = try #require(invalidate(server, ["signatureIds": [id]]))
    let again = try #require(RPC.result(server.sign("p1", makeSigner(email: "FRAUD+2@example.org"))))
    #expect(again["duplicate"] as? Bool == true)
    #expect(again["status"] as? String == "invalidated")
    #expect(again["signatureId"] as? String == id)
    #expect(again["count"] as? Int == 0)
    #expect(server.petition("p1")?["invalidated"] as? Int == 1)
  }

  /// Revalidating a whole invalidation, or some signatures, returns each to the status it had
  /// before (confirmed, or pending on a petition with confirmation), and the record counts them.
  @Test func revalidate() throws {
    let server = try start()
    let ids = try (0..<4).map { try sign(server, "p\($0)@example.org", source: "ad") }
    let first = try #require(invalidate(server, ["source": "ad"])?["invalidationId"] as? String)
    #expect(server.total("p1") == 0)

    let some = try #require(
      server.result("signature.revalidate", ["petition": "p1", "signatureIds": [ids[0], ids[1]]]))
    #expect(some["revalidated"] as? Int == 2 && some["count"] as? Int == 2)
    let rest = try #require(server.result("signature.revalidate", ["petition": "p1", "invalidationId": first]))
    #expect(rest["revalidated"] as? Int == 2 && rest["count"] as? Int == 4)
    #expect(
      server.result("signature.revalidate", ["petition": "p1", "invalidationId": first])?["revalidated"] as? Int == 0)
    let record = (server.result("invalidation.list", ["petition": "p1"])?["invalidations"] as? [[String: Any]])?.first
    #expect(record?["invalidated"] as? Int == 4 && record?["revalidated"] as? Int == 4)
    let petition = try #require(server.petition("p1"))
    #expect(petition["invalidated"] as? Int == 0 && petition["count"] as? Int == 4)
    #expect(Set(server.exportedIDs("p1") ?? []) == Set(ids))

    // A pending signature goes back to pending.
    server.create("p2", ["confirmation": "email"])
    let pending = try sign(server, "wait@example.org", petition: "p2")
    _ = server.result("signature.invalidate", ["petition": "p2", "reason": "r", "match": ["signatureIds": [pending]]])
    #expect(server.petition("p2")?["pending"] as? Int == 0)
    #expect(
      server.result("signature.revalidate", ["petition": "p2", "signatureIds": [pending]])?["count"] as? Int == 0)
    let p2 = try #require(server.petition("p2"))
    #expect(p2["pending"] as? Int == 1 && p2["invalidated"] as? Int == 0 && p2["count"] as? Int == 0)
  }

  /// `goalReachedAt` is when count first reached goal; it stays when invalidation lowers the
  /// count.
  @Test func goalReachedAtStaysWhenCountFalls() throws {
    let server = try start()
    _ = try sign(server, "a@example.org")
    _ = try sign(server, "b@example.org")
    #expect(server.petition("p1")?["goalReachedAt"] is NSNull)
    let last = try sign(server, "c@example.org")
    let reached = try #require(server.petition("p1")?["goalReachedAt"] as? String)
    _ = try #require(invalidate(server, ["signatureIds": [last]]))
    let after = try #require(server.petition("p1"))
    #expect(after["count"] as? Int == 2)
    #expect(after["goalReachedAt"] as? String == reached)
  }

  /// Every problem at its JSON Pointer path; unknown petition 1001; an invalidation the petition
  /// does not have is -32602 at /invalidationId.
  @Test func invalidParams() throws {
    let server = try start()
    func paths(_ method: String, _ params: [String: Any]) -> [String] {
      let response = server.call(method, params)
      #expect(RPC.errorCode(response) == -32602, "\(method) \(params)")
      return RPC.errorPaths(response).sorted()
    }
    #expect(paths("signature.invalidate", ["petition": "p1", "reason": "r", "match": [:]]) == ["/match"])
    #expect(
      paths("signature.invalidate", ["petition": "p1", "reason": "r", "match": ["since": "2026-11-29T00:00:00Z"]]) == [
        "/match"
      ])
    #expect(paths("signature.invalidate", ["petition": "p1", "match": ["source": "s"]]) == ["/reason"])
    #expect(
      paths(
        "signature.invalidate",
        ["petition": "p1", "reason": String(repeating: "x", count: 201), "match": ["source": "s"]]) == ["/reason"])
    #expect(paths("signature.invalidate", ["petition": "p1", "reason": "r"]) == ["/match"])
    #expect(
      paths("signature.invalidate", ["petition": "p1", "reason": "r", "match": ["signatureIds": []]]) == [
        "/match/signatureIds"
      ])
    #expect(
      paths(
        "signature.invalidate",
        ["petition": "p1", "reason": "r", "match": ["signatureIds": Array(repeating: "sig_1", count: 10_001)]])
        == ["/match/signatureIds"])
    #expect(
      paths("signature.invalidate", ["petition": "p1", "reason": "r", "match": ["signatureIds": ["sig_1", 5, "a b"]]])
        == ["/match/signatureIds/1", "/match/signatureIds/2"])
    #expect(
      paths(
        "signature.invalidate",
        [
          "petition": "p1", "reason": "r",
          "match": ["email": "nope", "phone": "12", "postalCode": "!!", "source": "", "until": "yesterday", "x": 1],
        ]) == ["/match/email", "/match/phone", "/match/postalCode", "/match/source", "/match/until", "/match/x"])
    #expect(
      paths("signature.invalidate", ["petition": "p1", "reason": "r", "match": ["source": "s"], "dryRun": "yes"]) == [
        "/dryRun"
      ])
    #expect(paths("signature.revalidate", ["petition": "p1"]) == ["/invalidationId"])
    #expect(
      paths("signature.revalidate", ["petition": "p1", "invalidationId": "inv_1", "signatureIds": ["sig_1"]]) == [
        "/signatureIds"
      ])
    #expect(paths("signature.revalidate", ["petition": "p1", "invalidationId": "inv_999"]) == ["/invalidationId"])
    #expect(paths("invalidation.list", [:]) == ["/petition"])
    #expect(
      RPC.errorCode(server.call("signature.invalidate", ["petition": "nope", "reason": "r", "match": ["source": "s"]]))
        == 1001)
    #expect(RPC.errorCode(server.call("invalidation.list", ["petition": "nope"])) == 1001)
    #expect(
      RPC.errorCode(server.call("signature.revalidate", ["petition": "nope", "signatureIds": ["sig_1"]])) == 1001)
  }
}
