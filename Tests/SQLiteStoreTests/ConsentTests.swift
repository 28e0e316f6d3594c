import Petitions
import SQLiteStore
import Testing

@Suite("Consent")
struct ConsentTests {
  /// The consent each contacts row shows, by email.
  private func consent(_ store: SQLiteStore, _ petition: String) throws -> [String: Set<Channel>] {
    var consent: [String: Set<Channel>] = [:]
    for row in try store.allRows(petition, .contacts) {
      var channels: Set<Channel> = []
      if row.optInEmail { channels.insert(.email) }
      if row.optInPhone { channels.insert(.phone) }
      if row.optInSms { channels.insert(.sms) }
      consent[row.email ?? "?"] = channels
    }
    return consent
  }

  /// Opt-ins and unsubscribes by email follow "newest wins" both ways, per person across
  /// petitions, and a duplicate sign's opt-in renews consent.
  @Test(arguments: StoreKind.allCases)
  func newestWinsByEmail(kind: StoreKind) throws {
    let store = try Fixture(kind).store
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    _ = try store.sign(signing("p", "ada@example.org", phone: "+12025550100", optIns: [.email, .sms]), at: at(march1))
    #expect(try consent(store, "p") == ["ada@example.org": [.email, .sms]])

    try store.unsubscribe(
      Unsubscription(subject: .canonicalEmail("ada@example.org"), channels: [.email]), at: at(march1 + 1))
    #expect(try consent(store, "p") == ["ada@example.org": [.sms]])

    try store.unsubscribe(
      Unsubscription(subject: .canonicalEmail("ada@example.org"), channels: [.email, .phone, .sms]), at: at(march1 + 2))
    #expect(try consent(store, "p").isEmpty)

    // A sign without an opt-in changes nothing; the person's consent shows on every petition.
    _ = try store.sign(signing("q", "ada@example.org"), at: at(march1 + 3))
    #expect(try consent(store, "q").isEmpty)
    // An explicit opt-in, even on a duplicate, is newer than the unsubscribe.
    let duplicate = try store.sign(signing("p", "ADA@example.org", optIns: [.email]), at: at(march1 + 4))
    #expect(duplicate.isDuplicate)
    #expect(try consent(store, "p") == ["ada@example.org": [.email]])
    #expect(try consent(store, "q") == ["ada@example.org": [.email]])
  }

  /// An unsubscribe by phone applies to every person who signed with that number, only to the
  /// channels asked, and to no one else.
  @Test(arguments: StoreKind.allCases)
  func byPhone(kind: StoreKind) throws {
    let store = try Fixture(kind).store
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    let shared = "+12025550123"
    _ = try store.sign(signing("p", "bob@example.org", phone: shared, optIns: [.email, .sms]), at: at(march1))
    // Carol used the shared phone on another petition only; the person is unsubscribed everywhere.
    _ = try store.sign(signing("p", "carol@example.org", optIns: [.email]), at: at(march1))
    _ = try store.sign(signing("q", "carol@example.org", phone: shared, optIns: [.phone, .sms]), at: at(march1))
    _ = try store.sign(signing("p", "dave@example.org", phone: "+12025550199", optIns: [.sms]), at: at(march1))

    try store.unsubscribe(Unsubscription(subject: .phone(shared), channels: [.phone, .sms]), at: at(march1 + 1))
    #expect(
      try consent(store, "p") == [
        "bob@example.org": [.email], "carol@example.org": [.email], "dave@example.org": [.sms],
      ])
    #expect(try consent(store, "q") == ["carol@example.org": [.email]])

    // Newest wins the other way too: Bob opts in to sms again.
    _ = try store.sign(signing("q", "bob@example.org", phone: shared, optIns: [.sms]), at: at(march1 + 2))
    #expect(try consent(store, "q")["bob@example.org"] == [.email, .sms])
  }

  /// Unsubscribing someone the store does not know succeeds and changes nothing.
  @Test(arguments: StoreKind.allCases)
  func unknownPerson(kind: StoreKind) throws {
    let store = try Fixture(kind).store
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.sign(signing("p", "ada@example.org", optIns: [.email]), at: at(march1))
    try store.unsubscribe(
      Unsubscription(subject: .canonicalEmail("nobody@example.org"), channels: Channel.allCases), at: at(march1))
    try store.unsubscribe(Unsubscription(subject: .phone("+4915112345678"), channels: Channel.allCases), at: at(march1))
    #expect(try consent(store, "p") == ["ada@example.org": [.email]])
    // Knowing nothing about them, a later opt-in is not blocked.
    _ = try store.sign(signing("p", "nobody@example.org", optIns: [.email]), at: at(march1 + 1))
    #expect(try consent(store, "p")["nobody@example.org"] == [.email])
  }

  /// Delivery rows never carry contact details; contacts rows only for people who may be
  /// contacted now, with the contact details as first given.
  @Test(arguments: StoreKind.allCases)
  func audiences(kind: StoreKind) throws {
    let store = try Fixture(kind).store
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.sign(
      signing("p", "Ada@Example.org", phone: "+12025550100", optIns: [.phone], source: "web"), at: at(march1))
    _ = try store.sign(signing("p", "bob@example.org", phone: "+12025550101"), at: at(march1 + 1))
    let delivery = try store.allRows("p", .delivery)
    #expect(delivery.count == 2)
    #expect(
      delivery.allSatisfy { $0.email == nil && $0.phone == nil && !$0.optInEmail && !$0.optInPhone && !$0.optInSms })
    let contacts = try store.allRows("p", .contacts)
    #expect(contacts.count == 1)
    #expect(contacts.first?.email == "Ada@Example.org")
    #expect(contacts.first?.phone == "+12025550100")
    #expect(contacts.first?.source == "web")
    #expect(contacts.first?.optInEmail == false)
    #expect(contacts.first?.optInPhone == true)
    #expect(contacts.first?.optInSms == false)
    let query = ExportQuery(petitionID: "p", audience: .contacts, window: TimeWindow(), after: nil, limit: nil)
    #expect(try store.exportRowCount(query) == 1)
  }
}
