import Foundation
import Petitions
import SQLite
import SQLiteStore
import Testing

@Suite("SQLite store v2")
struct Version2Tests {
  /// A store written by version 1 upgrades in place: its signatures are confirmed and counted,
  /// its groups come from the new aggregates, its consent becomes events, a reached goal gets
  /// its time, and new signatures get ids after the old ones.
  @Test func migratesAVersion1File() throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("v1.sqlite3")
    do {
      let connection = try Connection(path: path)
      try connection.execute(Self.version1Schema)
      try connection.execute(
        """
        INSERT INTO petitions (pk, id, title, target, body, goal, status, created_at, closed_at, signature_count)
        VALUES (1, 'p', 'T', 'C', '', 2, 'open', \(march1), NULL, 3);
        INSERT INTO signatures (id, petition, person_key, email, first_name, last_name, postal_code, country, phone,
          comment, source, signed_at, email_ok, phone_ok, sms_ok) VALUES
          (1, 1, 'ada@x.org', 'Ada@x.org', 'Ada', 'L', '10001', 'US', '+12025550100', NULL, 'web', \(march1 + 10), 1, 0, 1),
          (2, 1, 'bob@x.org', 'bob@x.org', 'Bob', 'M', '10001', 'US', NULL, 'hi', NULL, \(march1 + day), 0, 0, 0),
          (7, 1, 'cy@x.org', 'cy@x.org', 'Cy', 'N', 'K1A 0B1', 'CA', NULL, NULL, 'web', \(march1 + 2 * day), 0, 0, 0);
        INSERT INTO schema_migrations (identifier, position) VALUES ('v1-petitions-signatures', 0);
        """)
    }
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    let petition = try store.petition(id: "p")
    #expect(petition.count == 3 && petition.pending == 0 && petition.invalidated == 0)
    #expect(petition.confirmation == .none && petition.anonymisedAt == nil)
    #expect(petition.goalReachedAt == at(march1 + day))
    func groups(_ grouping: CountGrouping, since: Int64? = nil) throws -> [String] {
      try store.count(CountQuery(petitionID: "p", grouping: grouping, window: TimeWindow(since: since.map(at))))
        .groups?.map { "\($0.key)=\($0.count)" } ?? []
    }
    #expect(try groups(.day) == ["2026-03-01=1", "2026-03-02=1", "2026-03-03=1"])
    #expect(try groups(.postalCode) == ["10001=2", "K1A 0B1=1"])
    #expect(try groups(.source, since: march1 + 11) == ["=1", "web=1"])
    #expect(try store.allRows("p", .delivery).count == 3)
    let contacts = try store.allRows("p", .contacts)
    #expect(contacts.map(\.email) == ["Ada@x.org"] && contacts.first?.optInSms == true)
    let history = try store.consentHistory(.canonicalEmail("ada@x.org"))
    #expect(history.map(\.channel) == [.email, .sms] && history.allSatisfy { $0.granted && $0.via == .sign })
    #expect(history.last?.number == "+12025550100" && history.first?.petitionID == "p")
    let next = try store.sign(signing("p", "dee@x.org"), at: at(march1 + 3 * day))
    #expect(next.count == 4 && next.signatureID > "sig_00000000007")
    #expect(try store.erase(.canonicalEmail("ada@x.org"), at: at(march1 + 3 * day)) == 1)
    #expect(try store.allRows("p", .contacts).isEmpty)
  }

  /// After `erase` and a checkpoint, neither the database file nor its WAL holds the person's
  /// email, canonical email, names, phone or comment anywhere (secure_delete), while every
  /// count answers as before.
  @Test func erasureLeavesNoTraceInTheFiles() throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("erase.sqlite3")
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    let secrets = [
      "Zelda.Erasable+tag@Example.org", "zelda.erasable@example.org", "Zorbulon", "Quixotrix",
      "+12025557777", "A very identifiable comment",
    ]
    try store.performWriteGroup {
      for index in 0..<3000 {
        _ = try? store.sign(
          signing(
            "p", "person\(index)@example.org", postalCode: String(format: "%05d", index % 50),
            phone: index.isMultiple(of: 3) ? "+1202555\(String(format: "%04d", index))" : nil,
            optIns: index.isMultiple(of: 2) ? [.email] : [], source: index.isMultiple(of: 5) ? "web" : nil),
          at: at(march1 + Int64(index) * 60_000))
        if index == 1500 {
          let zelda = Signing(
            petitionID: "p",
            signer: Signer(
              email: secrets[0], canonicalEmail: secrets[1], firstName: secrets[2], lastName: secrets[3],
              postalCode: "10001", country: "US", phone: secrets[4]),
            comment: secrets[5], optIns: [.email, .sms], source: "web", notice: "n1")
          _ = try? store.sign(zelda, at: at(march1 + 1))
          var other = zelda
          other.petitionID = "q"
          _ = try? store.sign(other, at: at(march1 + 2))
        }
      }
    }
    _ = try store.invalidate(
      Invalidation(
        petitionID: "q", reason: "check", match: InvalidationMatch(canonicalEmail: secrets[1]),
        matchDescription: "{\"email\":\"\(secrets[0])\"}", dryRun: false), at: at(march1 + 3))
    try store.unsubscribe(Unsubscription(subject: .phone(secrets[4]), channels: [.sms]), at: at(march1 + 4))
    func everyCount() throws -> [String] {
      var answers: [String] = []
      for petition in ["p", "q"] {
        answers.append("\(try store.total(petition))")
        for grouping in CountGrouping.allCases {
          answers +=
            try store.count(CountQuery(petitionID: petition, grouping: grouping, window: TimeWindow()))
            .groups?.map { "\($0.key)=\($0.count)" } ?? []
        }
      }
      return answers
    }
    let before = try everyCount()
    let checkpoint = try Connection(path: path)
    func fileContents() throws -> Data {
      _ = try checkpoint.textValue("PRAGMA wal_checkpoint(TRUNCATE)")
      var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
      if let wal = try? Data(contentsOf: URL(fileURLWithPath: path + "-wal")) { bytes.append(wal) }
      return bytes
    }
    // The check finds them before the erasure (so it would notice them after).
    let contents = try fileContents()
    for secret in secrets { #expect(contents.range(of: Data(secret.utf8)) != nil, "\(secret) is stored before") }

    #expect(try store.erase(.canonicalEmail(secrets[1]), at: at(march1 + 5)) == 2)
    let after = try fileContents()
    for secret in secrets { #expect(after.range(of: Data(secret.utf8)) == nil, "no trace of \(secret)") }
    #expect(try everyCount() == before)
    #expect(try store.consentHistory(.canonicalEmail(secrets[1])).isEmpty)
  }

  static let version1Schema = """
    CREATE TABLE petitions (
      pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, target TEXT NOT NULL,
      body TEXT NOT NULL, goal INTEGER, status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
      created_at INTEGER NOT NULL, closed_at INTEGER,
      signature_count INTEGER NOT NULL DEFAULT 0 CHECK (signature_count >= 0)
    ) STRICT;
    CREATE INDEX petitions_by_creation ON petitions (created_at, id);
    CREATE TABLE signatures (
      id INTEGER PRIMARY KEY, petition INTEGER NOT NULL REFERENCES petitions (pk), person_key TEXT NOT NULL,
      email TEXT NOT NULL, first_name TEXT NOT NULL, last_name TEXT NOT NULL, postal_code TEXT NOT NULL,
      country TEXT NOT NULL, phone TEXT, comment TEXT, source TEXT, signed_at INTEGER NOT NULL,
      email_ok INTEGER NOT NULL DEFAULT 0, phone_ok INTEGER NOT NULL DEFAULT 0, sms_ok INTEGER NOT NULL DEFAULT 0,
      UNIQUE (person_key, petition)
    ) STRICT;
    CREATE INDEX signatures_by_time ON signatures (petition, signed_at);
    CREATE INDEX signatures_by_phone ON signatures (phone) WHERE phone IS NOT NULL;
    CREATE TABLE schema_migrations (identifier TEXT PRIMARY KEY NOT NULL, position INTEGER NOT NULL) STRICT;
    """
  /// The CHECK constraints listing values with `IN` (which SQLite evaluates through a lookup
  /// table built for every insert) are rewritten in place as comparisons: on a store that has
  /// them, the migration edits the schema's text, the file stays sound, and the constraints
  /// still refuse what they refused.
  @Test func checkConstraintsBecomeComparisons() throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("checks.sqlite3")
    do {
      let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
      _ = try store.createPetition(newPetition("p"), at: at(march1))
      _ = try store.sign(signing("p", "ada@x.org", optIns: [.email]), at: at(march1))
    }
    // Back to the text v2-trust wrote, as a store of the previous release has it.
    do {
      let connection = try Connection(path: path)
      let version = Int(try connection.textValue("PRAGMA schema_version") ?? "0") ?? 0
      try connection.execute("PRAGMA writable_schema = ON")
      for rewrite in [
        (
          "signatures", "status = 'confirmed' OR status = 'pending' OR status = 'invalidated'",
          "status IN ('confirmed', 'pending', 'invalidated')"
        ),
        (
          "consent_events", "channel = 'email' OR channel = 'phone' OR channel = 'sms'",
          "channel IN ('email', 'phone', 'sms')"
        ),
        (
          "consent_events", "via = 'sign' OR via = 'confirm' OR via = 'import' OR via = 'unsubscribe'",
          "via IN ('sign', 'confirm', 'import', 'unsubscribe')"
        ),
      ] {
        let update = try connection.prepare("UPDATE sqlite_schema SET sql = replace(sql, ?2, ?3) WHERE name = ?1")
        try update.bind(rewrite.0, at: 1)
        try update.bind(rewrite.1, at: 2)
        try update.bind(rewrite.2, at: 3)
        try update.execute()
      }
      try connection.execute("PRAGMA schema_version = \(version + 1); PRAGMA writable_schema = OFF")
      try connection.execute("DELETE FROM schema_migrations WHERE identifier = 'v2-checks-without-lookup-tables'")
      #expect(try connection.textValue("SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%IN (''email''%'") == "1")
    }
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    #expect(try store.sign(signing("p", "bob@x.org", optIns: [.sms]), at: at(march1 + 1)).count == 2)
    let connection = try Connection(path: path)
    #expect(try connection.textValue("PRAGMA integrity_check") == "ok")
    #expect(
      try connection.textValue(
        "SELECT count(*) FROM sqlite_schema WHERE name IN ('signatures', 'consent_events') AND sql LIKE '% IN (%'")
        == "0")
    #expect(throws: SQLiteError.self) {
      try connection.execute(
        "INSERT INTO consent_events (person_key, channel, granted, at, via) VALUES ('x', 'fax', 1, 0, 'sign')")
    }
    #expect(throws: SQLiteError.self) {
      try connection.execute(
        "INSERT INTO consent_events (person_key, channel, granted, at, via) VALUES ('x', 'sms', 1, 0, 'mail')")
    }
    #expect(throws: SQLiteError.self) { try connection.execute("UPDATE signatures SET status = 'lost'") }
  }

  /// The fourth migration drops the index of consent events by petition from a store that has
  /// it; anonymisation still finds and removes the petition's consent, through its signers.
  @Test func consentEventsLoseTheirPetitionIndex() throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("events.sqlite3")
    do {
      let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
      _ = try store.createPetition(newPetition("p"), at: at(march1))
      _ = try store.sign(signing("p", "ada@x.org", optIns: [.email]), at: at(march1))
    }
    let index = "SELECT count(*) FROM sqlite_schema WHERE name = 'consent_events_by_petition'"
    do {
      let connection = try Connection(path: path)
      #expect(try connection.textValue(index) == "0")
      // As a store of the previous release has it.
      try connection.execute(
        """
        CREATE INDEX consent_events_by_petition ON consent_events (petition) WHERE petition IS NOT NULL;
        DELETE FROM schema_migrations WHERE identifier = 'v2-consent-events-without-petition-index';
        """)
    }
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    #expect(try Connection(path: path).textValue(index) == "0")
    _ = try store.sign(signing("p", "bob@x.org", optIns: [.sms]), at: at(march1 + 1))
    _ = try store.closePetition(id: "p", at: at(march1 + 2))
    _ = try store.anonymisePetition(id: "p", at: at(march1 + 3))
    #expect(try Connection(path: path).textValue("SELECT count(*) FROM consent_events") == "0")
    #expect(try Connection(path: path).textValue("PRAGMA integrity_check") == "ok")
  }

  /// The fifth migration drops AUTOINCREMENT from the signatures table (no sqlite_sequence page
  /// written per sign) and keeps its promise: the largest id ever given, from sqlite_sequence,
  /// becomes the floor of new ids.
  @Test func signaturesLoseAutoincrementAndKeepTheirFloor() throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("ids.sqlite3")
    do {
      let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
      _ = try store.createPetition(newPetition("p"), at: at(march1))
      #expect(try store.sign(signing("p", "ada@x.org"), at: at(march1)).signatureID == "sig_00000000001")
    }
    let schema = "SELECT sql FROM sqlite_schema WHERE name = 'signatures'"
    do {
      let connection = try Connection(path: path)
      #expect(try connection.textValue(schema)?.contains("AUTOINCREMENT") == false)
      // As a store of the previous release has it, whose ids went up to 10 (the newest ones
      // deleted since).
      let version = Int(try connection.textValue("PRAGMA schema_version") ?? "0") ?? 0
      try connection.execute(
        """
        PRAGMA writable_schema = ON;
        UPDATE sqlite_schema SET sql = replace(sql, 'id INTEGER PRIMARY KEY', 'id INTEGER PRIMARY KEY AUTOINCREMENT')
        WHERE name = 'signatures';
        PRAGMA schema_version = \(version + 1);
        PRAGMA writable_schema = OFF;
        INSERT INTO sqlite_sequence (name, seq) VALUES ('signatures', 10);
        DELETE FROM schema_migrations WHERE identifier = 'v2-signatures-without-autoincrement';
        """)
      #expect(try connection.textValue(schema)?.contains("AUTOINCREMENT") == true)
    }
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    let connection = try Connection(path: path)
    #expect(try connection.textValue(schema)?.contains("AUTOINCREMENT") == false)
    #expect(try connection.textValue("SELECT value FROM meta WHERE name = 'signature_id_floor'") == "10")
    #expect(try connection.textValue("SELECT count(*) FROM sqlite_sequence WHERE name = 'signatures'") == "0")
    #expect(try store.sign(signing("p", "bob@x.org"), at: at(march1 + 1)).signatureID == "sig_0000000000b")
    #expect(try store.sign(signing("p", "cy@x.org"), at: at(march1 + 2)).signatureID == "sig_0000000000c")
    #expect(try connection.textValue("PRAGMA integrity_check") == "ok")
  }
}
