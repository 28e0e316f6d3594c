import Foundation
import TestSupport
import Testing

/// `person.erase` and `petition.anonymise` through the binary, down to the bytes of the store.
@Suite struct ErasureEndToEnd {
  let directory = TemporaryDirectory()
  var store: String { directory.file("store.sqlite3") }

  func start() throws -> ServerProcess { try ServerProcess.start(store: store) }

  /// The person whose data must disappear, and the bytes that would betray them.
  static var zeb: [String: Any] {
    makeSigner(
      email: "Zebulon.Quackenbush+petitions@Example.org", firstName: "Zebulon", lastName: "Quackenbush",
      postalCode: "94105", phone: "(415) 555-0177")
  }
  static let needles = [
    "Zebulon.Quackenbush+petitions@Example.org", "zebulon.quackenbush@example.org", "Zebulon", "Quackenbush",
    "4155550177", "Quixotic remark",
  ]

  /// Stops the server and returns the needles found in the store: on SQLite in the database
  /// file or its WAL (after a checkpoint), on PostgreSQL in any row of the store's schema (its
  /// tables dumped as data by pg_dump).
  func needlesInStore(_ server: ServerProcess) -> [String] {
    server.stop()
    if let uri = StoreUnderTest.postgresURI {
      let dump = postgresDump(uri: uri, schema: StoreUnderTest.schema(for: store))
      #expect(dump.contains("COPY "), "pg_dump printed no table data")
      return Self.needles.filter { dump.contains($0) }
    }
    sqlite3(store, "PRAGMA wal_checkpoint(TRUNCATE);")
    return Self.needles.filter { fileContains(store, $0) || fileContains(store + "-wal", $0) }
  }

