import Foundation
import TestSupport
import Testing

/// `unsubscribe` through the binary: by canonical email or by phone, per channel, at once,
/// everywhere, durably, and revealing nothing.
@Suite struct UnsubscribeEndToEnd {
  let directory = TemporaryDirectory()
  var store: String { directory.file("store.sqlite3") }

  func start() throws -> ServerProcess {
    let server = try ServerProcess.start(store: store)
    server.createPetition("p1")
    return server
  }

  static var allChannels: [String: Any] { ["email": true, "phone": true, "sms": true] }

  /// The contacts rows of `petition` by email: [optInEmail, optInPhone, optInSms].
  func consent(_ server: ServerProcess, _ petition: String = "p1") -> [String: [Bool]] {
    var result: [String: [Bool]] = [:]
    for row in server.exportRecords(petition, audience: "contacts") ?? [] {
      result[row["email"] as? String ?? "?"] = ["optInEmail", "optInPhone", "optInSms"].map {
        row[$0] as? Bool ?? false
      }
    }
    return result
  }

  /// Unsubscribing "A.B+news@GMAIL.com" applies to the person who signed as "ab@gmail.com".
  @Test func byCanonicalEmail() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "ab@gmail.com", phone: "2025550111"), ["optIn": Self.allChannels])
    _ = server.sign("p1", makeSigner(email: "other@example.org"), ["optIn": ["email": true]])
    let answer = server.result("unsubscribe", ["email": "A.B+news@GMAIL.com"])
    #expect(answer?["channels"] as? [String] == ["email", "phone", "sms"])
    #expect(consent(server) == ["other@example.org": [true, false, false]])
  }

  /// googlemail.com and gmail.com are one mailbox for unsubscribe too.
  @Test func googlemailIsGmail() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "first.last@googlemail.com"), ["optIn": ["email": true]])
    _ = server.result("unsubscribe", ["email": "FirstLast@gmail.com"])
    #expect(consent(server).isEmpty)
  }

  /// Dots matter outside Gmail: unsubscribing "a.b@example.org" leaves "ab@example.org" alone.
  @Test func otherDomainsKeepDots() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "ab@example.org"), ["optIn": ["email": true]])
    _ = server.result("unsubscribe", ["email": "a.b@example.org"])
    #expect(consent(server) == ["ab@example.org": [true, false, false]])
  }

  /// By phone (US national form): every person with that number loses the channels asked;
  /// the answer lists them in the order email, phone, sms.
  @Test func byPhoneAffectsEveryPersonWithThatNumber() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "one@example.org", phone: "+12025550123"), ["optIn": Self.allChannels])
    _ = server.sign("p1", makeSigner(email: "two@example.org", phone: "202.555.0123"), ["optIn": Self.allChannels])
    _ = server.sign("p1", makeSigner(email: "three@example.org", phone: "202-555-0199"), ["optIn": Self.allChannels])
    let answer = server.result("unsubscribe", ["phone": "(202) 555-0123", "channels": ["sms", "phone"]])
    #expect(answer?["channels"] as? [String] == ["phone", "sms"])
    #expect(
      consent(server) == [
        "one@example.org": [true, false, false], "two@example.org": [true, false, false],
        "three@example.org": [true, true, true],
      ])
    // E.164 form, all channels: the third person is no longer a contact at all.
    #expect(
      server.result("unsubscribe", ["phone": "+12025550199"])?["channels"] as? [String] == ["email", "phone", "sms"])
    #expect(consent(server).keys.sorted() == ["one@example.org", "two@example.org"])
  }

  /// The answer lists the channels asked, in the order email, phone, sms; default all three.
  @Test func answerOrder() throws {
    let server = try start()
    func channels(_ asked: [String]?) -> [String]? {
      var params: [String: Any] = ["email": "x@example.org"]
      if let asked { params["channels"] = asked }
      return server.result("unsubscribe", params)?["channels"] as? [String]
    }
    #expect(channels(nil) == ["email", "phone", "sms"])
    #expect(channels(["sms", "email"]) == ["email", "sms"])
    #expect(channels(["sms", "phone", "email"]) == ["email", "phone", "sms"])
    #expect(channels(["phone"]) == ["phone"])
  }

  /// Only the channels asked are withdrawn.
  @Test func channelsSubset() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "a@example.org", phone: "2025550123"), ["optIn": Self.allChannels])
    _ = server.result("unsubscribe", ["email": "a@example.org", "channels": ["email"]])
    #expect(consent(server) == ["a@example.org": [false, true, true]])
    _ = server.result("unsubscribe", ["email": "a@example.org", "channels": ["sms"]])
    #expect(consent(server) == ["a@example.org": [false, true, false]])
  }

  /// The answer is the same whether or not the store knows the person.
  @Test func sameAnswerForAnUnknownPerson() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "known@example.org", phone: "2025550123"), ["optIn": Self.allChannels])
    for channels in [nil, ["sms"], ["email", "phone"]] as [[String]?] {
      var subjects: [[String: Any]] = [
        ["email": "known@example.org"], ["email": "stranger@example.org"], ["phone": "2025550123"],
        ["phone": "2025550188"],
      ]
      if let channels { subjects = subjects.map { $0.merging(["channels": channels]) { $1 } } }
      let answers = subjects.map { server.call("unsubscribe", $0) }
      let results = answers.map { RPC.result($0).map { RPC.line($0) } }
      #expect(results[0] != nil)
      #expect(Set(results.map { $0 ?? "nil" }).count == 1, "\(results)")
      #expect(answers.allSatisfy { $0?["error"] == nil })
    }
  }

  /// It applies everywhere: the person leaves the contacts of every petition they signed.
  @Test func appliesToEveryPetition() throws {
    let server = try start()
    server.createPetition("p2")
    _ = server.sign("p1", makeSigner(email: "a@example.org"), ["optIn": ["email": true]])
    _ = server.sign("p2", makeSigner(email: "a@example.org"), ["optIn": ["email": true]])
    _ = server.result("unsubscribe", ["email": "a@example.org"])
    #expect(consent(server, "p1").isEmpty)
    #expect(consent(server, "p2").isEmpty)
  }

  /// It takes effect at once in another process serving the same store.
  @Test func takesEffectInAnotherProcess() throws {
    let first = try start()
    let second = try ServerProcess.start(store: store)
    _ = first.sign("p1", makeSigner(email: "a@example.org", phone: "2025550123"), ["optIn": Self.allChannels])
    _ = first.sign("p1", makeSigner(email: "b@example.org"), ["optIn": ["email": true]])
    #expect(consent(second).count == 2)
    #expect(
      second.result("unsubscribe", ["email": "A@example.org"])?["channels"] as? [String] == ["email", "phone", "sms"])
    #expect(consent(first) == ["b@example.org": [true, false, false]])
    _ = first.result("unsubscribe", ["phone": "+1 202 555 0123"])
    _ = first.result("unsubscribe", ["email": "b@example.org", "channels": ["email"]])
    #expect(consent(second).isEmpty)
  }

  /// A later sign with an explicit opt-in subscribes that channel again (and only that one);
  /// a later sign without one does not.
  @Test func laterOptInResubscribes() throws {
    let server = try start()
    server.createPetition("p2")
    _ = server.sign("p1", makeSigner(email: "a@example.org", phone: "2025550123"), ["optIn": Self.allChannels])
    _ = server.result("unsubscribe", ["email": "a@example.org"])
    _ = server.sign("p2", makeSigner(email: "a@example.org"))
    #expect(consent(server).isEmpty)
    // A duplicate sign on p1 with an opt-in is fresh consent.
    let again = RPC.result(server.sign("p1", makeSigner(email: "a+again@example.org"), ["optIn": ["email": true]]))
    #expect(again?["duplicate"] as? Bool == true)
    #expect(consent(server) == ["a@example.org": [true, false, false]])
    #expect(consent(server, "p2") == ["a@example.org": [true, false, false]])
    // And sms, given with a phone on another petition.
    server.createPetition("p3")
    _ = server.sign("p3", makeSigner(email: "a@example.org", phone: "2025550123"), ["optIn": ["sms": true]])
    #expect(consent(server) == ["a@example.org": [true, false, true]])
  }

  /// Unsubscribing does not change the petition's total or its delivery export.
  @Test func totalsAreUnchanged() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "a@example.org"), ["optIn": ["email": true]])
    _ = server.sign("p1", makeSigner(email: "b@example.org"))
    _ = server.result("unsubscribe", ["email": "a@example.org"])
    #expect(server.total("p1") == 2)
    #expect(server.result("petition.get", ["id": "p1"])?["count"] as? Int == 2)
    #expect(server.exportRecords("p1", audience: "delivery")?.count == 2)
  }

  /// An answered unsubscribe survives kill -9.
  @Test func unsubscribeIsDurable() throws {
    var server = try start()
    _ = server.sign("p1", makeSigner(email: "a@example.org"), ["optIn": ["email": true]])
    #expect(server.result("unsubscribe", ["email": "a@example.org"]) != nil)
    server.killHard()
    server = try ServerProcess.start(store: store)
    #expect(consent(server).isEmpty)
  }
}
