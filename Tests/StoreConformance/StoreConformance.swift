import Petitions
import Testing

/// The rules of the contract's Data and Methods sections that every `PetitionStore` keeps,
/// as cases parameterised by a store factory (SQLite and PostgreSQL run the same).
public enum StoreConformance {
  public static let cases: [ConformanceCase] = [
    ConformanceCase("petitions: create, get, list, close, v2 fields", petitions),
    ConformanceCase("sign: one signature per person, duplicates keep the first", signAndDuplicate),
    ConformanceCase("sign: closed and unknown petitions write nothing", signRefused),
    ConformanceCase("confirm: pending until confirmed, tokens, same answer again", confirmation),
    ConformanceCase("confirm: a repeat sign retires the old token; opt-ins recorded at confirm", repeatSignOfPending),
    ConformanceCase("confirm: 24 hours of grace after the close", confirmationGrace),
    ConformanceCase("goalReachedAt: first time the count reaches the goal, kept after", goalReached),
    ConformanceCase("count: windows and groups of confirmed signatures", counts),
    ConformanceCase("consent: events from sign, newest wins, history by email and phone", consentEvents),
    ConformanceCase("consent: a grant does not outrank an event dated after it", futureDatedConsent),
    ConformanceCase("unsubscribe: by email and by phone, suppression, opt-in lifts it", unsubscribeAndSuppression),
    ConformanceCase("import: confirmed at the row's time, duplicates, consent, suppression, re-run", importRows),
    ConformanceCase("import: rows taken together answer and record as one at a time", importRowsTogether),
    ConformanceCase("invalidate: conditions ANDed, dry run, records, status kept, place kept", invalidation),
    ConformanceCase("revalidate: whole or some, prior status back, unknown invalidation", revalidation),
    ConformanceCase("erase: signer data and consent gone, counts stay, signing again", erasure),
    ConformanceCase("erase by phone: every person with the number", erasureByPhone),
    ConformanceCase("anonymise: closed only, pending deleted, consent through it gone", anonymisation),
    ConformanceCase("anonymise: the id of a deleted pending signature is never given again", idsAfterAnonymising),
    ConformanceCase(
      "anonymise: an invalidated pending signature is not revalidated to pending", revalidateAfterAnonymising),
    ConformanceCase("write groups: a refused operation does not affect the others", writeGroups),
    ConformanceCase("write groups: signs taken together answer and record as if alone", signsTakenTogether),
    ConformanceCase("write groups: signatures invalidated and revalidated where they were signed", invalidatedInGroup),
    ConformanceCase("write groups: a suppression added by the group holds for its later rows", suppressionInGroup),
    ConformanceCase("import: rows without a time of their own, imported again", importWithoutOwnTime),
    ConformanceCase("aggregates: exact after a random mix of every operation", randomMix),
  ]

  // MARK: Petitions

