import Petitions
import SQLite
import SQLiteStore
import Testing

@Suite("Write groups")
struct WriteGroupTests {
  /// Several operations commit together; the ones that fail with a domain error write nothing
  /// and do not affect the others.
  @Test(arguments: StoreKind.allCases)
  func failingOperationsDoNotAffectOthers(kind: StoreKind) throws {
    let store = try Fixture(kind).store
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.createPetition(newPetition("closed"), at: at(march1))
    _ = try store.closePetition(id: "closed", at: at(march1))

    var results: [String] = []
    func record<T>(_ label: String, _ body: () throws(StoreError) -> T) {
      do {
        _ = try body()
        results.append("\(label) ok")
      } catch {
        results.append("\(label) \(error)")
      }
    }
    try store.performWriteGroup {
      record("create q") { () throws(StoreError) in try store.createPetition(newPetition("q"), at: at(march1 + 1)) }
      record("sign p") { () throws(StoreError) in
        try store.sign(signing("p", "ada@example.org", optIns: [.email]), at: at(march1 + 2))
      }
      record("sign unknown") { () throws(StoreError) in
        try store.sign(signing("nope", "bob@example.org", optIns: [.email]), at: at(march1 + 3))
      }
      record("sign closed") { () throws(StoreError) in
        try store.sign(signing("closed", "bob@example.org", optIns: [.email]), at: at(march1 + 3))
      }
      record("create p") { () throws(StoreError) in try store.createPetition(newPetition("p"), at: at(march1 + 4)) }
      record("sign q") { () throws(StoreError) in try store.sign(signing("q", "bob@example.org"), at: at(march1 + 5)) }
      record("sign p again") { () throws(StoreError) in
        let outcome = try store.sign(signing("p", "ADA@example.org"), at: at(march1 + 6))
        #expect(outcome.isDuplicate && outcome.count == 1)
      }
    }
    #expect(
      results == [
        "create q ok", "sign p ok", "sign unknown petitionNotFound(\"nope\")",
        "sign closed petitionClosed(\"closed\")", "create p petitionAlreadyExists(\"p\")", "sign q ok",
        "sign p again ok",
      ])
    #expect(try store.total("p") == 1)
    #expect(try store.total("q") == 1)
    #expect(try store.total("closed") == 0)
    #expect(try store.petition(id: "p").title == "Title of p")
    // Bob's refused opt-ins were not recorded.
    #expect(try store.allRows("q", .contacts).isEmpty)
  }

  /// A group is invisible to another connection until it commits; while it holds the write
  /// lock, the other connection's writes wait for the busy timeout, then fail with
  /// `unavailable`, having written nothing.
  @Test func lockedStoreIsUnavailable() throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("shared.sqlite3")
    let writer = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    let other = try SQLiteStore(path: path, busyTimeoutMilliseconds: 50)
    _ = try writer.createPetition(newPetition("p"), at: at(march1))

    try writer.performWriteGroup {
      _ = try? writer.sign(signing("p", "ada@example.org"), at: at(march1))
      #expect((try? other.total("p")) == 0)
      let sign = storeError { () throws(StoreError) in try other.sign(signing("p", "bob@example.org"), at: at(march1)) }
      #expect(isUnavailable(sign))
      let group = storeError { () throws(StoreError) in
        try other.performWriteGroup { _ = try? other.sign(signing("p", "carol@example.org"), at: at(march1)) }
      }
      #expect(isUnavailable(group))
      let create = storeError { () throws(StoreError) in try other.createPetition(newPetition("q"), at: at(march1)) }
      #expect(isUnavailable(create))
    }
    #expect(try other.total("p") == 1)
    #expect(try other.allRows("p", .delivery).count == 1)
    #expect(storeError { () throws(StoreError) in try other.petition(id: "q") } == .petitionNotFound("q"))
  }

  /// A group started inside a group is part of it.
  @Test func nestedGroup() throws {
    let store = try SQLiteStore(path: ":memory:", busyTimeoutMilliseconds: 0)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    try store.performWriteGroup {
      _ = try? store.sign(signing("p", "a@example.org"), at: at(march1))
      try? store.performWriteGroup {
        _ = try? store.sign(signing("p", "b@example.org"), at: at(march1))
      }
      _ = try? store.sign(signing("p", "c@example.org"), at: at(march1))
    }
    #expect(try store.total("p") == 3)
  }

  /// A store-level failure inside an operation fails that operation and the whole group with
  /// `unavailable`: nothing of the group is written, and later operations in it write nothing
  /// (even when SQLite rolled the transaction back itself). Outside a group, only that
  /// operation fails.
  @Test(arguments: ["ABORT", "ROLLBACK"])
  func storeFailureDoomsTheGroup(raise: String) throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("petitions.sqlite3")
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    // Injected from a second connection, as a disk error would strike: one signer fails.
    let saboteur = try Connection(path: path)
    try saboteur.execute(
      """
      CREATE TRIGGER fail_boom BEFORE INSERT ON signatures WHEN NEW.first_name = 'Boom'
      BEGIN SELECT RAISE(\(raise), 'injected failure'); END
      """)

    var errors: [StoreError?] = []
    let group = storeError { () throws(StoreError) in
      try store.performWriteGroup {
        errors.append(storeError { () throws(StoreError) in try store.sign(signing("p", "a@x.org"), at: at(march1)) })
        errors.append(
          storeError { () throws(StoreError) in
            try store.sign(signing("p", "b@x.org", firstName: "Boom"), at: at(march1))
          })
        errors.append(storeError { () throws(StoreError) in try store.sign(signing("p", "c@x.org"), at: at(march1)) })
        errors.append(
          storeError { () throws(StoreError) in try store.createPetition(newPetition("q"), at: at(march1)) })
      }
    }
    #expect(isUnavailable(group))
    #expect(errors.count == 4)
    #expect(errors.first.map { $0 == nil } == true)
    #expect(errors.dropFirst().allSatisfy(isUnavailable))
    #expect(try store.total("p") == 0)
    #expect(try store.petitions(status: nil).map(\.id) == ["p"])

    // Outside a group the failing operation fails alone.
    #expect(
      isUnavailable(
        storeError { () throws(StoreError) in
          try store.sign(signing("p", "b@x.org", firstName: "Boom"), at: at(march1))
        }))
    #expect(try store.sign(signing("p", "c@x.org"), at: at(march1)).count == 1)
    try store.performWriteGroup { _ = try? store.sign(signing("p", "d@x.org"), at: at(march1)) }
    #expect(try store.total("p") == 2)
  }
  /// A group keeps the petitions' counters in memory and writes them once at the commit: signs
  /// answer the running count, a read inside the group sees it, an operation that changes the
  /// counters by SQL (invalidate) sees them, and the goal's time is the sign that reached it.
  /// Another process sees nothing before the commit and the exact counters after it.
  @Test func countersOfAGroupAreExactInsideAndAfterIt() throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("petitions.sqlite3")
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    let other = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    _ = try store.createPetition(newPetition("p", goal: 2), at: at(march1))

    var counts: [Int] = []
    try store.performWriteGroup {
      for (offset, email) in ["a@x.org", "b@x.org", "c@x.org"].enumerated() {
        counts.append((try? store.sign(signing("p", email), at: at(march1 + 1 + Int64(offset))).count) ?? -1)
      }
      counts.append((try? store.sign(signing("p", "A@x.org"), at: at(march1 + 9)).count) ?? -1)
      let inside = try? store.petition(id: "p")
      #expect(inside?.count == 3 && inside?.goalReachedAt == at(march1 + 2))
      let invalidated = try? store.invalidate(
        Invalidation(
          petitionID: "p", reason: "fraud", match: InvalidationMatch(canonicalEmail: "a@x.org"),
          matchDescription: "{}", dryRun: false), at: at(march1 + 10))
      #expect(invalidated?.count == 2)
      counts.append((try? store.sign(signing("p", "d@x.org"), at: at(march1 + 11)).count) ?? -1)
    }
    #expect(counts == [1, 2, 3, 3, 3])
    let after = try other.petition(id: "p")
    #expect(after.count == 3 && after.invalidated == 1 && after.pending == 0)
    #expect(after.goalReachedAt == at(march1 + 2))
    #expect(try other.total("p") == 3)
  }
}
