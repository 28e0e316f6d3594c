import Foundation
import TestSupport
import Testing

/// Petitions with `confirmation: "email"` through the binary: pending signatures, tokens,
/// `confirm`, and the 24 hours after closing.
@Suite struct ConfirmationEndToEnd {
  let directory = TemporaryDirectory()
  var store: String { directory.file("store.sqlite3") }

  func start() throws -> ServerProcess {
    let server = try ServerProcess.start(store: store)
    return server
  }

  /// A pending signature is not counted, grouped or exported; Petition shows it as pending;
  /// `confirm` counts it (goal reached), and confirming again answers the same.
  @Test func pendingUntilConfirmed() throws {
    let server = try start()
    let created = try #require(server.create("p1", ["confirmation": "email", "goal": 1]))
    #expect(created["confirmation"] as? String == "email")
    #expect(created["pending"] as? Int == 0 && created["invalidated"] as? Int == 0)
    #expect(created["goalReachedAt"] is NSNull && created["anonymisedAt"] is NSNull)

    let signed = try #require(server.sign("p1", makeSigner(email: "ada@example.org"))?["result"] as? [String: Any])
    #expect(signed["status"] as? String == "pending")
    #expect(signed["count"] as? Int == 0)
    #expect(signed["duplicate"] as? Bool == false)
    #expect(isConfirmToken(signed["confirmToken"]))
    let petition = try #require(server.petition("p1"))
    #expect(petition["count"] as? Int == 0 && petition["pending"] as? Int == 1)
    #expect(petition["goalReachedAt"] is NSNull)
    #expect(server.total("p1") == 0)
    #expect(server.groups("p1", by: "postalCode") == [:])
    #expect(server.groups("p1", by: "day") == [:])
    #expect(server.exportedIDs("p1") == [])
    #expect(server.exportedIDs("p1", audience: "contacts") == [])

    let token = try #require(signed["confirmToken"] as? String)
    let confirmed = try #require(server.result("confirm", ["token": token]))
    #expect(
      NSDictionary(dictionary: confirmed)
        == [
          "signatureId": signed["signatureId"] as! String, "petition": "p1", "status": "confirmed", "count": 1,
        ])
    let after = try #require(server.petition("p1"))
    #expect(after["count"] as? Int == 1 && after["pending"] as? Int == 0)
    #expect(after["goalReachedAt"] is String)
    #expect(server.groups("p1", by: "postalCode") == ["20001": 1])
    #expect(server.exportedIDs("p1") == [signed["signatureId"] as! String])