  static func petitions(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    let created = try store.createPetition(newPetition("p", goal: 2, confirmation: .email), at: at(march1))
    #expect(created.confirmation == .email && created.count == 0 && created.pending == 0 && created.invalidated == 0)
    #expect(created.goalReachedAt == nil && created.anonymisedAt == nil && created.closedAt == nil)
    #expect(try store.petition(id: "p") == created)
    _ = try store.createPetition(newPetition("q"), at: at(march1 + 1))
    #expect(try store.petition(id: "q").confirmation == ConfirmationMode.none)
    #expect(
      storeError { () throws(StoreError) in try store.createPetition(newPetition("p"), at: at(march1)) }
        == .petitionAlreadyExists("p"))
    #expect(storeError { () throws(StoreError) in try store.petition(id: "x") } == .petitionNotFound("x"))
    let closed = try store.closePetition(id: "q", at: at(march1 + 2))
    #expect(closed.status == .closed && closed.closedAt == at(march1 + 2))
    #expect(try store.closePetition(id: "q", at: at(march1 + 3)) == closed)
    #expect(try store.petitions(status: nil).map(\.id) == ["p", "q"])
    #expect(try store.petitions(status: .open).map(\.id) == ["p"])
    #expect(try store.petitions(status: .closed).map(\.id) == ["q"])
  }

  // MARK: Sign

  static func signAndDuplicate(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    let first = try store.sign(signing("p", "Ada.L+x@Example.org", comment: "first"), at: march1 + 1)
    #expect(!first.isDuplicate && first.count == 1 && first.status == .confirmed && first.confirmToken == nil)
    let again = try store.sign(signing("p", "ada.l@example.org", firstName: "Adelaide", comment: "2nd"), at: march1 + 2)
    #expect(again == SignOutcome(signatureID: first.signatureID, petitionID: "p", isDuplicate: true, count: 1))
    let rows = try store.rows("p", .delivery)
    #expect(rows.map(\.firstName) == ["Ada"] && rows.map(\.comment) == ["first"])
    #expect(rows.first?.email == nil && rows.first?.phone == nil)
    #expect(try store.petition(id: "p").count == 1)
  }

  static func signRefused(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.closePetition(id: "p", at: at(march1 + 1))
    #expect(
      storeError { () throws(StoreError) in try store.sign(signing("p", "a@x.org", optIns: [.email]), at: march1 + 2) }
        == .petitionClosed("p"))
    #expect(
      storeError { () throws(StoreError) in try store.sign(signing("n", "a@x.org", optIns: [.email]), at: march1 + 2) }
        == .petitionNotFound("n"))
    #expect(try store.history(email: "a@x.org").isEmpty)
    #expect(try store.total("p") == 0)
  }

  // MARK: Confirm

  static func confirmation(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    let tokens = Tokens()
    _ = try store.createPetition(newPetition("p", confirmation: .email), at: at(march1))
    let pending = try store.sign(signing("p", "ada@x.org", source: "web"), at: march1 + 1, tokens: tokens)
    #expect(pending.status == .pending && pending.count == 0 && pending.confirmToken == tokens.given.last)
    #expect(try store.petition(id: "p").pending == 1)
    #expect(try store.total("p") == 0)
    #expect(try store.groups("p", .source) == [])
    #expect(try store.groups("p", .day, since: march1) == [])
    #expect(try store.rows("p", .delivery).isEmpty)

    #expect(storeError { () throws(StoreError) in try store.confirm("nope", at: march1 + 2) } == .tokenUnknown)
    let confirmed = try store.confirm(pending.confirmToken, at: march1 + 2)
    #expect(
      confirmed == ConfirmOutcome(signatureID: pending.signatureID, petitionID: "p", status: .confirmed, count: 1))
    #expect(try store.confirm(pending.confirmToken, at: march1 + 3) == confirmed)
    let petition = try store.petition(id: "p")
    #expect(petition.count == 1 && petition.pending == 0)
    #expect(try store.groups("p", .source) == ["web=1"])
    #expect(try store.groups("p", .day, since: march1, until: march1 + 5) == ["2026-03-01=1"])
    #expect(try store.rows("p", .delivery).map(\.signatureID) == [pending.signatureID])
    // A duplicate of a confirmed signature gets no token.
    let duplicate = try store.sign(signing("p", "ada@x.org"), at: march1 + 4, tokens: tokens)
    #expect(duplicate.isDuplicate && duplicate.status == .confirmed && duplicate.confirmToken == nil)

    // Invalidated meanwhile: stays invalidated, and says so.
    let bob = try store.sign(signing("p", "bob@x.org"), at: march1 + 5, tokens: tokens)
    _ = try store.invalidate(
      Invalidation(
        petitionID: "p", reason: "fraud", match: InvalidationMatch(signatureIDs: [bob.signatureID]),
        matchDescription: "{}", dryRun: false), at: at(march1 + 6))
    let late = try store.confirm(bob.confirmToken, at: march1 + 7)
    #expect(late.status == .invalidated && late.count == 1)
    #expect(try store.petition(id: "p").invalidated == 1)
    #expect(try store.petition(id: "p").pending == 0)
  }

  static func repeatSignOfPending(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    let tokens = Tokens()
    _ = try store.createPetition(newPetition("p", confirmation: .email), at: at(march1))
    let first = try store.sign(signing("p", "ada@x.org", phone: "+12025550100"), at: march1 + 1, tokens: tokens)
    let second = try store.sign(
      signing("p", "ADA@x.org", phone: "+12025550100", optIns: [.email, .sms], source: "mail", notice: "n1"),
      at: march1 + 2, tokens: tokens)
    #expect(second.isDuplicate && second.status == .pending && second.signatureID == first.signatureID)
    #expect(second.confirmToken != nil && second.confirmToken != first.confirmToken)
    #expect(
      storeError { () throws(StoreError) in try store.confirm(first.confirmToken, at: march1 + 3) } == .tokenUnknown)
    // Nothing recorded before the confirmation.
    #expect(try store.history(email: "ada@x.org").isEmpty)
    _ = try store.confirm(second.confirmToken, at: march1 + 10)
    #expect(
      try store.history(email: "ada@x.org") == [
        "email + confirm p _ _ n1 @10", "sms + confirm p _ +12025550100 n1 @10",
      ])
    #expect(try store.contacts("p") == ["ada@x.org": [.email, .sms]])
    #expect(try store.petition(id: "p").pending == 0)

    // Opt-ins gathered by several signs keep each the wording shown with it: email under
    // "email-v1", sms under "sms-v3", phone under none; email again under the same wording
    // changes nothing else.
    _ = try store.createPetition(newPetition("q", confirmation: .email), at: at(march1))
    let phone = "+12025550111"
    _ = try store.sign(
      signing("q", "bo@x.org", phone: phone, optIns: [.email], notice: "email-v1"), at: march1 + 20, tokens: tokens)
    _ = try store.sign(
      signing("q", "bo@x.org", phone: phone, optIns: [.sms], notice: "sms-v3"), at: march1 + 21, tokens: tokens)
    _ = try store.sign(signing("q", "bo@x.org", phone: phone, optIns: [.phone]), at: march1 + 22, tokens: tokens)
    let last = try store.sign(
      signing("q", "bo@x.org", phone: phone, optIns: [.email], notice: "email-v1"), at: march1 + 23, tokens: tokens)
    _ = try store.confirm(last.confirmToken, at: march1 + 30)
    #expect(
      try store.history(email: "bo@x.org") == [
        "email + confirm q _ _ email-v1 @30", "phone + confirm q _ \(phone) _ @30",
        "sms + confirm q _ \(phone) sms-v3 @30",
      ])
  }

  static func confirmationGrace(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    let tokens = Tokens()
    _ = try store.createPetition(newPetition("p", confirmation: .email), at: at(march1))
    let a = try store.sign(signing("p", "a@x.org"), at: march1 + 1, tokens: tokens)
    let b = try store.sign(signing("p", "b@x.org"), at: march1 + 2, tokens: tokens)
    _ = try store.closePetition(id: "p", at: at(march1 + 100))
    #expect(try store.confirm(a.confirmToken, at: march1 + 100 + day).status == .confirmed)
    #expect(
      storeError { () throws(StoreError) in try store.confirm(b.confirmToken, at: march1 + 101 + day) }
        == .petitionClosed("p"))
    // Confirmed before: the same answer, whenever asked, also once the petition is anonymised.
    let first = try store.confirm(a.confirmToken, at: march1 + 10 * day)
    #expect(first.status == .confirmed)
    #expect(try store.total("p") == 1)
    _ = try store.anonymisePetition(id: "p", at: at(march1 + 11 * day))
    #expect(try store.confirm(a.confirmToken, at: march1 + 12 * day) == first)

    // Signed and closed in the same millisecond: signed while open, so confirmable.
    _ = try store.createPetition(newPetition("q", confirmation: .email), at: at(march1))
    let c = try store.sign(signing("q", "c@x.org"), at: march1 + 500, tokens: tokens)
    _ = try store.closePetition(id: "q", at: at(march1 + 500))
    #expect(try store.confirm(c.confirmToken, at: march1 + 501).status == .confirmed)
  }

  static func goalReached(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p", goal: 2), at: at(march1))
    _ = try store.sign(signing("p", "a@x.org"), at: march1 + 1)
    #expect(try store.petition(id: "p").goalReachedAt == nil)
    let b = try store.sign(signing("p", "b@x.org"), at: march1 + 2)
    #expect(try store.petition(id: "p").goalReachedAt == at(march1 + 2))
    _ = try store.invalidate(
      Invalidation(
        petitionID: "p", reason: "r", match: InvalidationMatch(signatureIDs: [b.signatureID]), matchDescription: "{}",
        dryRun: false), at: at(march1 + 3))
    _ = try store.sign(signing("p", "c@x.org"), at: march1 + 4)
    #expect(try store.petition(id: "p").goalReachedAt == at(march1 + 2))
    #expect(try store.count(CountQuery(petitionID: "p", grouping: nil, window: TimeWindow())).goal == 2)
  }

  // MARK: Count

  static func counts(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p", goal: 10), at: at(0))
    _ = try store.createPetition(newPetition("other"), at: at(0))
    _ = try store.sign(signing("p", "a@x.org", postalCode: "10001", source: "web"), at: march1)
    _ = try store.sign(signing("p", "b@x.org", postalCode: "10001", source: "mail"), at: march1 + day - 1)
    _ = try store.sign(signing("p", "c@x.org", postalCode: "K1A 0B1", country: "CA"), at: march1 + day)
    _ = try store.sign(signing("p", "d@x.org", postalCode: "02134", source: "web"), at: march1 + 2 * day + 5)
    _ = try store.sign(signing("p", "e@x.org", postalCode: "EC1A 1BB", country: "GB"), at: -1)
    _ = try store.sign(signing("other", "a@x.org"), at: march1)
    func total(_ since: Int64?, _ until: Int64?) throws -> Int {
      try store.count(
        CountQuery(petitionID: "p", grouping: nil, window: TimeWindow(since: since.map(at), until: until.map(at)))
      ).total
    }
    #expect(try total(nil, nil) == 5)
    #expect(try total(march1, nil) == 4)
    #expect(try total(march1 + 1, nil) == 3)
    #expect(try total(nil, march1 + day) == 3)
    #expect(try total(nil, march1 + day + 1) == 4)
    #expect(try total(march1, march1 + day) == 2)
    #expect(try total(march1 + day, march1 + day) == 0)
    #expect(try total(-hour, hour) == 1)
    #expect(try store.groups("p", .day) == ["1969-12-31=1", "2026-03-01=2", "2026-03-02=1", "2026-03-03=1"])
    #expect(try store.groups("p", .postalCode) == ["02134=1", "10001=2", "EC1A 1BB=1", "K1A 0B1=1"])
    #expect(try store.groups("p", .country) == ["CA=1", "GB=1", "US=3"])
    #expect(try store.groups("p", .source) == ["=2", "mail=1", "web=2"])
    #expect(
      try store.groups("p", .source, since: march1 + 1, until: march1 + 2 * day + 6) == ["=1", "mail=1", "web=1"])
    #expect(
      try store.groups("p", .day, since: march1 - 5 * day, until: march1 + day + 1) == ["2026-03-01=2", "2026-03-02=1"])
    #expect(try store.groups("p", .day, since: march1 + 3 * day) == [])
    #expect(
      storeError { () throws(StoreError) in
        try store.count(CountQuery(petitionID: "nope", grouping: nil, window: TimeWindow()))
      } == .petitionNotFound("nope"))
  }

  // MARK: Consent

  static func consentEvents(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    let phone = "+12025550100"
    _ = try store.sign(
      signing("p", "ada@x.org", phone: phone, optIns: [.email, .sms], source: "web", notice: "v1"), at: march1 + 1)
    #expect(try store.history(email: "ada@x.org") == ["email + sign p web _ v1 @1", "sms + sign p web \(phone) v1 @1"])
    #expect(try store.contacts("p") == ["ada@x.org": [.email, .sms]])
    // No opt-in: nothing recorded; consent shows on every petition of the person.
    _ = try store.sign(signing("q", "ada@x.org"), at: march1 + 2)
    #expect(try store.history(email: "ada@x.org").count == 2)
    #expect(try store.contacts("q") == ["ada@x.org": [.email]])  // sms needs a phone on the row
    try store.unsubscribe(Unsubscription(subject: .canonicalEmail("ada@x.org"), channels: [.email]), at: at(march1 + 3))
    #expect(try store.contacts("p") == ["ada@x.org": [.sms]])
    // A duplicate's opt-in is fresh consent, newer than the unsubscribe.
    let duplicate = try store.sign(signing("p", "Ada@x.org", optIns: [.email]), at: march1 + 4)
    #expect(duplicate.isDuplicate)
    #expect(try store.contacts("p") == ["ada@x.org": [.email, .sms]])
    #expect(try store.contacts("q") == ["ada@x.org": [.email]])
    #expect(
      try store.history(email: "ada@x.org") == [
        "email + sign p web _ v1 @1", "sms + sign p web \(phone) v1 @1", "email - unsubscribe _ _ _ _ @3",
        "email + sign p _ _ _ @4",
      ])
    #expect(try store.history(phone: phone) == ["sms + sign p web \(phone) v1 @1"])
    #expect(try store.history(email: "nobody@x.org").isEmpty)
    #expect(try store.history(phone: "+4915112345678").isEmpty)
  }

  /// Consent now is the newest event by time: an import row dated later than a sign keeps
  /// its withholding over the sign's opt-in, on every signature of the person, until a grant
  /// dated later still.
  static func futureDatedConsent(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    _ = try store.createPetition(newPetition("r"), at: at(march1))
    _ = try store.importSignature(
      imported("p", "ada@x.org", signedAt: march1 + 10 * day, optIns: [.email: false]), at: at(march1))
    _ = try store.sign(signing("q", "ada@x.org", optIns: [.email]), at: march1 + 1)
    #expect(try store.contacts("p") == [:] && store.contacts("q") == [:])
    _ = try store.sign(signing("r", "ada@x.org", optIns: [.email]), at: march1 + 2)
    #expect(try store.contacts("r") == [:])
    _ = try store.sign(signing("q", "ada@x.org", optIns: [.email]), at: march1 + 11 * day)
    for petition in ["p", "q", "r"] { #expect(try store.contacts(petition) == ["ada@x.org": [.email]]) }
    // And a first sign with an opt-in: its row carries the consent at once.
    _ = try store.sign(signing("r", "bob@x.org", phone: "+12025550100", optIns: [.email, .sms]), at: march1 + 3)
    #expect(try store.contacts("r")["bob@x.org"] == [.email, .sms])
  }

  static func unsubscribeAndSuppression(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    let shared = "+12025550123"
    _ = try store.sign(signing("p", "bob@x.org", phone: shared, optIns: [.email, .sms]), at: march1)
    _ = try store.sign(signing("p", "carol@x.org", phone: shared, optIns: [.phone]), at: march1)
    _ = try store.sign(signing("p", "dave@x.org", phone: "+12025550199", optIns: [.sms]), at: march1)
    try store.unsubscribe(Unsubscription(subject: .phone(shared), channels: [.phone, .sms]), at: at(march1 + 1))
    #expect(try store.contacts("p") == ["bob@x.org": [.email], "dave@x.org": [.sms]])
    // The phone and sms events of everyone with the number, oldest first.
    let history = try store.history(phone: shared)
    #expect(history.count == 6)
    #expect(Array(history.prefix(2)) == ["sms + sign p _ \(shared) _ @0", "phone + sign p _ \(shared) _ @0"])
    #expect(history.suffix(4).allSatisfy { $0.hasSuffix("unsubscribe _ _ \(shared) _ @1") && $0.contains(" - ") })

    // Someone the store does not know: suppressed all the same, so an import grants nothing...
    try store.unsubscribe(
      Unsubscription(subject: .canonicalEmail("erin@x.org"), channels: Channel.allCases), at: at(march1 + 2))
    #expect(try store.history(email: "erin@x.org").isEmpty)
    _ = try store.importSignature(
      imported("p", "erin@x.org", signedAt: march1 + 3, optIns: [.email: true]), at: at(march1 + 4))
    #expect(try store.contacts("p")["erin@x.org"] == nil)
    #expect(try store.history(email: "erin@x.org").isEmpty)
    // ...but an explicit opt-in in sign lifts it, for that channel only.
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    _ = try store.sign(signing("q", "erin@x.org", optIns: [.email]), at: march1 + 5)
    #expect(try store.contacts("q") == ["erin@x.org": [.email]])
    _ = try store.importSignature(
      imported("p", "erin@x.org", signedAt: march1 + 6, optIns: [.email: true]), at: at(march1 + 7))
    #expect(try store.history(email: "erin@x.org").filter { $0.contains("import") }.count == 1)

    // A phone-keyed suppression blocks an import's grant on that channel for anyone with it.
    _ = try store.importSignature(
      imported("p", "frank@x.org", signedAt: march1 + 8, phone: shared, optIns: [.sms: true, .email: true]),
      at: at(march1 + 9))
    #expect(try store.contacts("p")["frank@x.org"] == [.email])

    // By email, the phone and sms events cover the number of the person's newest signature
    // with a phone (the contract: `number` is the E.164 phone the event covers).
    _ = try store.sign(signing("p", "gina@x.org", phone: "+12025550177", optIns: [.sms]), at: march1 + 10)
    _ = try store.sign(signing("q", "gina@x.org", optIns: [.email]), at: march1 + 11)
    try store.unsubscribe(
      Unsubscription(subject: .canonicalEmail("gina@x.org"), channels: Channel.allCases), at: at(march1 + 12))
    let unsubscribed = try store.history(email: "gina@x.org").filter { $0.contains("unsubscribe") }
    #expect(unsubscribed.count == 3)
    #expect(unsubscribed.filter { $0.contains("+12025550177") }.count == 2)
    #expect(unsubscribed.filter { $0.hasPrefix("email") && $0.contains("unsubscribe _ _ _ _") }.count == 1)
    // Someone who never gave a phone: no number.
    try store.unsubscribe(Unsubscription(subject: .canonicalEmail("erin@x.org"), channels: [.sms]), at: at(march1 + 13))
    #expect(try store.history(email: "erin@x.org").last?.contains("unsubscribe _ _ _ _") == true)
  }

  /// Rows without a time of their own are signed at the call's time and record their consent
  /// at their signature's time, so importing the same file again adds nothing, one row at a
  /// time or in batches: an opt-out imported in between stays the person's choice.
  static func importWithoutOwnTime(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    var grant = imported("p", "ada@x.org", signedAt: march1 - day, optIns: [.email: true], source: "file")
    grant.hasOwnTime = false
    var withhold = grant
    withhold.optIns = [.email: false]
    #expect(try store.importMany([grant], at: at(march1 + 10)).map { try $0.get() } == [.imported])
    #expect(try store.rows("p", .delivery).map(\.signedAt) == [at(march1 + 10)])
    #expect(try store.groups("p", .day) == ["2026-03-01=1"])
    #expect(try store.contacts("p") == ["ada@x.org": [.email]])
    #expect(try store.importMany([withhold], at: at(march1 + 20)).map { try $0.get() } == [.duplicate])
    #expect(try store.contacts("p") == [:])
    #expect(try store.importMany([grant], at: at(march1 + 30)).map { try $0.get() } == [.duplicate])
    #expect(try store.importSignature(grant, at: at(march1 + 40)) == .duplicate)
    #expect(
      try store.importMany([grant, grant], at: at(march1 + 50)).map { try $0.get() } == [.duplicate, .duplicate])
    #expect(try store.contacts("p") == [:])
    #expect(
      try store.history(email: "ada@x.org") == ["email + import p file _ _ @10", "email - import p file _ _ @10"])
  }

  static func importRows(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p", confirmation: .email), at: at(march1))
    let row = imported(
      "p", "ada@x.org", signedAt: march1 - day, phone: "+12025550100", optIns: [.email: true, .sms: false],
      source: "old")
    #expect(try store.importSignature(row, at: at(march1 + 5)) == .imported)
    // Confirmed at once (even on a petition that confirms by email), at the row's own time.
    #expect(try store.petition(id: "p").count == 1)
    #expect(try store.petition(id: "p").pending == 0)
    #expect(try store.groups("p", .day) == ["2026-02-28=1"])
    #expect(try store.rows("p", .delivery).map(\.signedAt) == [at(march1 - day)])
    #expect(
      try store.history(email: "ada@x.org") == [
        "email + import p old _ _ @-86400000", "sms - import p old +12025550100 _ @-86400000",
      ])
    #expect(try store.contacts("p") == ["ada@x.org": [.email]])
    // Re-running the import adds nothing.
    #expect(try store.importSignature(row, at: at(march1 + 6)) == .duplicate)
    #expect(try store.history(email: "ada@x.org").count == 2)
    #expect(try store.total("p") == 1)
    // No opt-in column: no consent.
    #expect(try store.importSignature(imported("p", "bob@x.org", signedAt: march1), at: at(march1 + 7)) == .imported)
    #expect(try store.history(email: "bob@x.org").isEmpty)
    // An older import event does not override newer consent.
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    _ = try store.sign(signing("q", "carol@x.org", optIns: [.email]), at: march1 + 10)
    _ = try store.importSignature(
      imported("p", "carol@x.org", signedAt: march1 - 5 * day, optIns: [.email: false]), at: at(march1 + 11))
    #expect(try store.contacts("q") == ["carol@x.org": [.email]])
    _ = try store.closePetition(id: "p", at: at(march1 + 12))
    #expect(
      storeError { () throws(StoreError) in
        try store.importSignature(imported("p", "z@x.org", signedAt: march1), at: at(march1 + 13))
      }
        == .petitionClosed("p"))
    #expect(
      storeError { () throws(StoreError) in
        try store.importSignature(imported("n", "z@x.org", signedAt: march1), at: at(march1 + 13))
      }
        == .petitionNotFound("n"))
  }

  // MARK: Invalidation

  /// `importMany` (PostgreSQL: one set-based call) against `importSignature` row by row on a
  /// second store: the same outcomes, signatures, consent events, contacts, counts and groups,
  /// for a file with a person twice (the same opt-ins twice: one event), grants and withholds,
  /// a suppressed channel, rows dated in different hours, then the same rows again, and a
  /// closed petition.
  static func importRowsTogether(_ makeStore: StoreFactory) throws {
    let together = try makeStore()
    let alone = try makeStore()
    let phone = "+12025550100"
    let rows = [
      imported("p", "ada@x.org", signedAt: march1 + 1, phone: phone, optIns: [.email: true, .sms: true]),
      imported("p", "bob@x.org", signedAt: march1 + 2 * hour, postalCode: "99999", optIns: [.email: false]),
      imported("p", "Ada@x.org", signedAt: march1 + 1, phone: phone, optIns: [.email: true, .sms: true]),
      imported("p", "carl@x.org", signedAt: march1 + 3 * hour, phone: phone, optIns: [.sms: true, .phone: true]),
      imported("p", "erin@x.org", signedAt: march1 + 4 * hour, optIns: [.email: true], source: "list"),
      imported("p", "old@x.org", signedAt: march1 + 5 * hour),
    ]
    var answers: [[String]] = []
    for store in [together, alone] {
      _ = try store.createPetition(newPetition("p"), at: at(march1))
      _ = try store.createPetition(newPetition("shut"), at: at(march1))
      _ = try store.closePetition(id: "shut", at: at(march1))
      _ = try store.sign(signing("p", "old@x.org"), at: march1)
      try store.unsubscribe(Unsubscription(subject: .canonicalEmail("erin@x.org"), channels: [.email]), at: at(march1))
      var outcomes: [String] = []
      for round in 0..<2 {
        var results: [Result<ImportRowOutcome, StoreError>] = []
        try store.performWriteGroup {
          if store === together {
            results = store.importMany(rows, at: at(march1 + 10 * day + Int64(round)))
          } else {
            for row in rows {
              do throws(StoreError) {
                results.append(.success(try store.importSignature(row, at: at(march1 + 10 * day + Int64(round)))))
              } catch { results.append(.failure(error)) }
            }
          }
        }
        outcomes += results.map { "\($0)" }
      }
      var closed: [Result<ImportRowOutcome, StoreError>] = []
      try store.performWriteGroup {
        closed = store.importMany(
          Array(rows.prefix(2)).map {
            var row = $0; row.petitionID = "shut"; return row
          }, at: at(march1 + 11 * day))
      }
      outcomes += closed.map { "\($0)" }
      outcomes += try ["ada@x.org", "bob@x.org", "carl@x.org", "erin@x.org", "old@x.org"].flatMap {
        try store.history(email: $0)
      }
      outcomes += try store.history(phone: phone)
      outcomes += try store.contacts("p").sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.sorted())" }
      outcomes += try store.everyCount("p")
      outcomes += try store.groups("p", .postalCode, since: march1 + hour, until: march1 + 4 * hour)
      outcomes.append("count \(try store.petition(id: "p").count)")
      answers.append(outcomes)
    }
    #expect(answers[0] == answers[1])
    #expect(
      answers[0].prefix(6) == [
        "success(Petitions.ImportRowOutcome.imported)", "success(Petitions.ImportRowOutcome.imported)",
        "success(Petitions.ImportRowOutcome.duplicate)", "success(Petitions.ImportRowOutcome.imported)",
        "success(Petitions.ImportRowOutcome.imported)", "success(Petitions.ImportRowOutcome.duplicate)",
      ])
    #expect(answers[0].contains("failure(Petitions.StoreError.petitionClosed(\"shut\"))"))
  }

  static func invalidation(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    let tokens = Tokens()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("e", confirmation: .email), at: at(march1))
    var ids: [String] = []
    for index in 0..<6 {
      ids.append(
        try store.sign(
          signing(
            "p", "s\(index)@x.org", postalCode: index.isMultiple(of: 2) ? "10001" : "20002",
            phone: index < 2 ? "+12025550100" : nil, source: index < 4 ? "bot" : "web"),
          at: march1 + Int64(index) * hour
        ).signatureID)
    }
    func run(_ match: InvalidationMatch, dryRun: Bool = false, petition: String = "p") throws(StoreError)
      -> InvalidationOutcome
    {
      try store.invalidate(
        Invalidation(
          petitionID: petition, reason: "fraud", match: match, matchDescription: "{\"m\":1}", dryRun: dryRun),
        at: at(march1 + day))
    }
    let everyCount = try store.everyCount("p")
    // All conditions ANDed.
    let dry = try run(InvalidationMatch(postalCode: "10001", source: "bot"), dryRun: true)
    #expect(dry == InvalidationOutcome(invalidationID: nil, invalidated: 2, count: 6))
    #expect(try store.everyCount("p") == everyCount)
    #expect(try store.invalidations(petitionID: "p").isEmpty)
    #expect(try run(InvalidationMatch(phone: "+12025550100", source: "web"), dryRun: true).invalidated == 0)
    #expect(
      try run(
        InvalidationMatch(source: "bot", window: TimeWindow(since: at(march1 + hour), until: at(march1 + 3 * hour))),
        dryRun: true
      ).invalidated == 2)
    #expect(try run(InvalidationMatch(canonicalEmail: "s5@x.org"), dryRun: true).invalidated == 1)
    #expect(
      try run(InvalidationMatch(signatureIDs: [ids[0], ids[5], "sig_bogus"], source: "bot"), dryRun: true).invalidated
        == 1)

    let outcome = try run(InvalidationMatch(postalCode: "10001", source: "bot"))
    #expect(outcome.invalidated == 2 && outcome.count == 4 && outcome.invalidationID != nil)
    #expect(try store.petition(id: "p").invalidated == 2)
    #expect(try store.groups("p", .source) == ["bot=2", "web=2"])
    #expect(try store.groups("p", .postalCode) == ["10001=1", "20002=3"])
    #expect(
      try store.count(CountQuery(petitionID: "p", grouping: .day, window: TimeWindow(since: at(march1 + 1)))).total == 4
    )
    #expect(try store.rows("p", .delivery).count == 4)
    // Already invalidated signatures are not matched again.
    #expect(try run(InvalidationMatch(postalCode: "10001", source: "bot"), dryRun: true).invalidated == 0)
    // The person keeps their place.
    let again = try store.sign(signing("p", "s0@x.org"), at: march1 + 2 * day)
    #expect(again.isDuplicate && again.status == .invalidated && again.signatureID == ids[0])
    let records = try store.invalidations(petitionID: "p")
    #expect(records.count == 1)
    #expect(
      records.first.map { ($0.reason, $0.matchDescription, $0.invalidated, $0.revalidated, $0.at) }
        ?? ("", "", 0, 0, at(0)) == ("fraud", "{\"m\":1}", 2, 0, at(march1 + day)))

    // Pending signatures can be invalidated too.
    _ = try store.sign(signing("e", "a@x.org"), at: march1, tokens: tokens)
    _ = try store.sign(signing("e", "b@x.org"), at: march1, tokens: tokens)
    let pending = try run(InvalidationMatch(canonicalEmail: "a@x.org"), petition: "e")
    #expect(pending.invalidated == 1 && pending.count == 0)
    let petition = try store.petition(id: "e")
    #expect(petition.pending == 1 && petition.invalidated == 1)
    #expect(
      storeError { () throws(StoreError) in try run(InvalidationMatch(source: "x"), petition: "n") }
        == .petitionNotFound("n"))
    #expect(storeError { () throws(StoreError) in try store.invalidations(petitionID: "n") } == .petitionNotFound("n"))
  }

  static func revalidation(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    let tokens = Tokens()
    _ = try store.createPetition(newPetition("p", confirmation: .email), at: at(march1))
    let a = try store.sign(signing("p", "a@x.org", source: "bot"), at: march1, tokens: tokens)
    let b = try store.sign(signing("p", "b@x.org", source: "bot"), at: march1 + 1, tokens: tokens)
    let c = try store.sign(signing("p", "c@x.org", source: "bot"), at: march1 + 2, tokens: tokens)
    _ = try store.confirm(a.confirmToken, at: march1 + 3)
    _ = try store.confirm(b.confirmToken, at: march1 + 3)
    let before = try store.everyCount("p")
    let first = try store.invalidate(
      Invalidation(
        petitionID: "p", reason: "r", match: InvalidationMatch(source: "bot"), matchDescription: "{}", dryRun: false),
      at: at(march1 + 4))
    #expect(first.invalidated == 3 && first.count == 0)
    #expect(try store.petition(id: "p").pending == 0)
    // Some signatures.
    let some = try store.revalidate(petitionID: "p", .signatures([a.signatureID, c.signatureID]), at: at(march1 + 5))
    #expect(some == RevalidationOutcome(revalidated: 2, count: 1))
    #expect(try store.petition(id: "p").pending == 1)  // c was pending before
    #expect(try store.confirm(c.confirmToken, at: march1 + 6).status == .confirmed)
    // The rest of the invalidation.
    let rest = try store.revalidate(petitionID: "p", .invalidation(first.invalidationID ?? ""), at: at(march1 + 7))
    #expect(rest == RevalidationOutcome(revalidated: 1, count: 3))
    #expect(
      try store.revalidate(petitionID: "p", .invalidation(first.invalidationID ?? ""), at: at(march1 + 8)).revalidated
        == 0)
    let record = try store.invalidations(petitionID: "p").first
    #expect(record?.invalidated == 3 && record?.revalidated == 3)
    #expect(try store.everyCount("p") != before)  // c is confirmed now
    #expect(try store.groups("p", .source) == ["bot=3"])
    let petition = try store.petition(id: "p")
    #expect(petition.count == 3 && petition.pending == 0 && petition.invalidated == 0)
    #expect(
      storeError { () throws(StoreError) in
        try store.revalidate(petitionID: "p", .invalidation("inv_999"), at: at(march1))
      }
        == .invalidationNotFound("inv_999"))
    #expect(
      storeError { () throws(StoreError) in
        try store.revalidate(petitionID: "p", .invalidation("nonsense"), at: at(march1))
      }
        == .invalidationNotFound("nonsense"))
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    #expect(
      storeError { () throws(StoreError) in
        try store.revalidate(petitionID: "q", .invalidation(first.invalidationID ?? ""), at: at(march1))
      } == .invalidationNotFound(first.invalidationID ?? ""))
  }

  // MARK: Erasure

  static func erasure(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    _ = try store.sign(
      signing("p", "ada@x.org", phone: "+12025550100", comment: "hi", optIns: [.email, .sms], source: "web"),
      at: march1)
    _ = try store.sign(signing("q", "ada@x.org", postalCode: "99999"), at: march1 + 1)
    _ = try store.sign(signing("p", "bob@x.org", optIns: [.email]), at: march1 + 2)
    let before = try store.everyCount("p")
    #expect(try store.erase(.canonicalEmail(Rules.canonicalEmail("ADA@x.org")), at: at(march1 + 3)) == 2)
    #expect(try store.everyCount("p") == before)
    #expect(try store.total("q") == 1)
    #expect(try store.rows("p", .delivery).map(\.firstName) == ["Ada"])  // Bob's row only
    #expect(try store.rows("p", .contacts).map(\.email) == ["bob@x.org"])
    #expect(try store.rows("q", .delivery).isEmpty)
    #expect(try store.history(email: "ada@x.org").isEmpty)
    #expect(try store.history(phone: "+12025550100").isEmpty)
    // Erasure suppresses: an import grants nothing; signing again is a new signature.
    _ = try store.importSignature(
      imported("q", "ada@x.org", signedAt: march1 + 4, optIns: [.email: true]), at: at(march1 + 4))
    #expect(try store.history(email: "ada@x.org").isEmpty)
    #expect(try store.total("q") == 2)
    let again = try store.sign(signing("p", "ada@x.org"), at: march1 + 5)
    #expect(!again.isDuplicate && again.count == 3)
    // Someone the store does not know: nothing erased, but suppressed all the same.
    #expect(try store.erase(.canonicalEmail("nobody@x.org"), at: at(march1 + 6)) == 0)
    _ = try store.importSignature(
      imported("q", "nobody@x.org", signedAt: march1 + 7, optIns: [.email: true]), at: at(march1 + 7))
    #expect(try store.history(email: "nobody@x.org").isEmpty)
    #expect(try store.contacts("q")["nobody@x.org"] == nil)
  }

  static func erasureByPhone(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    let shared = "+12025550123"
    _ = try store.sign(signing("p", "a@x.org", phone: shared, optIns: [.email]), at: march1)
    _ = try store.sign(signing("p", "b@x.org", phone: shared), at: march1)
    _ = try store.sign(signing("p", "c@x.org", phone: "+12025550999", optIns: [.email]), at: march1)
    #expect(try store.erase(.phone(shared), at: at(march1 + 1)) == 2)
    #expect(try store.rows("p", .delivery).count == 1)
    #expect(try store.contacts("p") == ["c@x.org": [.email]])
    #expect(try store.history(email: "a@x.org").isEmpty)
    #expect(try store.total("p") == 3)
  }

  // MARK: Anonymisation

  /// Anonymising deletes pending signatures, the newest signatures of the store among them:
  /// the next signatures (in this store or after reopening it) take new ids.
  static func idsAfterAnonymising(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    let tokens = Tokens()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("e", confirmation: .email), at: at(march1))
    let first = try store.sign(signing("p", "a@x.org"), at: march1 + 1)
    let pending = try store.sign(signing("e", "b@x.org"), at: march1 + 2, tokens: tokens)
    let newest = try store.sign(signing("e", "c@x.org"), at: march1 + 3, tokens: tokens)
    #expect(pending.status == .pending && newest.status == .pending)
    _ = try store.closePetition(id: "e", at: at(march1 + 4))
    _ = try store.anonymisePetition(id: "e", at: at(march1 + 5))
    var seen: Set<String> = [first.signatureID, pending.signatureID, newest.signatureID]
    for (index, email) in ["d@x.org", "f@x.org"].enumerated() {
      let next = try store.sign(signing("p", email), at: march1 + 6 + Int64(index))
      #expect(!next.isDuplicate)
      #expect(seen.insert(next.signatureID).inserted, "\(next.signatureID) was given out before")
      #expect(next.signatureID > newest.signatureID)
    }
  }

  static func anonymisation(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    let tokens = Tokens()
    _ = try store.createPetition(newPetition("p", confirmation: .email), at: at(march1))
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    let a = try store.sign(signing("p", "a@x.org", optIns: [.email], source: "web"), at: march1, tokens: tokens)
    _ = try store.confirm(a.confirmToken, at: march1 + 1)
    let b = try store.sign(signing("p", "b@x.org"), at: march1 + 2, tokens: tokens)
    // Ada's consent came only from p; Carol's also from q.
    _ = try store.sign(signing("q", "a@x.org"), at: march1 + 3)
    let c = try store.sign(signing("p", "c@x.org", optIns: [.email]), at: march1 + 4, tokens: tokens)
    _ = try store.confirm(c.confirmToken, at: march1 + 5)
    _ = try store.sign(signing("q", "c@x.org", optIns: [.email]), at: march1 + 6)
    #expect(try store.contacts("q") == ["a@x.org": [.email], "c@x.org": [.email]])
    // Dan's consent came from an import into p, then a second import of him (a duplicate).
    _ = try store.importSignature(
      imported("p", "dan@x.org", signedAt: march1 + 6, optIns: [.email: true]), at: at(march1 + 7))
    _ = try store.importSignature(
      imported("p", "dan@x.org", signedAt: march1 + 7, optIns: [.email: true]), at: at(march1 + 7))
    #expect(try store.history(email: "dan@x.org").count == 2)

    #expect(
      storeError { () throws(StoreError) in try store.anonymisePetition(id: "p", at: at(march1 + 7)) }
        == .petitionOpen("p"))
    #expect(
      storeError { () throws(StoreError) in try store.anonymisePetition(id: "n", at: at(march1 + 7)) }
        == .petitionNotFound("n"))
    _ = try store.closePetition(id: "p", at: at(march1 + 8))
    let before = try store.everyCount("p")
    let anonymised = try store.anonymisePetition(id: "p", at: at(march1 + 9))
    #expect(anonymised.anonymisedAt == at(march1 + 9) && anonymised.pending == 0 && anonymised.count == 3)
    #expect(try store.everyCount("p") == before)
    #expect(try store.anonymisePetition(id: "p", at: at(march1 + 10)) == anonymised)
    #expect(storeError { () throws(StoreError) in try store.confirm(b.confirmToken, at: march1 + 10) } == .tokenUnknown)
    let export = { (audience: ExportAudience) throws(StoreError) in
      try store.exportRows(
        ExportQuery(petitionID: "p", audience: audience, window: TimeWindow(), after: nil, limit: nil)
      ) { _ in true }
    }
    #expect(storeError { () throws(StoreError) in try export(.delivery) } == .petitionAnonymised("p"))
    #expect(storeError { () throws(StoreError) in try export(.contacts) } == .petitionAnonymised("p"))
    #expect(
      storeError { () throws(StoreError) in
        try store.exportRowCount(
          ExportQuery(petitionID: "p", audience: .delivery, window: TimeWindow(), after: nil, limit: nil))
      } == .petitionAnonymised("p"))
    #expect(try store.contacts("q") == ["c@x.org": [.email]])
    #expect(try store.history(email: "a@x.org").isEmpty)
    #expect(try store.history(email: "dan@x.org").isEmpty)
    #expect(try store.history(email: "c@x.org") == ["email + sign q _ _ _ @6"])
    // Its signers may sign elsewhere as new people; the petition's counts stay.
    #expect(try store.petition(id: "p").count == 3)
  }

  /// A signature invalidated while pending keeps its row (without data or token) when the
  /// petition is anonymised; revalidating it does not make it pending again (it could never be
  /// confirmed nor deleted): it stays invalidated. A confirmed one comes back as before.
  static func revalidateAfterAnonymising(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    let tokens = Tokens()
    _ = try store.createPetition(newPetition("p", confirmation: .email), at: at(march1))
    let pending = try store.sign(signing("p", "p@x.org"), at: march1, tokens: tokens)
    let confirmed = try store.sign(signing("p", "c@x.org"), at: march1 + 1, tokens: tokens)
    _ = try store.confirm(confirmed.confirmToken, at: march1 + 2)
    let invalidation = try store.invalidate(
      Invalidation(
        petitionID: "p", reason: "fraud",
        match: InvalidationMatch(signatureIDs: [pending.signatureID, confirmed.signatureID]), matchDescription: "{}",
        dryRun: false), at: at(march1 + 3))
    #expect(invalidation.invalidated == 2)
    _ = try store.closePetition(id: "p", at: at(march1 + 4))
    _ = try store.anonymisePetition(id: "p", at: at(march1 + 5))
    let outcome = try store.revalidate(
      petitionID: "p", .invalidation(invalidation.invalidationID ?? ""), at: at(march1 + 6))
    #expect(outcome.revalidated == 1 && outcome.count == 1)
    let petition = try store.petition(id: "p")
    #expect(petition.count == 1 && petition.pending == 0 && petition.invalidated == 1)
  }

  // MARK: Write groups

  static func writeGroups(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    let tokens = Tokens()
    _ = try store.createPetition(newPetition("p", confirmation: .email), at: at(march1))
    var results: [String] = []
    var token: String?
    try store.performWriteGroup {
      do {
        token = try store.sign(signing("p", "a@x.org"), at: march1, tokens: tokens).confirmToken
        results.append("sign ok")
      } catch { results.append("\(error)") }
      do {
        _ = try store.confirm("nope", at: march1 + 1)
      } catch { results.append("\(error)") }
      do {
        _ = try store.confirm(token, at: march1 + 2)
        results.append("confirm ok")
      } catch { results.append("\(error)") }
      do {
        _ = try store.anonymisePetition(id: "p", at: at(march1 + 3))
      } catch { results.append("\(error)") }
      do {
        results.append("count \(try store.total("p"))")
        results.append(try store.groups("p", .source).joined())
      } catch { results.append("\(error)") }
    }
    #expect(results == ["sign ok", "tokenUnknown", "confirm ok", "petitionOpen(\"p\")", "count 1", "=1"])
    #expect(try store.everyCount("p") == ["total=1", "2026-03-01=1", "12345=1", "US=1", "=1"])
  }

  /// One write group: a sign with an opt-in while the suppression list is empty, then an
  /// unsubscribe, then an import granting the unsubscribed channel and a sign lifting it: the
  /// import grants nothing, the sign's opt-in counts. (SQLite asks once per transaction whether
  /// the list has entries; its own suppressions must change the answer.)
  static func suppressionInGroup(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    var failures: [String] = []
    try store.performWriteGroup {
      do {
        _ = try store.sign(signing("p", "ada@x.org", optIns: [.email]), at: march1 + 1)
        try store.unsubscribe(
          Unsubscription(subject: .canonicalEmail("bob@x.org"), channels: [.email]), at: at(march1 + 2))
        _ = try store.importSignature(
          imported("p", "bob@x.org", signedAt: march1 + 3, optIns: [.email: true]), at: at(march1 + 4))
        try store.unsubscribe(
          Unsubscription(subject: .canonicalEmail("carol@x.org"), channels: [.email]), at: at(march1 + 5))
        _ = try store.sign(signing("p", "carol@x.org", optIns: [.email]), at: march1 + 6)
      } catch { failures.append("\(error)") }
    }
    #expect(failures.isEmpty)
    #expect(try store.contacts("p") == ["ada@x.org": [.email], "carol@x.org": [.email]])
    // Carol's opt-in lifted her suppression, Bob's stays: an import grants him nothing still.
    _ = try store.importSignature(
      imported("p", "bob@x.org", signedAt: march1 + 7, optIns: [.email: true]), at: at(march1 + 8))
    _ = try store.importSignature(
      imported("p", "carol@x.org", signedAt: march1 + 9, optIns: [.email: true]), at: at(march1 + 10))
    #expect(try store.contacts("p") == ["ada@x.org": [.email], "carol@x.org": [.email]])
    #expect(try store.history(email: "carol@x.org").filter { $0.contains("import") }.count == 1)
  }

  /// Signatures invalidated (and some revalidated) by the write group that signed them, with
  /// older ones around: every count and group says what the rows say. (SQLite counts the
  /// newest signatures from their rows until they go into its aggregates: a group's own sums
  /// must not be handed over once it changed statuses in bulk.)
  static func invalidatedInGroup(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    for index in 0..<3 {
      _ = try store.sign(signing("p", "old\(index)@x.org", postalCode: "1000\(index)"), at: march1 + Int64(index))
    }
    var invalidated = 0
    var revalidated = 0
    try store.performWriteGroup {
      do {
        var ids: [String] = []
        for index in 0..<6 {
          ids.append(
            try store.sign(
              signing("p", "new\(index)@x.org", postalCode: "2000\(index % 2)", source: index < 3 ? "a" : "b"),
              at: march1 + 10 + Int64(index)
            ).signatureID)
        }
        invalidated =
          try store.invalidate(
            Invalidation(
              petitionID: "p", reason: "fraud", match: InvalidationMatch(source: "a"), matchDescription: "{}",
              dryRun: false), at: at(march1 + 20)
          ).invalidated
        _ = try store.invalidate(
          Invalidation(
            petitionID: "p", reason: "fraud", match: InvalidationMatch(postalCode: "10001"), matchDescription: "{}",
            dryRun: false), at: at(march1 + 21))
        revalidated = try store.revalidate(petitionID: "p", .signatures([ids[0]]), at: at(march1 + 22)).revalidated
      } catch { Issue.record("\(error)") }
    }
    #expect(invalidated == 3 && revalidated == 1)
    #expect(
      try store.everyCount("p") == [
        "total=6", "2026-03-01=6", "10000=1", "10002=1", "20000=2", "20001=2", "US=6", "=2", "a=1", "b=3",
      ])
    #expect(
      try store.groups("p", .postalCode, since: march1 + 1, until: march1 + 14) == ["10002=1", "20000=1", "20001=1"])
  }

  /// The signs of a write group go to a store together (PostgreSQL sends a run of them as one
  /// set-based call): each is answered, and leaves consent, suppression and counts, exactly as
  /// if signed alone, in order.
  static func signsTakenTogether(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    let phone = "+12025550100"
    let first = try store.sign(signing("p", "old@x.org", postalCode: "99999"), at: march1 + 1)
    try store.unsubscribe(
      Unsubscription(subject: .canonicalEmail("ada@x.org"), channels: Channel.allCases), at: at(march1 + 2))
    try store.unsubscribe(Unsubscription(subject: .phone(phone), channels: [.sms]), at: at(march1 + 2))
    var outcomes: [Result<SignOutcome, StoreError>] = []
    try store.performWriteGroup {
      outcomes = store.signMany(
        [
          signing("p", "ada@x.org", phone: phone, comment: "a, \"quoted\"\nline", optIns: [.email], source: "web"),
          signing("p", "old@x.org", optIns: [.email], notice: "n1"),
          signing("p", "Ada@x.org", firstName: "Adelaide", phone: phone, optIns: [.sms], source: "mail", notice: "n2"),
          signing("p", "bob@x.org", postalCode: "99999", country: "DE"),
          signing("q", "ada@x.org"),
          signing("p", "carl@x.org", source: "web"),
        ], at: at(march1 + 3), newToken: Tokens().make)
    }
    let answers = outcomes.map { result in
      (try? result.get()).map { "\($0.isDuplicate ? "dup" : "new") \($0.count)" } ?? "error"
    }
    #expect(answers == ["new 2", "dup 2", "dup 2", "new 3", "new 1", "new 4"])
    let ids = outcomes.compactMap { try? $0.get().signatureID }
    #expect(ids[1] == first.signatureID && ids[2] == ids[0] && Set(ids).count == 5)
    // The first sign's data is kept; every opt-in is fresh consent that lifts its suppression.
    let rows = try store.rows("p", .delivery)
    #expect(rows.map(\.postalCode) == ["99999", "12345", "99999", "12345"])
    #expect(rows[1].firstName == "Ada" && rows[1].comment == "a, \"quoted\"\nline")
    // (An unsubscribe of someone the store did not know leaves no event, only the suppression.)
    #expect(
      try store.history(email: "ada@x.org") == ["email + sign p web _ _ @3", "sms + sign p mail \(phone) n2 @3"])
    #expect(try store.history(email: "old@x.org") == ["email + sign p _ _ n1 @3"])
    #expect(try store.contacts("p") == ["ada@x.org": [.email, .sms], "old@x.org": [.email]])
    #expect(try store.contacts("q") == ["ada@x.org": [.email]])  // sms needs a phone on the row
    #expect(try store.groups("p", .postalCode) == ["12345=2", "99999=2"])
    #expect(try store.groups("p", .source) == ["=2", "web=2"])
    #expect(try store.petition(id: "p").count == 4)
  }

  // MARK: Aggregates

  /// A model of the signatures (petition, person, grouped values, status), against which every
  /// count answer and counter is checked after a deterministic random mix of sign, confirm,
  /// import, invalidate, revalidate, erase, unsubscribe and finally anonymise.
  static func randomMix(_ makeStore: StoreFactory) throws {
    let store = try makeStore()
    let tokens = Tokens()
    var random = SeededRandom(seed: 7)
    var model = SignatureModel()
    _ = try store.createPetition(newPetition("p", confirmation: .email), at: at(march1))
    _ = try store.createPetition(newPetition("n"), at: at(march1))
    let postalCodes = ["10001", "20002", "30003", "K1A 0B1"]
    let sources = ["web", "mail", ""]
    var invalidations: [String: (petition: String, members: [(entry: Int, prior: SignatureStatus)])] = [:]
    for step in 0..<500 {
      let time = march1 + Int64(random.next(200)) * 17 * 60_000 + Int64(random.next(1000))
      let petition = random.next(2) == 0 ? "p" : "n"
      let person = "person\(random.next(100))@x.org"
      let postalCode = postalCodes[random.next(postalCodes.count)]
      let country = postalCode == "K1A 0B1" ? "CA" : "US"
      let source = sources[random.next(sources.count)]
      let values = SignatureModel.Entry(
        petition: petition, person: person, signedAt: time, postalCode: postalCode, country: country, source: source,
        status: .confirmed)
      switch random.next(12) {
      case 0...3:
        let outcome = try store.sign(
          signing(petition, person, postalCode: postalCode, country: country, source: source.isEmpty ? nil : source),
          at: time, tokens: tokens)
        if let index = model.live[petition + " " + person] {
          #expect(outcome.isDuplicate && outcome.status == model.entries[index].status)
          if let token = outcome.confirmToken { model.entries[index].token = token }
        } else {
          #expect(!outcome.isDuplicate)
          var entry = values
          entry.status = outcome.status
          entry.token = outcome.confirmToken
          model.add(entry)
        }
      case 4, 5:
        let candidates = model.entries.indices.filter { model.entries[$0].token != nil }
        if !candidates.isEmpty {
          let index = candidates[random.next(candidates.count)]
          let outcome = try store.confirm(model.entries[index].token, at: time)
          if model.entries[index].status == .pending { model.entries[index].status = .confirmed }
          #expect(outcome.status == model.entries[index].status)
        }
      case 6:
        var outcome: ImportRowOutcome?
        try store.performWriteGroup {
          outcome = try? store.importSignature(
            imported("n", person, signedAt: time, postalCode: postalCode, source: source.isEmpty ? nil : source),
            at: at(time))
        }
        if model.live["n " + person] != nil {
          #expect(outcome == .duplicate)
        } else {
          #expect(outcome == .imported)
          var entry = values
          entry.petition = "n"
          entry.country = "US"
          model.add(entry)
        }
      case 7:
        let since = time - 5 * hour
        let outcome = try store.invalidate(
          Invalidation(
            petitionID: petition, reason: "r\(step)",
            match: InvalidationMatch(postalCode: postalCode, window: TimeWindow(since: at(since))),
            matchDescription: "{}", dryRun: false), at: at(time))
        var members: [(entry: Int, prior: SignatureStatus)] = []
        for index in model.entries.indices {
          let entry = model.entries[index]
          guard entry.petition == petition, entry.postalCode == postalCode, entry.signedAt >= since,
            entry.status != .invalidated
          else { continue }
          members.append((index, entry.status))
          model.entries[index].status = .invalidated
        }
        #expect(outcome.invalidated == members.count)
        if let id = outcome.invalidationID { invalidations[id] = (petition, members) }
      case 8:
        if let id = invalidations.keys.sorted().randomElement(using: &random) {
          let (petition, members) = invalidations[id] ?? ("p", [])
          let outcome = try store.revalidate(petitionID: petition, .invalidation(id), at: at(time))
          var revalidated = 0
          for member in members where model.entries[member.entry].status == .invalidated {
            model.entries[member.entry].status = member.prior
            revalidated += 1
          }
          #expect(outcome.revalidated == revalidated)
          invalidations[id] = (petition, [])
        }
      case 9:
        let erased = try store.erase(.canonicalEmail(person), at: at(time))
        #expect(erased == model.erase(person))
      default:
        try store.unsubscribe(Unsubscription(subject: .canonicalEmail(person), channels: [.email]), at: at(time))
      }
      if step % 50 == 49 { try model.check(store, random: &random) }
    }
    _ = try store.closePetition(id: "p", at: at(march1 + 10 * day))
    _ = try store.anonymisePetition(id: "p", at: at(march1 + 10 * day))
    model.entries.removeAll { $0.petition == "p" && $0.status == .pending }
    try model.check(store, random: &random)
  }
}

