import Petitions
import SQLite

extension SQLiteStore {
  public func createPetition(_ new: NewPetition, at time: Timestamp) throws(StoreError) -> Petition {
    petitionsInGroup[new.id] = nil
    return try write {
      let insert = try connection.cachedStatement(
        """
        INSERT INTO petitions (id, title, target, body, goal, status, created_at)
        VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6)
        ON CONFLICT (id) DO NOTHING
        """)
      defer { insert.reset() }
      try insert.bind(new.id, at: 1)
      try insert.bind(new.title, at: 2)
      try insert.bind(new.target, at: 3)
      try insert.bind(new.body, at: 4)
      try insert.bind(new.goal, at: 5)
      try insert.bind(time.millisecondsSinceEpoch, at: 6)
      try insert.execute()
      // One statement: either the row went in or nothing was written.
      guard connection.changes == 1 else { throw StoreError.petitionAlreadyExists(new.id) }
      return Petition(
        id: new.id, title: new.title, target: new.target, body: new.body, goal: new.goal, status: .open,
        createdAt: time, closedAt: nil, count: 0)
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
}

/// A row of `petitions`: the petition and its integer key.
struct PetitionRow {
  static let columns = "pk, id, title, target, body, goal, status, created_at, closed_at, signature_count"

  var key: Int64
  var petition: Petition

  /// Reads the current row of a statement selecting `columns`.
  init(_ statement: Statement) throws {
    guard let status = PetitionStatus(rawValue: statement.string(at: 6)) else {
      throw StoreError.unavailable("the store holds a petition with an unknown status")
    }
    key = statement.int64(at: 0)
    petition = Petition(
      id: statement.string(at: 1), title: statement.string(at: 2), target: statement.string(at: 3),
      body: statement.string(at: 4), goal: statement.optionalInt64(at: 5).map { Int($0) }, status: status,
      createdAt: Timestamp(millisecondsSinceEpoch: statement.int64(at: 7)),
      closedAt: statement.optionalInt64(at: 8).map { Timestamp(millisecondsSinceEpoch: $0) },
      count: statement.int(at: 9))
  }
}
