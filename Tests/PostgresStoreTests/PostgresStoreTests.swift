import Foundation
import Petitions
import Testing

@testable import PostgresStore

@Suite("PostgreSQL store", postgresAvailable)
struct PostgresStoreTests {
  init() throws {
    guard TestDatabase.isAvailable else { throw SkipInfo() }
  }

  @Test func signDuplicateAndCount() throws {
    let store = try TestDatabase.store()
    _ = try store.createPetition(newPetition("p", goal: 2), at: at(march1))
    #expect(throws: StoreError.petitionAlreadyExists("p")) {
      try store.createPetition(newPetition("p"), at: at(march1))
    }
    let first = try store.sign(signing("p", "Ada@Example.org", comment: "first"), at: at(march1 + 1))
    #expect(first.isDuplicate == false && first.count == 1 && first.status == .confirmed && first.confirmToken == nil)
    let second = try store.sign(signing("p", "bob@example.org"), at: at(march1 + 2))
    #expect(second.count == 2 && second.signatureID > first.signatureID)
    let again = try store.sign(signing("p", "ada@example.org", firstName: "Adelaide"), at: at(march1 + 3))
    #expect(again == SignOutcome(signatureID: first.signatureID, petitionID: "p", isDuplicate: true, count: 2))
    let petition = try store.petition(id: "p")
    #expect(petition.count == 2 && petition.goalReachedAt == at(march1 + 2))
    #expect(try store.allRows("p", .delivery).map(\.firstName) == ["Ada", "Ada"])
    #expect(try store.allRows("p", .delivery).first?.comment == "first")
    #expect(throws: StoreError.petitionNotFound("q")) { try store.sign(signing("q", "a@b.org"), at: at(march1)) }
    _ = try store.closePetition(id: "p", at: at(march1 + 10))
    #expect(try store.closePetition(id: "p", at: at(march1 + 20)).closedAt == at(march1 + 10))
    #expect(throws: StoreError.petitionClosed("p")) { try store.sign(signing("p", "c@b.org"), at: at(march1 + 30)) }
    #expect(try store.petitions(status: .closed).map(\.id) == ["p"])
    #expect(try store.petitions(status: .open).isEmpty)
  }

  @Test func groupsAndWindows() throws {
    let store = try TestDatabase.store()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    try store.performWriteGroup {
      _ = try? store.sign(signing("p", "a@x.org", postalCode: "10001", source: "web"), at: at(march1 + 5))
      _ = try? store.sign(signing("p", "b@x.org", postalCode: "10001"), at: at(march1 + day + 5))
      _ = try? store.sign(
        signing("p", "c@x.org", postalCode: "SW1A", country: "GB", source: "mail"), at: at(march1 - 5))
    }
    func groups(_ grouping: CountGrouping, _ window: TimeWindow = TimeWindow()) throws -> [String] {
      try store.count(CountQuery(petitionID: "p", grouping: grouping, window: window)).groups!.map {
        "\($0.key)=\($0.count)"
      }
    }
    #expect(try groups(.day) == ["2026-02-28=1", "2026-03-01=1", "2026-03-02=1"])
    #expect(try groups(.postalCode) == ["10001=2", "SW1A=1"])
    #expect(try groups(.country) == ["GB=1", "US=2"])
    #expect(try groups(.source) == ["=1", "mail=1", "web=1"])
    let window = TimeWindow(since: at(march1), until: at(march1 + day + 5))
    #expect(try store.count(CountQuery(petitionID: "p", grouping: nil, window: window)).total == 1)
    #expect(try groups(.day, window) == ["2026-03-01=1"])
    #expect(try groups(.source, window) == ["web=1"])
  }

  @Test func confirmationByEmail() throws {
    let store = try TestDatabase.store()
    _ = try store.createPetition(newPetition("p", confirmation: .email), at: at(march1))
    let first = try store.sign(signing("p", "a@x.org", phone: "+12025550123", optIns: [.email]), at: at(march1 + 1))
    #expect(first.status == .pending && first.count == 0)
    let token1 = try #require(first.confirmToken)
    let again = try store.sign(signing("p", "a@x.org", optIns: [.sms]), at: at(march1 + 2))
    #expect(again.isDuplicate && again.status == .pending && again.signatureID == first.signatureID)
    let token2 = try #require(again.confirmToken)
    #expect(token1 != token2)
    #expect(throws: StoreError.tokenUnknown) { try store.confirm(tokenHash: "hash-of-" + token1, at: at(march1 + 3)) }
    #expect(try store.petition(id: "p").pending == 1)
    let confirmed = try store.confirm(tokenHash: "hash-of-" + token2, at: at(march1 + 4))
    #expect(confirmed == ConfirmOutcome(signatureID: first.signatureID, petitionID: "p", status: .confirmed, count: 1))
    #expect(try store.confirm(tokenHash: "hash-of-" + token2, at: at(march1 + 5)) == confirmed)
    let events = try store.consentHistory(.canonicalEmail("a@x.org"))
    #expect(events.map(\.channel) == [.email, .sms] && events.allSatisfy { $0.via == .confirm && $0.granted })
    #expect(events.last?.number == "+12025550123")
    let row = try #require(try store.allRows("p", .contacts).first)
    #expect(row.optInEmail && row.optInSms && !row.optInPhone)
    // Closed more than a day ago: too late.
    let late = try store.sign(signing("p", "b@x.org"), at: at(march1 + 6))
    _ = try store.closePetition(id: "p", at: at(march1 + 7))
    #expect(throws: StoreError.petitionClosed("p")) {
      try store.confirm(tokenHash: "hash-of-" + late.confirmToken!, at: at(march1 + 8 + confirmationGraceMilliseconds))
    }
    #expect(try store.confirm(tokenHash: "hash-of-" + late.confirmToken!, at: at(march1 + 8)).count == 2)
  }

  @Test func invalidateAndRevalidate() throws {
    let store = try TestDatabase.store()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    let a = try store.sign(signing("p", "a@x.org", postalCode: "11111"), at: at(march1 + 1))
    _ = try store.sign(signing("p", "b@x.org", postalCode: "11111", source: "bot"), at: at(march1 + 2))
    _ = try store.sign(signing("p", "c@x.org", postalCode: "22222", source: "bot"), at: at(march1 + 3))
    let match = InvalidationMatch(postalCode: "11111")
    let dry = try store.invalidate(
      Invalidation(petitionID: "p", reason: "r", match: match, matchDescription: "{}", dryRun: true), at: at(march1 + 4)
    )
    #expect(dry == InvalidationOutcome(invalidationID: nil, invalidated: 2, count: 3))
    let done = try store.invalidate(
      Invalidation(
        petitionID: "p", reason: "fraud", match: match, matchDescription: "{\"postalCode\":\"11111\"}", dryRun: false),
      at: at(march1 + 5))
    #expect(done.invalidated == 2 && done.count == 1)
    let id = try #require(done.invalidationID)
    #expect(
      try store.count(CountQuery(petitionID: "p", grouping: .postalCode, window: TimeWindow())).groups!.map(\.key) == [
        "22222"
      ])
    let dup = try store.sign(signing("p", "a@x.org"), at: at(march1 + 6))
    #expect(dup.isDuplicate && dup.status == .invalidated && dup.signatureID == a.signatureID)
    let partial = try store.revalidate(petitionID: "p", .signatures([a.signatureID]), at: at(march1 + 7))
    #expect(partial == RevalidationOutcome(revalidated: 1, count: 2))
    var records = try store.invalidations(petitionID: "p")
    #expect(
      records.count == 1 && records[0].invalidationID == id && records[0].revalidated == 1
        && records[0].invalidated == 2)
    #expect(records[0].matchDescription == "{\"postalCode\":\"11111\"}")
    let rest = try store.revalidate(petitionID: "p", .invalidation(id), at: at(march1 + 8))
    #expect(rest == RevalidationOutcome(revalidated: 1, count: 3))
    records = try store.invalidations(petitionID: "p")
    #expect(records[0].revalidated == 2)
    #expect(throws: StoreError.invalidationNotFound("inv_999")) {
      try store.revalidate(petitionID: "p", .invalidation("inv_999"), at: at(march1 + 9))
    }
    let bySource = try store.invalidate(
      Invalidation(
        petitionID: "p", reason: "bot",
        match: InvalidationMatch(source: "bot", window: TimeWindow(since: at(march1 + 3))),
        matchDescription: "{}", dryRun: false), at: at(march1 + 10))
    #expect(bySource.invalidated == 1 && bySource.count == 2)
    #expect(try store.petition(id: "p").invalidated == 1)
  }

  @Test func unsubscribeSuppressesImportGrants() throws {
    let store = try TestDatabase.store()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    _ = try store.sign(signing("p", "a@x.org", phone: "+12025550123", optIns: [.email, .phone]), at: at(march1 + 1))
    #expect(try store.allRows("p", .contacts).count == 1)
    try store.unsubscribe(Unsubscription(subject: .canonicalEmail("a@x.org"), channels: [.email]), at: at(march1 + 2))
    var row = try #require(try store.allRows("p", .contacts).first)
    #expect(!row.optInEmail && row.optInPhone)
    try store.unsubscribe(
      Unsubscription(subject: .phone("+12025550123"), channels: [.phone, .sms]), at: at(march1 + 3))
    #expect(try store.allRows("p", .contacts).isEmpty)
    // An import cannot grant a suppressed channel; it records a withholding.
    let imported = ImportedSigning(
      petitionID: "q", signer: signing("q", "a@x.org", phone: "+12025550123").signer, comment: nil, source: "csv",
      signedAt: at(march1 + 4), optIns: [.email: true, .sms: false])
    #expect(try store.importSignature(imported, at: at(march1 + 5)) == .imported)
    #expect(try store.importSignature(imported, at: at(march1 + 5)) == .duplicate)
    #expect(try store.allRows("q", .contacts).isEmpty)
    // An unknown person's import is granted.
    var other = imported
    other.signer = signing("q", "new@x.org").signer
    #expect(try store.importSignature(other, at: at(march1 + 6)) == .imported)
    #expect(try store.allRows("q", .contacts).map(\.email) == ["new@x.org"])
    // A sign with an explicit opt-in lifts the suppression: a later import may grant again.
    _ = try store.sign(signing("p", "a@x.org", optIns: [.email]), at: at(march1 + 7))
    row = try #require(try store.allRows("p", .contacts).first)
    #expect(row.optInEmail)
    let history = try store.consentHistory(.canonicalEmail("a@x.org"))
    #expect(history.map(\.via) == [.sign, .sign, .unsubscribe, .unsubscribe, .unsubscribe, .import, .sign])
    #expect(try store.consentHistory(.phone("+12025550123")).map(\.channel) == [.phone, .phone, .sms, .sms])
    #expect(try store.consentHistory(.canonicalEmail("nobody@x.org")).isEmpty)
    // Unsubscribing someone unknown stores no event for them.
    try store.unsubscribe(
      Unsubscription(subject: .canonicalEmail("ghost@x.org"), channels: [.email]), at: at(march1 + 8))
    #expect(try store.consentHistory(.canonicalEmail("ghost@x.org")).isEmpty)
    var ghost = imported
    ghost.signer = signing("q", "ghost@x.org").signer
    _ = try store.importSignature(ghost, at: at(march1 + 9))
    // a@x.org opted in again by signing p: consent belongs to the person, so q exports them too.
    #expect(try store.allRows("q", .contacts).map(\.email) == ["a@x.org", "new@x.org"])
  }

  /// A write group's signs go to the database together (pipelined) and each is answered as if
  /// alone: counts run on through the batch, the same person twice is a duplicate, a closed
  /// petition in the middle fails alone, a petition whose goal is not reached yet is signed one
  /// at a time so the goal's moment stays exact, pending signatures get their tokens.
  @Test func signManyAnswersEachAsAlone() throws {
    let store = try TestDatabase.store()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("g", goal: 2), at: at(march1))
    _ = try store.createPetition(newPetition("e", confirmation: .email), at: at(march1))
    _ = try store.createPetition(newPetition("shut"), at: at(march1))
    _ = try store.closePetition(id: "shut", at: at(march1))
    _ = try store.sign(signing("p", "zed@x.org"), at: at(march1 + 1))
    var outcomes: [Result<SignOutcome, StoreError>] = []
    var tokens = 0
    try store.performWriteGroup {
      outcomes = store.signMany(
        [
          signing("p", "a@x.org"), signing("p", "b@x.org"), signing("p", "A@x.org"), signing("shut", "a@x.org"),
          signing("p", "c@x.org"), signing("g", "a@x.org"), signing("g", "b@x.org"), signing("e", "a@x.org"),
          signing("e", "b@x.org"), signing("p", "nope@x.org"), signing("nope", "a@x.org"),
        ], at: at(march1 + 5)
      ) {
        tokens += 1
        return ConfirmationToken(token: "token-\(tokens)", hash: "hash-\(tokens)")
      }
    }
    let counts = outcomes.map { (try? $0.get())?.count ?? -1 }
    #expect(counts == [2, 3, 3, -1, 4, 1, 2, 0, 0, 5, -1])
    // The first five (into p and the closed petition) went as one batch, refused as a whole for
    // the closed petition, then one at a time.
    #expect(store.signsSentInBatches == 0)
    #expect(
      outcomes.map { (try? $0.get())?.isDuplicate ?? false } == [
        false, false, true, false, false, false, false, false, false, false, false,
      ])
    #expect(throws: StoreError.petitionClosed("shut")) { try outcomes[3].get() }
    #expect(throws: StoreError.petitionNotFound("nope")) { try outcomes[10].get() }
    #expect(
      tokens == 2 && (try? outcomes[7].get())?.confirmToken != nil && (try? outcomes[7].get())?.status == .pending)
    #expect(try store.total("p") == 5 && store.petition(id: "e").pending == 2)
    #expect(try store.petition(id: "g").goalReachedAt == at(march1 + 5))
    #expect(
      try store.count(CountQuery(petitionID: "p", grouping: .postalCode, window: TimeWindow())).groups?.first?.count
        == 5)
  }

  /// Signs into a petition without confirmation go as one `sign_batch` call; into a petition
  /// closed by another process after this one learnt it was open, the batch writes nothing and
  /// each of its signs is refused alone.
  @Test func batchIntoPetitionClosedElsewhere() throws {
    let schema = TestDatabase.freshSchema("closed")
    let store = try TestDatabase.store(schema: schema)
    let other = try TestDatabase.store(schema: schema)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    func signTogether(_ emails: [String], at time: Int64) throws -> [Result<SignOutcome, StoreError>] {
      var outcomes: [Result<SignOutcome, StoreError>] = []
      try store.performWriteGroup {
        outcomes = store.signMany(emails.map { signing("p", $0) }, at: at(time)) {
          ConfirmationToken(token: "t", hash: "h")
        }
      }
      return outcomes
    }
    let signed = try signTogether(["a@x.org", "b@x.org", "a@x.org"], at: march1 + 1)
    #expect(signed.map { (try? $0.get())?.count ?? -1 } == [1, 2, 2])
    #expect(store.signsSentInBatches == 3)
    _ = try other.closePetition(id: "p", at: at(march1 + 2))
    for outcome in try signTogether(["c@x.org", "d@x.org"], at: march1 + 3) {
      #expect(throws: StoreError.petitionClosed("p")) { try outcome.get() }
    }
    #expect(store.signsSentInBatches == 3)
    #expect(try store.total("p") == 2 && other.total("p") == 2)
  }

  /// Each connection claims one counter slot of its own: one session advisory lock, the first
  /// free slot; a connection that closes frees its slot for the next.
  @Test func eachConnectionHoldsOneSlot() throws {
    let schema = TestDatabase.freshSchema("slots")
    var stores = try (0..<3).map { _ in try TestDatabase.store(schema: schema) }
    func slotLocks(_ store: PostgresStore) throws -> Int {
      let result = try store.connection.query(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
      return result.int(0, 0)
    }
    func slot(_ store: PostgresStore) throws -> String {
      try store.connection.query("SELECT current_setting('petition_rpc.slot')").string(0, 0)
    }
    for store in stores { #expect(try slotLocks(store) == 1) }
    #expect(try stores.map(slot) == ["1", "2", "3"])
    stores.remove(at: 1)
    let next = try TestDatabase.store(schema: schema)
    #expect(try slot(next) == "2")
    #expect(try slotLocks(next) == 1)
  }

  /// A group stopped after it created a petition and signed into it leaves no trace in the
  /// store's memory: when the group runs again, the petition is created anew (a new key) and
  /// the signs go into that one. (The key learnt in the rolled-back attempt was kept: every sign
  /// of the second attempt failed a foreign key, and with it the whole group, -32000.)
  @Test func groupRunAgainAfterAStopForgetsWhatItLearnt() throws {
    let token = { ConfirmationToken(token: "t", hash: "h") }
    let schema = TestDatabase.freshSchema("again")
    let store = try TestDatabase.store(schema: schema)
    let other = try TestDatabase.store(schema: schema)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    let key = try TestDatabase.psql("SELECT pk FROM \(schema).petitions WHERE id = 'p'")
    try other.connection.execute("BEGIN")
    try other.connection.execute("SELECT pg_advisory_xact_lock(1886352498, \(key))")
    let started = Date()
    #expect(throws: StoreError.interrupted) {
      try store.performWriteGroup(stopIf: { Date().timeIntervalSince(started) > 0.3 }) {
        _ = try? store.createPetition(newPetition("n"), at: at(march1 + 1))
        // Signs go to the store together (signMany), which looks up and remembers n's key.
        _ = store.signMany([signing("n", "a@x.org"), signing("n", "c@x.org")], at: at(march1 + 2), newToken: token)
        _ = try? store.sign(signing("p", "b@x.org"), at: at(march1 + 2))
      }
    }
    try other.connection.execute("ROLLBACK")
    var outcomes: [Result<SignOutcome, StoreError>] = []
    try store.performWriteGroup {
      #expect(throws: Never.self) { _ = try store.createPetition(newPetition("n"), at: at(march1 + 3)) }
      outcomes = store.signMany(
        [signing("n", "a@x.org"), signing("n", "c@x.org")], at: at(march1 + 4), newToken: token)
    }
    #expect(outcomes.allSatisfy { (try? $0.get()) != nil }, "\(outcomes)")
    #expect(try store.total("n") == 2)
    #expect(try store.total("p") == 0)
  }

  /// A write group waiting for a lock another process holds (the petition's, taken by a group
  /// signing into it) ends when `stopIf` says so: the statement is cancelled on the server,
  /// the group throws `interrupted`, nothing of it is written, and the store serves on.
  @Test func stoppedGroupEndsItsWaitForALock() throws {
    let schema = TestDatabase.freshSchema("stop")
    let store = try TestDatabase.store(schema: schema)
    let other = try TestDatabase.store(schema: schema)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    let key = try TestDatabase.psql("SELECT pk FROM \(schema).petitions WHERE id = 'p'")
    try other.connection.execute("BEGIN")
    try other.connection.execute("SELECT pg_advisory_xact_lock(1886352498, \(key))")
    let started = Date()
    var asked = 0
    #expect(throws: StoreError.interrupted) {
      try store.performWriteGroup(
        stopIf: {
          asked += 1
          return Date().timeIntervalSince(started) > 0.3
        }
      ) {
        _ = try? store.sign(signing("p", "a@x.org"), at: at(march1 + 1))
      }
    }
    let waited = Date().timeIntervalSince(started)
    #expect(waited > 0.3 && waited < 2, "waited \(waited) s (the lock timeout is 5 s)")
    #expect(asked > 0)
    try other.connection.execute("ROLLBACK")
    #expect(try store.total("p") == 0)
    _ = try store.sign(signing("p", "a@x.org"), at: at(march1 + 2))
    #expect(try store.total("p") == 1)
  }

  @Test func eraseAndAnonymise() throws {
    let store = try TestDatabase.store()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("q", confirmation: .email), at: at(march1))
    _ = try store.sign(signing("p", "a@x.org", phone: "+12025550123", optIns: [.email]), at: at(march1 + 1))
    _ = try store.sign(signing("p", "b@x.org", phone: "+12025550123"), at: at(march1 + 2))
    _ = try store.sign(signing("p", "c@x.org", optIns: [.email]), at: at(march1 + 3))
    #expect(try store.erase(.phone("+12025550123"), at: at(march1 + 4)) == 2)
    #expect(try store.total("p") == 3)
    #expect(try store.allRows("p", .delivery).count == 1)
    #expect(try store.consentHistory(.canonicalEmail("a@x.org")).isEmpty)
    // Erased signatures no longer block signing again.
    let again = try store.sign(signing("p", "a@x.org"), at: at(march1 + 5))
    #expect(!again.isDuplicate && again.count == 4)

    _ = try store.sign(signing("q", "c@x.org"), at: at(march1 + 6))
    #expect(throws: StoreError.petitionOpen("p")) { try store.anonymisePetition(id: "p", at: at(march1 + 7)) }
    _ = try store.closePetition(id: "p", at: at(march1 + 8))
    _ = try store.closePetition(id: "q", at: at(march1 + 8))
    let anonymised = try store.anonymisePetition(id: "p", at: at(march1 + 9))
    #expect(anonymised.anonymisedAt == at(march1 + 9) && anonymised.count == 4)
    #expect(try store.anonymisePetition(id: "p", at: at(march1 + 10)) == anonymised)
    #expect(throws: StoreError.petitionAnonymised("p")) { try store.allRows("p", .delivery) }
    #expect(try store.consentHistory(.canonicalEmail("c@x.org")).isEmpty)
    #expect(
      try store.count(CountQuery(petitionID: "p", grouping: .postalCode, window: TimeWindow())).groups!.map(\.count)
        == [4])
    let q = try store.anonymisePetition(id: "q", at: at(march1 + 11))
    #expect(q.pending == 0 && q.count == 0)
  }

  @Test func writeGroupRollsBackOnlyOnStoreFailure() throws {
    let store = try TestDatabase.store()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    var failures: [StoreError] = []
    try store.performWriteGroup {
      _ = try? store.sign(signing("p", "a@x.org"), at: at(march1 + 1))
      do { _ = try store.sign(signing("nope", "a@x.org"), at: at(march1 + 1)) } catch {
        failures.append(error as? StoreError ?? .interrupted)
      }
      _ = try? store.sign(signing("p", "b@x.org"), at: at(march1 + 2))
    }
    #expect(failures == [.petitionNotFound("nope")])
    #expect(try store.total("p") == 2)
  }

  @Test func exportPagesAndCursor() throws {
    let store = try TestDatabase.store()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    try store.performWriteGroup {
      for index in 0..<4500 {
        _ = try? store.sign(signing("p", "p\(index)@x.org"), at: at(march1 + Int64(index / 3)))
      }
    }
    let all = try store.allRows("p", .delivery)
    #expect(all.count == 4500)
    #expect(zip(all, all.dropFirst()).allSatisfy { ($0.signedAt, $0.signatureID) < ($1.signedAt, $1.signatureID) })
    var paged: [ExportRow] = []
    var after: ExportPosition?
    repeat {
      var page: [ExportRow] = []
      try store.exportRows(
        ExportQuery(petitionID: "p", audience: .delivery, window: TimeWindow(), after: after, limit: 1000)
      ) {
        page.append($0)
        return true
      }
      paged += page
      after =
        page.count == 1000 ? ExportPosition(signedAt: page.last!.signedAt, signatureID: page.last!.signatureID) : nil
    } while after != nil
    #expect(paged == all)
    #expect(
      try store.exportRowCount(
        ExportQuery(petitionID: "p", audience: .delivery, window: TimeWindow(), after: nil, limit: nil)) == 4500)
    var stopped = 0
    try store.exportRows(
      ExportQuery(petitionID: "p", audience: .delivery, window: TimeWindow(), after: nil, limit: nil)
    ) { _ in
      stopped += 1
      return stopped < 10
    }
    #expect(stopped == 10)
    #expect(try store.total("p") == 4500)
  }

  /// Several stores opening one new schema at once migrate it once.
  @Test func concurrentMigration() async throws {
    let schema = TestDatabase.freshSchema("mig")
    try await withThrowingTaskGroup(of: Void.self) { group in
      for _ in 0..<6 {
        group.addTask { _ = try TestDatabase.store(schema: schema) }
      }
      try await group.waitForAll()
    }
    // Each migration applied once (a second application would fail on its CREATE statements).
    #expect(
      try TestDatabase.psql("SELECT count(*) FROM \(schema).schema_migrations") == String(Schema.migrations.count))
  }

  /// A store made before hourly counts existed (schema version 2) gets them from its rows when
  /// a newer petition-rpc opens it, and windowed counts answer from them (edges from rows).
  @Test func hourlyCountsMigrateFromRows() throws {
    let schema = TestDatabase.freshSchema("hourly")
    let hour: Int64 = 3_600_000
    do {
      let store = try TestDatabase.store(schema: schema)
      _ = try store.createPetition(newPetition("p"), at: at(march1))
      for index in 0..<30 {
        _ = try store.sign(
          signing("p", "s\(index)@x.org", postalCode: index % 2 == 0 ? "11111" : "22222"),
          at: at(march1 + Int64(index) * hour / 3))
      }
    }
    _ = try TestDatabase.psql(
      """
      DROP TABLE \(schema).hourly_counts; DROP FUNCTION \(schema).hourly_counts_from_rows();
      DROP FUNCTION \(schema).hour_number(bigint) CASCADE;
      DROP FUNCTION \(schema).import_batch;
      DELETE FROM \(schema).schema_migrations WHERE version >= 3
      """)
    let store = try TestDatabase.store(schema: schema)
    #expect(try TestDatabase.psql("SELECT sum(n) FROM \(schema).hourly_counts WHERE dimension = 0") == "30")
    // Signs at 0, 20, 40, ... minutes: [1h10m, 6h) holds the signs at 1h20m ... 5h40m.
    let window = TimeWindow(since: at(march1 + hour + hour / 6), until: at(march1 + 6 * hour))
    #expect(try store.count(CountQuery(petitionID: "p", grouping: nil, window: window)).total == 14)
    let groups = try store.count(CountQuery(petitionID: "p", grouping: .postalCode, window: window)).groups
    #expect(groups?.map(\.count) == [7, 7])
    // New signs are added to the hourly counts as to the others.
    _ = try store.sign(signing("p", "new@x.org"), at: at(march1 + 2 * hour))
    #expect(try store.count(CountQuery(petitionID: "p", grouping: nil, window: window)).total == 15)
  }

  /// Migrations 5 and 6: a version-4 store keeps two fewer indexes on signatures (one per person with
  /// the person first, tokens only where present), and one signature per person and
  /// confirmation by token still hold.
  @Test func signatureIndexesMigrate() throws {
    let schema = TestDatabase.freshSchema("indexes")
    do {
      let store = try TestDatabase.store(schema: schema)
      _ = try store.createPetition(newPetition("p"), at: at(march1))
      _ = try store.createPetition(newPetition("e", confirmation: .email), at: at(march1))
      _ = try store.sign(signing("p", "a@x.org"), at: at(march1 + 1))
    }
    _ = try TestDatabase.psql(
      """
      SET search_path TO \(schema);
      DROP INDEX signatures_one_per_person; DROP INDEX signatures_by_token;
      ALTER TABLE signatures ADD CONSTRAINT signatures_petition_person_key_key UNIQUE (petition, person_key),
        ADD CONSTRAINT signatures_token_hash_key UNIQUE (token_hash);
      CREATE INDEX signatures_by_person ON signatures (person_key) WHERE person_key IS NOT NULL;
      CREATE INDEX consent_by_petition ON consent_events (petition) WHERE petition IS NOT NULL;
      DELETE FROM schema_migrations WHERE version >= 5
      """)
    let indexes = """
      SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes
      WHERE schemaname = '\(schema)' AND tablename = 'signatures'
      """
    #expect(try TestDatabase.psql(indexes).contains("signatures_by_person"))
    let store = try TestDatabase.store(schema: schema)
    #expect(
      try TestDatabase.psql(indexes)
        == "signatures_by_phone,signatures_by_time,signatures_by_token,signatures_one_per_person,signatures_pkey")
    // Migration 6: consent events are no longer indexed by petition.
    #expect(
      try TestDatabase.psql(
        "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = '\(schema)' AND tablename = 'consent_events'"
      ) == "consent_by_number,consent_by_person,consent_events_pkey")
    #expect(try store.sign(signing("p", "A@x.org"), at: at(march1 + 2)).isDuplicate)
    #expect(try store.total("p") == 1)
    let pending = try store.sign(signing("e", "a@x.org"), at: at(march1 + 3)) {
      ConfirmationToken(token: "t", hash: "hash-1")
    }
    #expect(pending.status == .pending)
    #expect(try store.confirm(tokenHash: "hash-1", at: at(march1 + 4)).status == .confirmed)
    #expect(try store.total("e") == 1)
  }

  /// A connection ended by the server: the operation fails as unavailable, the next one
  /// connects again.
  @Test func reconnectsAfterLostConnection() throws {
    let schema = TestDatabase.freshSchema("lost")
    let store = try TestDatabase.store(schema: schema)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try TestDatabase.psql("SELECT pg_terminate_backend(\(store.connection.backendPID))")
    var sawUnavailable = false
    do {
      _ = try store.sign(signing("p", "a@x.org"), at: at(march1 + 1))
    } catch {
      if case .unavailable = error { sawUnavailable = true }
    }
    #expect(sawUnavailable)
    #expect(try store.sign(signing("p", "a@x.org"), at: at(march1 + 2)).count == 1)
  }

  /// The text array literals that carry a batch's values reach the database unchanged:
  /// quotes, backslashes, commas, braces, line breaks, non-ASCII, the word NULL and a real null.
  @Test func arrayLiteralsRoundTrip() throws {
    let store = try TestDatabase.store()
    let values: [String?] = [
      "plain", "a \"quoted\" word", "back\\slash", "comma, {brace}", "line\nbreak", "Zoë Ångström 🙂", "NULL", nil,
      "", " spaced ",
    ]
    let result = try store.connection.query(
      "SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS u (v, n) ORDER BY n", [PostgresStore.arrayLiteral(values)])
    #expect((0..<result.rowCount).map { result.optionalString($0, 0) } == values)
  }

  @Test func redactsPasswords() {
    #expect(
      PostgresStore.redacted("postgresql://ann:s3cret@db.example:5432/petitions")
        == "postgresql://ann@db.example:5432/petitions")
    #expect(
      PostgresStore.redacted("postgres://h/db?user=x&password=s3cret&sslmode=require")
        == "postgres://h/db?user=x&password=***&sslmode=require")
    #expect(!PostgresStore.redacted("postgresql://a:p%40ss@h/db").contains("p%40ss"))
    // libpq percent-decodes query keys: %70assword is a password (it was printed whole).
    let encoded = "postgresql://u@/db?host=/tmp&%70assword=S3cretPw%21zz&port=5"
    #expect(PostgresStore.redacted(encoded) == "postgresql://u@/db?host=/tmp&%70assword=***&port=5")
    #expect(PostgresStore.withoutSecrets("x S3cretPw!zz y S3cretPw%21zz", of: encoded) == "x *** y ***")
    // Schemes are case-insensitive: an upper-case one is PostgreSQL (it was taken for a file
    // name, printed with its password), passed on to libpq in lower case.
    #expect(PostgresStore.isPostgresLocation("POSTGRESQL://u:pw@h/db"))
    #expect(PostgresStore.normalisedLocation("PostgreS://u:pw@h/db") == "postgres://u:pw@h/db")
    #expect(!PostgresStore.isPostgresLocation("postgres.sqlite3"))
    // The client key's password too, and any URI quoted inside a message (an argument parser's
    // "Unexpected argument '...'" printed it whole).
    #expect(PostgresStore.redacted("postgresql://h/db?sslpassword=Zq9&x=1") == "postgresql://h/db?sslpassword=***&x=1")
    #expect(
      PostgresStore.redactingURIs(in: "Error: Unexpected argument 'postgresql://a:Pw0rd@/db?host=/x'")
        == "Error: Unexpected argument 'postgresql://a@/db?host=/x'")
    #expect(
      PostgresStore.redactingURIs(in: "cannot open postgres://h/d?password=Pw0rd: refused")
        == "cannot open postgres://h/d?password=***: refused")
  }

  /// libpq quotes what it could not read of a connection string: its messages lose the password.
  @Test func libpqMessagesLoseThePassword() {
    let uri = "postgresql://u:Pw@Secret@127.0.0.1:1/db"
    #expect(
      PostgresStore.withoutSecrets("could not translate host name \"Secret@127.0.0.1\" to address", of: uri)
        == "could not translate host name \"***\" to address")
    #expect(
      PostgresStore.withoutSecrets(
        "invalid percent-encoded token: \"Sec%ZZret\"", of: "postgresql://u@127.0.0.1:1/db?password=Sec%ZZret")
        == "invalid percent-encoded token: \"***\"")
    let ipv6 = "postgresql://[::1:1/db?password=BrokenSecret"
    #expect(!PostgresStore.withoutSecrets("invalid IPv6 host address in URI: \"\(ipv6)\"", of: ipv6).contains("Secret"))
    #expect(
      !PostgresStore.withoutSecrets("bad \"p@ss\" here", of: "postgresql://a:p%40ss@h/db").contains("p@ss"))
    // Messages without the password are kept as they are.
    #expect(
      PostgresStore.withoutSecrets("could not translate host name \"db.example\" to address", of: uri)
        == "could not translate host name \"db.example\" to address")
  }
}