/// What a store should hold, for `randomMix`.
struct SignatureModel {
  struct Entry {
    var petition: String
    var person: String?
    var signedAt: Int64
    var postalCode: String
    var country: String
    var source: String
    var status: SignatureStatus
    var token: String?
  }
  var entries: [Entry] = []
  /// "petition person" -> index of the person's (not erased) signature.
  var live: [String: Int] = [:]

  mutating func add(_ entry: Entry) {
    live[entry.petition + " " + (entry.person ?? "")] = entries.count
    entries.append(entry)
  }

  mutating func erase(_ person: String) -> Int {
    var erased = 0
    for index in entries.indices where entries[index].person == person {
      live[entries[index].petition + " " + person] = nil
      entries[index].person = nil
      erased += 1
    }
    return erased
  }

  func check(_ store: any PetitionStore, random: inout SeededRandom) throws {
    for petition in ["p", "n"] {
      let mine = entries.filter { $0.petition == petition }
      let stored = try store.petition(id: petition)
      #expect(stored.count == mine.filter { $0.status == .confirmed }.count)
      #expect(stored.pending == mine.filter { $0.status == .pending }.count)
      #expect(stored.invalidated == mine.filter { $0.status == .invalidated }.count)
      var windows: [(Int64?, Int64?)] = [(nil, nil), (march1 + hour, nil), (nil, march1 + day + 7)]
      for _ in 0..<4 {
        let since = march1 + Int64(random.next(60)) * hour + Int64(random.next(3)) * 1_234_567
        windows.append((since, since + Int64(random.next(30)) * hour + Int64(random.next(2)) * 345_678))
      }
      for (since, until) in windows {
        let inside = mine.filter {
          $0.status == .confirmed && $0.signedAt >= (since ?? .min) && $0.signedAt < (until ?? .max)
        }
        let window = TimeWindow(since: since.map(at), until: until.map(at))
        #expect(try store.count(CountQuery(petitionID: petition, grouping: nil, window: window)).total == inside.count)
        for grouping in CountGrouping.allCases {
          var expected: [String: Int] = [:]
          for entry in inside {
            let key =
              switch grouping {
              case .day: RFC3339.day(at(entry.signedAt))
              case .postalCode: entry.postalCode
              case .country: entry.country
              case .source: entry.source
              }
            expected[key, default: 0] += 1
          }
          let answer = try store.count(CountQuery(petitionID: petition, grouping: grouping, window: window))
          #expect(
            answer.groups?.map { "\($0.key)=\($0.count)" }
              == expected.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { "\($0.key)=\($0.value)" },
            "\(petition) \(grouping) \(String(describing: since)) \(String(describing: until))")
          #expect(answer.total == inside.count)
        }
      }
    }
  }
}

/// A small deterministic generator (no flaky seeds).
struct SeededRandom: RandomNumberGenerator {
  private var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return state >> 11
  }
  mutating func next(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
