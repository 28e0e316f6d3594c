import Petitions
import SQLite

extension SQLiteStore {
  public func createPetition(_ new: NewPetition, at time: Timestamp) throws(StoreError) -> Petition {
    petitionsInGroup[new.id] = nil
    return try write {
      let insert = try connection.cachedStatement(
        """
        INSERT INTO petitions (id, title, target, body, goal, status, created_at, confirmation)
        VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7)
        ON CONFLICT (id) DO NOTHING
        """)
      defer { insert.reset() }
      try insert.bind(new.id, at: 1)
      try insert.bind(new.title, at: 2)
      try insert.bind(new.target, at: 3)
      try insert.bind(new.body, at: 4)
      try insert.bind(new.goal, at: 5)
      try insert.bind(time.millisecondsSinceEpoch, at: 6)
      try insert.bind(new.confirmation.rawValue, at: 7)
      try insert.execute()
      // One statement: either the row went in or nothing was written.
      guard connection.changes == 1 else { throw StoreError.petitionAlreadyExists(new.id) }
      return Petition(
        id: new.id, title: new.title, target: new.target, body: new.body, goal: new.goal, status: .open,
        confirmation: new.confirmation, createdAt: time, closedAt: nil, count: 0)
    }
  }

  public func petition(id: String) throws(StoreError) -> Petition {
    try read { try petitionRow(id: id).petition }
  }

  public func petitions(status: PetitionStatus?) throws(StoreError) -> [Petition] {
    try read {
      // pk breaks ties in creation order (several petitions can be created in one millisecond).
      let select = try connection.cachedStatement(
        "SELECT \(PetitionRow.columns) FROM petitions WHERE ?1 IS NULL OR status = ?1 ORDER BY created_at, pk")
      defer { select.reset() }
      try select.bind(status?.rawValue, at: 1)
      var petitions: [Petition] = []
      while try select.step() {
        petitions.append(try PetitionRow(select).petition)
      }
      return petitions
    }
  }

  public func closePetition(id: String, at time: Timestamp) throws(StoreError) -> Petition {
    petitionsInGroup[id] = nil
    return try write {
      var petition = try petitionRow(id: id)
      guard petition.petition.status == .open else { return petition.petition }
      let update = try connection.cachedStatement(
        "UPDATE petitions SET status = 'closed', closed_at = ?2 WHERE pk = ?1")
      defer { update.reset() }
      try update.bind(petition.key, at: 1)
      try update.bind(time.millisecondsSinceEpoch, at: 2)
      try update.execute()
      petition.petition.status = .closed
      petition.petition.closedAt = time
      return petition.petition
    }
  }

  /// The petition with `id`, or `petitionNotFound`.
  func petitionRow(id: String) throws -> PetitionRow {
    let select = try connection.cachedStatement("SELECT \(PetitionRow.columns) FROM petitions WHERE id = ?1")
    defer { select.reset() }
    try select.bind(id, at: 1)
    guard try select.step() else { throw StoreError.petitionNotFound(id) }
    return try PetitionRow(select)
  }

  /// What writes need of a petition (not the whole row, whose body may be long); remembered for
  /// the length of a write group.
  func petitionState(id: String) throws -> PetitionState {
    if isInsideWriteGroup, let remembered = petitionsInGroup[id] { return remembered }
    let select = try connection.cachedStatement(
      "SELECT pk, status = 'open', confirmation = 'email', closed_at, anonymised_at IS NOT NULL FROM petitions WHERE id = ?1"
    )
    defer { select.reset() }
    try select.bind(id, at: 1)
    guard try select.step() else { throw StoreError.petitionNotFound(id) }
    let state = PetitionState(
      key: select.int64(at: 0), isOpen: select.bool(at: 1), needsConfirmation: select.bool(at: 2),
      closedAt: select.optionalInt64(at: 3), isAnonymised: select.bool(at: 4))
    if isInsideWriteGroup { petitionsInGroup[id] = state }
    return state
  }

  /// Changes the petition's counters (confirmed, pending, invalidated) by these amounts and
  /// records when the count first reaches the goal (written before the transaction commits).
  /// Returns the count after.
  @discardableResult
  func changeCounters(
    petitionKey: Int64, confirmed: Int = 0, pending: Int = 0, invalidated: Int = 0, at time: Timestamp
  ) throws -> Int {
    try counters.change(
      petitionKey: petitionKey, confirmed: confirmed, pending: pending, invalidated: invalidated, at: time,
      connection: connection)
  }

  /// The petition's count of confirmed signatures now (with this transaction's changes).
  func currentCount(petitionKey: Int64) throws -> Int {
    try counters.count(petitionKey: petitionKey, connection: connection)
  }
}

/// What writes need of a petition.
struct PetitionState {
  var key: Int64
  var isOpen: Bool
  var needsConfirmation: Bool
  var closedAt: Int64?
  var isAnonymised: Bool
}

/// A row of `petitions`: the petition and its integer key.
struct PetitionRow {
  static let columns = """
    pk, id, title, target, body, goal, status, created_at, closed_at, signature_count, confirmation, goal_reached_at,
    anonymised_at, pending_count, invalidated_count
    """

  var key: Int64
  var petition: Petition

  /// Reads the current row of a statement selecting `columns`.
  init(_ statement: Statement) throws {
    guard let status = PetitionStatus(rawValue: statement.string(at: 6)),
      let confirmation = ConfirmationMode(rawValue: statement.string(at: 10))
    else {
      throw StoreError.unavailable("the store holds a petition with an unknown status")
    }
    key = statement.int64(at: 0)
    petition = Petition(
      id: statement.string(at: 1), title: statement.string(at: 2), target: statement.string(at: 3),
      body: statement.string(at: 4), goal: statement.optionalInt64(at: 5).map { Int($0) }, status: status,
      confirmation: confirmation, createdAt: Timestamp(millisecondsSinceEpoch: statement.int64(at: 7)),
      closedAt: statement.optionalInt64(at: 8).map { Timestamp(millisecondsSinceEpoch: $0) },
      goalReachedAt: statement.optionalInt64(at: 11).map { Timestamp(millisecondsSinceEpoch: $0) },
      anonymisedAt: statement.optionalInt64(at: 12).map { Timestamp(millisecondsSinceEpoch: $0) },
      count: statement.int(at: 9), pending: statement.int(at: 13), invalidated: statement.int(at: 14))
  }
}
