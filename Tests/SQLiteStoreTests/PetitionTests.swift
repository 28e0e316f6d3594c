import Petitions
import SQLiteStore
import Testing

@Suite("Petitions")
struct PetitionTests {
  /// A created petition reads back equal, open, with count 0; text (including an empty body
  /// and non-ASCII) round-trips exactly.
  @Test(arguments: StoreKind.allCases)
  func createAndGet(kind: StoreKind) throws {
    let store = try Fixture(kind).store
    let new = NewPetition(id: "save-the-park", title: "Save the park 🌳", target: "Zoë, Mayor", body: "", goal: 500)
    let created = try store.createPetition(new, at: at(march1))
    #expect(
      created
        == Petition(
          id: "save-the-park", title: "Save the park 🌳", target: "Zoë, Mayor", body: "", goal: 500, status: .open,
          createdAt: at(march1), closedAt: nil, count: 0))
    #expect(try store.petition(id: "save-the-park") == created)
    let noGoal = try store.createPetition(newPetition("no-goal"), at: at(march1 + 1))
    #expect(try store.petition(id: "no-goal").goal == nil)
    #expect(try store.petition(id: "no-goal").body == noGoal.body)
  }

  /// Creating an id that exists fails with petitionAlreadyExists and leaves the first intact.
  @Test(arguments: StoreKind.allCases)
  func createExisting(kind: StoreKind) throws {
    let store = try Fixture(kind).store
    let first = try store.createPetition(newPetition("p"), at: at(march1))
    let error = storeError { () throws(StoreError) in
      try store.createPetition(
        NewPetition(id: "p", title: "Other", target: "x", body: "y", goal: 1), at: at(march1 + 5))
    }
    #expect(error == .petitionAlreadyExists("p"))
    #expect(try store.petition(id: "p") == first)
  }

  /// Unknown ids fail with petitionNotFound for get and close.
  @Test(arguments: StoreKind.allCases)
  func unknownPetition(kind: StoreKind) throws {
    let store = try Fixture(kind).store
    #expect(storeError { () throws(StoreError) in try store.petition(id: "nope") } == .petitionNotFound("nope"))
    #expect(
      storeError { () throws(StoreError) in try store.closePetition(id: "nope", at: at(march1)) }
        == .petitionNotFound("nope"))
  }

  /// The list is ordered by createdAt, then creation order within a millisecond, and filters by status.
  @Test(arguments: StoreKind.allCases)
  func list(kind: StoreKind) throws {
    let store = try Fixture(kind).store
    _ = try store.createPetition(newPetition("c"), at: at(march1 + 10))
    _ = try store.createPetition(newPetition("b"), at: at(march1))
    _ = try store.createPetition(newPetition("a"), at: at(march1 + 10))
    _ = try store.closePetition(id: "a", at: at(march1 + 20))
    #expect(try store.petitions(status: nil).map(\.id) == ["b", "c", "a"])
    #expect(try store.petitions(status: .open).map(\.id) == ["b", "c"])
    #expect(try store.petitions(status: .closed).map(\.id) == ["a"])
  }

  /// Closing sets status and closedAt; closing again returns the petition unchanged.
  @Test(arguments: StoreKind.allCases)
  func close(kind: StoreKind) throws {
    let store = try Fixture(kind).store
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.sign(signing("p", "a@example.org"), at: at(march1 + 1))
    let closed = try store.closePetition(id: "p", at: at(march1 + 100))
    #expect(closed.status == .closed)
    #expect(closed.closedAt == at(march1 + 100))
    #expect(closed.count == 1)
    #expect(try store.petition(id: "p") == closed)
    #expect(try store.closePetition(id: "p", at: at(march1 + 999)) == closed)
  }
}
