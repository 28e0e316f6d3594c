import Foundation
import TestSupport
import Testing

/// `consent.history` and the consent rules of contract v2 through the binary.
@Suite struct ConsentHistoryEndToEnd {
  let directory = TemporaryDirectory()

  func start() throws -> ServerProcess {
    let server = try ServerProcess.start(store: directory.file("store.sqlite3"))
    server.create("p1")
    server.create("p2")
    return server
  }

  /// Every event has the contract's fields; phone and sms events carry the E.164 number,
  /// `notice` the wording shown; by email the person's events, oldest first.
  @Test func eventsByEmail() throws {
    let server = try start()
    _ = server.sign(
      "p1", makeSigner(email: "Ada@example.org", phone: "202 555 0123"),
      ["optIn": ["email": true, "phone": true, "notice": " privacy-v3 "], "source": "flyer"])
    usleep(5000)
    _ = server.result("unsubscribe", ["email": "ada+x@EXAMPLE.org", "channels": ["phone"]])
    let events = try #require(server.history(email: "ADA@example.org"))
    #expect(events.count == 3)
    for event in events {
      #expect(Set(event.keys) == ["channel", "granted", "at", "petition", "source", "via", "number", "notice"])
    }
    let grants = events.prefix(2)
    #expect(Set(grants.compactMap { $0["channel"] as? String }) == ["email", "phone"])
    #expect(grants.allSatisfy { $0["granted"] as? Bool == true && $0["via"] as? String == "sign" })
    #expect(grants.allSatisfy { $0["petition"] as? String == "p1" && $0["source"] as? String == "flyer" })
    #expect(grants.allSatisfy { $0["notice"] as? String == "privacy-v3" })
    #expect(grants.first { $0["channel"] as? String == "phone" }?["number"] as? String == "+12025550123")
    #expect(grants.first { $0["channel"] as? String == "email" }?["number"] is NSNull)
    let last = try #require(events.last)
    #expect(last["channel"] as? String == "phone" && last["granted"] as? Bool == false)
    #expect(last["via"] as? String == "unsubscribe" && last["petition"] is NSNull && last["notice"] is NSNull)
    let times = events.compactMap { $0["at"] as? String }
    #expect(times == times.sorted())
  }

  /// By phone: the phone and sms events of every person with that number, none of their email
  /// events.
  @Test func eventsByPhone() throws {
    let server = try start()
    let all: [String: Any] = ["email": true, "phone": true, "sms": true]
    _ = server.sign("p1", makeSigner(email: "one@example.org", phone: "+12025550123"), ["optIn": all])
    _ = server.sign("p2", makeSigner(email: "two@example.org", phone: "(202) 555-0123"), ["optIn": ["sms": true]])
    _ = server.sign("p1", makeSigner(email: "three@example.org", phone: "+12025550999"), ["optIn": all])
    let events = try #require(server.history(phone: "202.555.0123"))
    #expect(events.count == 3)
    #expect(events.allSatisfy { ["phone", "sms"].contains($0["channel"] as? String) })
    #expect(events.allSatisfy { $0["number"] as? String == "+12025550123" })
    #expect(Set(events.compactMap { $0["petition"] as? String }) == ["p1", "p2"])
  }

  /// Unsubscribing and then signing with an explicit opt-in subscribes the channel again: the
  /// history shows grant, withdrawal, grant, and the contacts export follows the newest.
  @Test func unsubscribeThenOptInResubscribes() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "ada@example.org"), ["optIn": ["email": true]])
    usleep(5000)
    _ = server.result("unsubscribe", ["email": "ada@example.org"])
    #expect(server.exportRecords("p1", audience: "contacts")?.isEmpty == true)
    usleep(5000)
    // A sign without an opt-in changes nothing.
    _ = server.sign("p2", makeSigner(email: "ada@example.org"))
    #expect(server.exportRecords("p2", audience: "contacts")?.isEmpty == true)
    usleep(5000)
    // A repeat sign with an explicit opt-in (a duplicate) records fresh consent.
    let again = RPC.result(server.sign("p1", makeSigner(email: "ada@example.org"), ["optIn": ["email": true]]))
    #expect(again?["duplicate"] as? Bool == true)
    let contacts = try #require(server.exportRecords("p1", audience: "contacts"))
    #expect(contacts.count == 1 && contacts.first?["optInEmail"] as? Bool == true)
    #expect(server.exportRecords("p2", audience: "contacts")?.count == 1)
    let events = try #require(server.history(email: "ada@example.org"))
    let emailEvents = events.filter { $0["channel"] as? String == "email" }
    #expect(emailEvents.compactMap { $0["granted"] as? Bool } == [true, false, true])
    #expect(emailEvents.compactMap { $0["via"] as? String } == ["sign", "unsubscribe", "sign"])
  }

  /// An unknown person has no events; params are one of email and phone, each valid; notice is
  /// 1 to 200 characters.
  @Test func unknownPersonAndParams() throws {
    let server = try start()
    #expect(server.history(email: "nobody@example.org")?.isEmpty == true)
    #expect(server.history(phone: "+442079460958")?.isEmpty == true)
    #expect(RPC.errorPaths(server.call("consent.history", [:])) == ["/email"])
    #expect(
      RPC.errorPaths(server.call("consent.history", ["email": "a@example.org", "phone": "+12025550123"])) == ["/phone"])
    #expect(RPC.errorPaths(server.call("consent.history", ["email": "a@@example"])) == ["/email"])
    #expect(RPC.errorPaths(server.call("consent.history", ["phone": "+1"])) == ["/phone"])
    for notice: Any in ["", "   ", String(repeating: "n", count: 201), 7, "bell\u{7}"] {
      let response = server.sign(
        "p1", makeSigner(email: "a@example.org"), ["optIn": ["email": true, "notice": notice]])
      #expect(RPC.errorPaths(response) == ["/optIn/notice"], "\(notice)")
    }
    #expect(server.total("p1") == 0)
  }
}