    let again = try #require(server.result("confirm", ["token": token]))
    #expect(NSDictionary(dictionary: again) == NSDictionary(dictionary: confirmed))
    #expect(server.total("p1") == 1)
  }

  /// A repeat sign of a pending signature answers a new token and the earlier one stops
  /// working (1005); once confirmed, a repeat sign is a plain duplicate without a token.
  @Test func repeatSignReplacesTheToken() throws {
    let server = try start()
    server.create("p1", ["confirmation": "email"])
    let first = try #require(server.sign("p1", makeSigner(email: "ada@example.org"))?["result"] as? [String: Any])
    let second = try #require(
      server.sign("p1", makeSigner(email: " ADA+again@example.org"))?["result"] as? [String: Any])
    #expect(second["duplicate"] as? Bool == true)
    #expect(second["status"] as? String == "pending")
    #expect(second["signatureId"] as? String == first["signatureId"] as? String)
    let oldToken = try #require(first["confirmToken"] as? String)
    let newToken = try #require(second["confirmToken"] as? String)
    #expect(oldToken != newToken)

    let refused = server.call("confirm", ["token": oldToken])
    #expect(RPC.errorCode(refused) == 1005)
    #expect(server.petition("p1")?["pending"] as? Int == 1)
    #expect(server.result("confirm", ["token": newToken])?["status"] as? String == "confirmed")
    // The old token stays unknown after the confirmation too.
    #expect(RPC.errorCode(server.call("confirm", ["token": oldToken])) == 1005)

    let third = try #require(server.sign("p1", makeSigner(email: "ada@example.org"))?["result"] as? [String: Any])
    #expect(third["duplicate"] as? Bool == true && third["status"] as? String == "confirmed")
    #expect(third["confirmToken"] == nil)
    #expect(third["count"] as? Int == 1)
  }

  /// Tokens never given are 1005; a token that is not a string, empty or not URL-safe is -32602
  /// at /token.
  @Test func unknownAndMalformedTokens() throws {
    let server = try start()
    server.create("p1", ["confirmation": "email"])
    #expect(RPC.errorCode(server.call("confirm", ["token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])) == 1005)
    for bad: Any in ["", "has spaces", 42, String(repeating: "a", count: 257)] {
      let response = server.call("confirm", ["token": bad])
      #expect(RPC.errorCode(response) == -32602)
      #expect(RPC.errorPaths(response) == ["/token"])
    }
    #expect(RPC.errorPaths(server.call("confirm", [:])) == ["/token"])
    #expect(RPC.errorPaths(server.call("confirm", ["token": "abc", "petition": "p1"])) == ["/petition"])
  }

  /// Without `confirmation` a petition counts at once: status confirmed, no token; a bad
  /// confirmation mode is -32602 at /confirmation.
  @Test func noConfirmationByDefault() throws {
    let server = try start()
    #expect(server.create("p1")?["confirmation"] as? String == "none")
    let signed = try #require(server.sign("p1", makeSigner(email: "ada@example.org"))?["result"] as? [String: Any])
    #expect(signed["status"] as? String == "confirmed" && signed["count"] as? Int == 1)
    #expect(signed["confirmToken"] == nil)
    #expect(Set(signed.keys) == ["signatureId", "petition", "duplicate", "status", "count"])
    let bad = server.call("petition.create", ["id": "p2", "title": "T", "target": "X", "confirmation": "sms"])
    #expect(RPC.errorPaths(bad) == ["/confirmation"])
  }

  /// Opt-ins given with a pending signature take effect when it is confirmed: recorded via
  /// `confirm`, with the notice shown, and the signer becomes a contact only then.
  @Test func optInsTakeEffectOnConfirmation() throws {
    let server = try start()
    server.create("p1", ["confirmation": "email"])
    let signed = try #require(
      server.sign(
        "p1", makeSigner(email: "ada@example.org", phone: "2025550123"),
        ["optIn": ["email": true, "sms": true, "notice": "privacy-v3"], "source": "flyer"])?["result"]
        as? [String: Any])
    #expect(server.history(email: "ada@example.org")?.isEmpty == true)
    _ = try #require(server.result("confirm", ["token": signed["confirmToken"] as! String]))
    let events = try #require(server.history(email: "ada@example.org"))
    #expect(events.count == 2)
    #expect(events.allSatisfy { $0["via"] as? String == "confirm" && $0["granted"] as? Bool == true })
    #expect(events.allSatisfy { $0["notice"] as? String == "privacy-v3" && $0["petition"] as? String == "p1" })
    #expect(events.allSatisfy { $0["source"] as? String == "flyer" })
    #expect(Set(events.compactMap { $0["channel"] as? String }) == ["email", "sms"])
    #expect(events.first { $0["channel"] as? String == "sms" }?["number"] as? String == "+12025550123")
    #expect(events.first { $0["channel"] as? String == "email" }?["number"] is NSNull)
    let contacts = try #require(server.exportRecords("p1", audience: "contacts"))
    #expect(contacts.count == 1)
    #expect(contacts.first?["optInEmail"] as? Bool == true && contacts.first?["optInSms"] as? Bool == true)
  }

  /// An unsubscribe between a pending sign and its confirmation wins: the opt-ins given before it
  /// are dropped, so confirming does not subscribe the person again (it did: the confirm's
  /// grants were newer than the unsubscribe). Channels the unsubscribe did not name still take
  /// effect, and a sign after the unsubscribe, with an opt-in, subscribes again on confirming.
  @Test func unsubscribeBeforeConfirmingWins() throws {
    let server = try start()
    server.create("p1", ["confirmation": "email"])
    server.create("p2", ["confirmation": "email"])
    let ada = makeSigner(email: "ada@example.org", phone: "2025550123")
    let first = try #require(
      server.sign("p1", ada, ["optIn": ["email": true, "sms": true]])?["result"] as? [String: Any])
    #expect(server.result("unsubscribe", ["email": "ada@example.org", "channels": ["email"]]) != nil)
    _ = try #require(server.result("confirm", ["token": first["confirmToken"] as! String]))
    let contacts = try #require(server.exportRecords("p1", audience: "contacts"))
    #expect(contacts.count == 1)
    #expect(contacts.first?["optInEmail"] as? Bool == false && contacts.first?["optInSms"] as? Bool == true)
    let granted = (server.history(email: "ada@example.org") ?? []).filter { $0["granted"] as? Bool == true }
    #expect(granted.compactMap { $0["channel"] as? String } == ["sms"])

    #expect(server.result("unsubscribe", ["email": "ada@example.org"]) != nil)
    let second = try #require(server.sign("p2", ada, ["optIn": ["email": true]])?["result"] as? [String: Any])
    _ = try #require(server.result("confirm", ["token": second["confirmToken"] as! String]))
    let again = try #require(server.exportRecords("p2", audience: "contacts"))
    #expect(again.first?["optInEmail"] as? Bool == true && again.first?["optInSms"] as? Bool == false)
  }

  /// Within 24 hours of closing, signatures made before the close can still be confirmed; more
  /// than 24 hours after, `confirm` is 1003. The server has no test clock: between two runs of
  /// the server the test moves the petition's close time, and the signing time of its pending
  /// signatures, back in the SQLite file (as if the hours had passed).
  @Test(.sqliteFileOnly) func confirmationWithin24HoursOfClosing() throws {
    func passHours(_ hours: Int) {
      let milliseconds = hours * 3600 * 1000
      sqlite3(
        store,
        """
        UPDATE petitions SET closed_at = closed_at - \(milliseconds) WHERE id = 'p1';
        UPDATE signatures SET signed_at = signed_at - \(milliseconds) WHERE status = 'pending';
        """)
    }
    var server = try start()
    server.create("p1", ["confirmation": "email"])
    var tokens: [String] = []
    for email in ["one@example.org", "two@example.org", "three@example.org"] {
      let signed = server.sign("p1", makeSigner(email: email))?["result"] as? [String: Any]
      tokens.append(try #require(signed?["confirmToken"] as? String))
    }
    #expect(server.result("petition.close", ["id": "p1"])?["status"] as? String == "closed")
    // Just closed: confirmable.
    #expect(server.result("confirm", ["token": tokens[0]])?["count"] as? Int == 1)
    server.stop()

    // Closed 23 hours ago: still confirmable.
    passHours(23)
    server = try start()
    #expect(server.result("confirm", ["token": tokens[1]])?["count"] as? Int == 2)
    server.stop()

    // Closed 25 hours ago: too late.
    passHours(2)
    server = try start()
    #expect(RPC.errorCode(server.call("confirm", ["token": tokens[2]])) == 1003)
    #expect(server.petition("p1")?["count"] as? Int == 2)
    #expect(server.petition("p1")?["pending"] as? Int == 1)
  }

  /// A signature invalidated while pending stays invalidated when its token comes back.
  @Test func invalidatedWhilePendingStaysInvalidated() throws {
    let server = try start()
    server.create("p1", ["confirmation": "email"])
    let signed = try #require(server.sign("p1", makeSigner(email: "bot@example.org"))?["result"] as? [String: Any])
    let invalidated = server.result(
      "signature.invalidate", ["petition": "p1", "reason": "bot", "match": ["email": "bot@example.org"]])
    #expect(invalidated?["invalidated"] as? Int == 1)
    #expect(server.petition("p1")?["pending"] as? Int == 0)
    let confirmed = try #require(server.result("confirm", ["token": signed["confirmToken"] as! String]))
    #expect(confirmed["status"] as? String == "invalidated")
    #expect(confirmed["count"] as? Int == 0)
    #expect(server.petition("p1")?["invalidated"] as? Int == 1)
  }

  /// Many confirmations pipelined: every one answered, each counted once.
  @Test func pipelinedConfirmations() throws {
    let server = try start()
    server.create("p1", ["confirmation": "email"])
    let signers = (0..<500).map { makeSigner(email: "person\($0)@example.org") }
    let signed = server.signInBatches("p1", signers)
    let tokens = signed.compactMap { (RPC.result($0)?["confirmToken"]) as? String }
    #expect(tokens.count == 500 && Set(tokens).count == 500)
    let requests = tokens.enumerated().map { RPC.request("c\($0.offset)", "confirm", ["token": $0.element]) }
    let started = Date()
    let responses = server.pipeline(requests)
    let seconds = Date().timeIntervalSince(started)
    #expect(responses.count == 500)
    #expect(responses.values.allSatisfy { RPC.result($0)?["status"] as? String == "confirmed" })
    #expect(server.total("p1") == 500)
    print("pipelined confirm: \(Int(Double(tokens.count) / max(seconds, 0.001))) per second (debug build)")
  }
}
