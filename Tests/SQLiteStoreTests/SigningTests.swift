import Petitions
import SQLiteStore
import Testing

@Suite("Signing")
struct SigningTests {
  /// A first signature counts; signing again with the same canonical email is a duplicate that
  /// returns the first id, keeps the count and keeps the first signature's data.
  @Test(arguments: StoreKind.allCases)
  func signAndDuplicate(kind: StoreKind) throws {
    let store = try Fixture(kind).store
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    let first = try store.sign(
      signing("p", "Ada@Example.org", firstName: "Ada", comment: "first"), at: at(march1 + 1))
    #expect(first.isDuplicate == false)
    #expect(first.count == 1)
    #expect(first.petitionID == "p")
    let second = try store.sign(signing("p", "bob@example.org"), at: at(march1 + 2))
    #expect(second.count == 2)
    #expect(second.signatureID != first.signatureID)

    let again = try store.sign(
      signing("p", "ada@example.org", firstName: "Adelaide", comment: "second"), at: at(march1 + 3))
    #expect(again == SignOutcome(signatureID: first.signatureID, petitionID: "p", isDuplicate: true, count: 2))
    #expect(try store.total("p") == 2)
    #expect(try store.petition(id: "p").count == 2)

    let rows = try store.allRows("p", .contacts)
    #expect(rows.isEmpty)  // nobody opted in
    let delivered = try store.allRows("p", .delivery)
    #expect(delivered.map(\.signatureID) == [first.signatureID, second.signatureID])
    #expect(delivered[0].firstName == "Ada")
    #expect(delivered[0].comment == "first")
    #expect(delivered[0].signedAt == at(march1 + 1))
  }

  /// Signing a closed petition fails with petitionClosed, an unknown one with petitionNotFound,
  /// and neither writes anything.
  @Test(arguments: StoreKind.allCases)
  func closedAndUnknown(kind: StoreKind) throws {
    let store = try Fixture(kind).store
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.sign(signing("p", "a@example.org"), at: at(march1 + 1))
    _ = try store.closePetition(id: "p", at: at(march1 + 2))
    let closed = storeError { () throws(StoreError) in
      try store.sign(signing("p", "b@example.org", optIns: [.email]), at: at(march1 + 3))
    }
    #expect(closed == .petitionClosed("p"))
    let unknown = storeError { () throws(StoreError) in
      try store.sign(signing("q", "b@example.org", optIns: [.email]), at: at(march1 + 3))
    }
    #expect(unknown == .petitionNotFound("q"))
    #expect(try store.total("p") == 1)
    // The refused opt-ins were not recorded either.
    _ = try store.createPetition(newPetition("r"), at: at(march1))
    _ = try store.sign(signing("r", "b@example.org"), at: at(march1 + 4))
    #expect(try store.allRows("r", .contacts).isEmpty)
  }

  /// Signature ids sort, as strings, in the order signatures were made (across base-36 digits).
  @Test func signatureIDsSortInInsertionOrder() throws {
    let store = try SQLiteStore(path: ":memory:", busyTimeoutMilliseconds: 0)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    var ids: [String] = []
    for index in 0..<80 {
      let petition = index.isMultiple(of: 3) ? "q" : "p"
      ids.append(try store.sign(signing(petition, "person\(index)@example.org"), at: at(march1)).signatureID)
    }
    #expect(ids.allSatisfy { $0.hasPrefix("sig_") })
    #expect(zip(ids, ids.dropFirst()).allSatisfy { $0.utf8.lexicographicallyPrecedes($1.utf8) })
  }
}