  /// Every row of the schema's tables, as pg_dump writes them (`COPY ... FROM stdin` blocks).
  func postgresDump(uri: String, schema: String) -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["pg_dump", "--data-only", "--schema=" + schema, "--dbname=" + uri]
    let output = Pipe()
    process.standardOutput = output
    do { try process.run() } catch { return "" }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }

  func signCrowd(_ server: ServerProcess, _ petition: String) {
    let crowd = [
      makeSigner(email: "a@example.org", postalCode: "20001"),
      makeSigner(email: "b@example.org", postalCode: "SW1A 1AA", country: "GB"),
      makeSigner(email: "c@example.org", postalCode: "94105", phone: "+14155550100"),
    ]
    for (index, signer) in crowd.enumerated() {
      _ = server.sign(petition, signer, ["source": index == 0 ? "ad" : "street", "optIn": ["email": true]])
    }
  }

  /// The proof of erasure: after `person.erase`, neither the SQLite database nor its WAL (after a
  /// checkpoint) holds the person's email, names, phone or comment, while count and every
  /// groupBy answer as before; the person's consent events are gone, and they are no longer
  /// exported.
  @Test func eraseLeavesNoTraceAndCountsExact() throws {
    var server = try start()
    server.create("p1")
    server.create("p2")
    signCrowd(server, "p1")
    _ = server.sign(
      "p1", Self.zeb,
      ["comment": "Quixotic remark", "source": "street", "optIn": ["email": true, "sms": true, "notice": "v1"]])
    signCrowd(server, "p2")
    _ = server.sign("p2", Self.zeb, ["optIn": ["phone": true]])
    let before = [server.tally("p1"), server.tally("p2")]
    #expect(before[0]["total"] == ["": 4] && before[1]["total"] == ["": 4])
    #expect(server.history(email: "zebulon.quackenbush@example.org")?.count == 3)
    // The search works: every needle is in the store before the erasure.
    #expect(needlesInStore(server) == Self.needles)

    server = try start()
    let erased = try #require(server.result("person.erase", ["email": "ZEBULON.QUACKENBUSH+gone@example.org"]))
    #expect(NSDictionary(dictionary: erased) == ["signatures": 2])
    #expect([server.tally("p1"), server.tally("p2")] == before)
    #expect(server.history(email: "zebulon.quackenbush@example.org")?.isEmpty == true)
    #expect(server.history(phone: "+14155550177")?.isEmpty == true)
    for petition in ["p1", "p2"] {
      #expect(server.exportedIDs(petition)?.count == 3)
      let contacts = server.exportRecords(petition, audience: "contacts") ?? []
      #expect(contacts.allSatisfy { ($0["email"] as? String)?.contains("ebulon") == false })
    }
    #expect(server.petition("p1")?["count"] as? Int == 4)
    #expect(needlesInStore(server) == [])

    // Counts survive a restart too (aggregates, not the erased rows, answer them).
    server = try start()
    #expect([server.tally("p1"), server.tally("p2")] == before)
  }

  /// While the server keeps running: the erasure's commit is followed by a checkpoint that
  /// truncates the WAL, so neither file holds the erased bytes (before, their old page images
  /// stayed in the WAL until the next checkpoint, and after a kill -9 until the next start).
  @Test(.sqliteFileOnly) func eraseClearsTheWALAtOnce() throws {
    let server = try start()
    server.create("p1")
    signCrowd(server, "p1")
    _ = server.sign("p1", Self.zeb, ["comment": "Quixotic remark", "optIn": ["email": true, "sms": true]])
    #expect(fileContains(store + "-wal", "Quackenbush"))
    #expect(server.result("person.erase", ["email": "zebulon.quackenbush@example.org"]) != nil)
    #expect(Self.needles.filter { fileContains(store, $0) || fileContains(store + "-wal", $0) } == [])
    #expect(server.tally("p1")["total"] == ["": 4])
    server.stop()
  }

  /// By phone: every person with that number is erased; others stay. An erased person no
  /// longer blocks signing again; an unknown person erases nothing.
  @Test func eraseByPhoneAndSignAgain() throws {
    let server = try start()
    server.create("p1")
    _ = server.sign("p1", makeSigner(email: "one@example.org", phone: "+12025550123"))
    _ = server.sign("p1", makeSigner(email: "two@example.org", phone: "202-555-0123"))
    _ = server.sign("p1", makeSigner(email: "three@example.org", phone: "+12025550999"))
    #expect(server.result("person.erase", ["phone": "(202) 555-0123"])?["signatures"] as? Int == 2)
    #expect(server.total("p1") == 3)
    let left = server.exportRecords("p1", audience: "delivery") ?? []
    #expect(left.count == 1)
    let again = try #require(RPC.result(server.sign("p1", makeSigner(email: "one@example.org"))))
    #expect(again["duplicate"] as? Bool == false && again["count"] as? Int == 4)
    #expect(server.result("person.erase", ["email": "nobody@example.org"])?["signatures"] as? Int == 0)
  }

  /// Kept invalidation records forget the erased person too: a match's email that names them
  /// (compared by canonical form, as the match was: here written in capitals, unlike anything
  /// stored) or a phone of theirs reads "erased", the rest of the record stays, and a match
  /// naming someone else is untouched, even one whose email contains the erased one's (a text
  /// replace turned "xa@example.org" into "xerased").
  @Test func invalidationRecordsForgetTheErasedPerson() throws {
    let server = try start()
    server.create("p1")
    _ = server.sign("p1", Self.zeb)
    _ = server.sign("p1", makeSigner(email: "a@example.org"))
    _ = server.sign("p1", makeSigner(email: "xa@example.org"))
    for match: [String: Any] in [
      ["email": "ZEBULON.QUACKENBUSH@EXAMPLE.ORG"], ["phone": "(415) 555-0177", "postalCode": "94105"],
      ["email": "xa@example.org"], ["email": "a@example.org", "source": "ad"],
    ] {
      #expect(server.result("signature.invalidate", ["petition": "p1", "reason": "fraud", "match": match]) != nil)
    }
    #expect(server.result("person.erase", ["email": "zebulon.quackenbush@example.org"])?["signatures"] as? Int == 1)
    #expect(server.result("person.erase", ["email": "a@example.org"])?["signatures"] as? Int == 1)
    let records = try #require(
      server.result("invalidation.list", ["petition": "p1"])?["invalidations"] as? [[String: Any]])
    let matches = records.map { NSDictionary(dictionary: $0["match"] as? [String: Any] ?? [:]) }
    #expect(
      matches == [
        ["email": "erased"], ["phone": "erased", "postalCode": "94105"], ["email": "xa@example.org"],
        ["email": "erased", "source": "ad"],
      ])
    #expect(records.map { $0["invalidated"] as? Int } == [1, 0, 1, 0])
    #expect(needlesInStore(server) == [])
  }

  /// Exactly one of email and phone, each valid.
  @Test func eraseParams() throws {
    let server = try start()
    #expect(RPC.errorPaths(server.call("person.erase", [:])) == ["/email"])
    #expect(
      RPC.errorPaths(server.call("person.erase", ["email": "a@example.org", "phone": "+12025550123"])) == ["/phone"])
    #expect(RPC.errorPaths(server.call("person.erase", ["email": "not-an-email"])) == ["/email"])
    #expect(RPC.errorPaths(server.call("person.erase", ["phone": "12"])) == ["/phone"])
    #expect(
      RPC.errorPaths(server.call("person.erase", ["email": "a@example.org", "channels": ["email"]])) == ["/channels"])
  }

  /// Anonymising: an open petition is 1006; a closed one loses every signer's data (and its
  /// pending signatures) with counts and groups exact; exports are 1007; the consent events
  /// gathered through it are deleted (a person whose consent came only from it is no longer a
  /// contact elsewhere); again returns it unchanged.
  @Test func anonymise() throws {
    var server = try start()
    server.create("p1", ["confirmation": "email"])
    server.create("p2")
    var tokens: [String] = []
    for signer in [
      makeSigner(email: "a@example.org", postalCode: "20001"),
      makeSigner(email: "b@example.org", postalCode: "SW1A 1AA", country: "GB"), Self.zeb,
    ] {
      let signed = RPC.result(server.sign("p1", signer, ["source": "street", "optIn": ["email": true]]))
      tokens.append(try #require(signed?["confirmToken"] as? String))
    }
    for token in tokens { _ = server.result("confirm", ["token": token]) }
    _ = server.sign("p1", makeSigner(email: "pending@example.org"))
    // On p2: a@ consents there too; Zebulon signs without consent (his came from p1 only).
    _ = server.sign("p2", makeSigner(email: "a@example.org"), ["optIn": ["email": true]])
    _ = server.sign("p2", Self.zeb, ["comment": "Quixotic remark"])
    #expect(server.exportRecords("p2", audience: "contacts")?.count == 2)

    #expect(RPC.errorCode(server.call("petition.anonymise", ["id": "p1"])) == 1006)
    #expect(RPC.errorCode(server.call("petition.anonymise", ["id": "nope"])) == 1001)
    // Invalidation records that matched by email or phone (here matching no one) forget them.
    for match: [String: Any] in [["email": "someone@example.org", "source": "street"], ["phone": "+14155550100"]] {
      _ = server.result("signature.invalidate", ["petition": "p1", "reason": "check", "match": match])
    }
    _ = server.result("petition.close", ["id": "p1"])
    let before = server.tally("p1")
    #expect(before["total"] == ["": 3])
    let anonymised = try #require(server.result("petition.anonymise", ["id": "p1"]))
    #expect(anonymised["anonymisedAt"] is String)
    #expect(anonymised["count"] as? Int == 3 && anonymised["pending"] as? Int == 0)
    #expect(server.tally("p1") == before)
    for audience in ["delivery", "contacts"] {
      let page = server.call("export", ["petition": "p1", "audience": audience, "format": "json"])
      #expect(RPC.errorCode(page) == 1007)
    }
    let file = server.call(
      "export", ["petition": "p1", "audience": "delivery", "format": "csv", "path": directory.file("out.csv")])
    #expect(RPC.errorCode(file) == 1007)
    #expect(!FileManager.default.fileExists(atPath: directory.file("out.csv")))

    // Consent gathered through p1 is gone: Zebulon is no longer a contact on p2; a@ still is
    // (her consent on p2 remains).
    let contacts = server.exportRecords("p2", audience: "contacts") ?? []
    #expect(contacts.compactMap { $0["email"] as? String } == ["a@example.org"])
    #expect(server.history(email: "a@example.org")?.compactMap { $0["petition"] as? String } == ["p2"])

    let records = server.result("invalidation.list", ["petition": "p1"])?["invalidations"] as? [[String: Any]] ?? []
    #expect(
      records.map { NSDictionary(dictionary: $0["match"] as? [String: Any] ?? [:]) } == [
        ["email": "erased", "source": "street"], ["phone": "erased"],
      ])

    let again = try #require(server.result("petition.anonymise", ["id": "p1"]))
    #expect(NSDictionary(dictionary: again) == NSDictionary(dictionary: anonymised))

    // p2 still holds Zebulon's signature with his comment; p1's copy of him is gone. Erasing
    // him removes the rest: then nothing of him is left in the file.
    #expect(server.result("person.erase", ["email": "zebulon.quackenbush@example.org"])?["signatures"] as? Int == 1)
    server.stop()
    sqlite3(store, "PRAGMA wal_checkpoint(TRUNCATE);")
    #expect(Self.needles.filter { fileContains(store, $0) || fileContains(store + "-wal", $0) } == [])
    server = try start()
    #expect(server.tally("p1") == before)
  }
}
