import Petitions

extension PostgresStore {
  static let petitionColumns = """
    p.pk, p.id, p.title, p.target, p.body, p.goal, p.status, p.confirmation, p.created_at, p.closed_at,
    p.goal_reached_at, p.anonymised_at,
    coalesce(c.confirmed, 0), coalesce(c.pending, 0), coalesce(c.invalidated, 0)
    """
  static let petitionFrom = """
    petitions AS p LEFT JOIN LATERAL (
      SELECT sum(confirmed) AS confirmed, sum(pending) AS pending, sum(invalidated) AS invalidated
      FROM counters WHERE petition = p.pk) AS c ON true
    """

  public func createPetition(_ new: NewPetition, at time: Timestamp) throws(StoreError) -> Petition {
    try write {
      let result = try connection.query(
        """
        INSERT INTO petitions (id, title, target, body, goal, status, confirmation, created_at)
        VALUES ($1, $2, $3, $4, $5, 'open', $6, $7)
        ON CONFLICT (id) DO NOTHING
        """,
        [
          new.id, new.title, new.target, new.body, new.goal.map { String($0) }, new.confirmation.rawValue,
          String(time.millisecondsSinceEpoch),
        ])
      guard result.affectedRows == 1 else { throw StoreError.petitionAlreadyExists(new.id) }
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
      let result = try connection.query(
        """
        SELECT \(Self.petitionColumns) FROM \(Self.petitionFrom)
        WHERE $1::text IS NULL OR p.status = $1 ORDER BY p.created_at, p.pk
        """, [status?.rawValue])
      return try (0..<result.rowCount).map { row in try Self.petition(result, row).petition }
    }
  }

  public func closePetition(id: String, at time: Timestamp) throws(StoreError) -> Petition {
    try write {
      // The petition's lock, as signs and imports take it before they read whether it is open
      // (Schema migration 9): the close waits for groups signing into it to commit, so the count
      // it answers is final, and signs waiting behind it find it closed.
      try connection.query(
        "SELECT pg_advisory_xact_lock(1886352498, pk::integer) FROM petitions WHERE id = $1", [id])
      let result = try connection.query(
        "UPDATE petitions SET status = 'closed', closed_at = $2 WHERE id = $1 AND status = 'open'",
        [id, String(time.millisecondsSinceEpoch)])
      _ = result
      return try petitionRow(id: id).petition
    }
  }

  public func anonymisePetition(id: String, at time: Timestamp) throws(StoreError) -> Petition {
    try write {
      // Locks the petition row: a concurrent anonymise waits, then finds it done.
      let lock = try connection.query(
        "SELECT pk, status, anonymised_at IS NOT NULL FROM petitions WHERE id = $1 FOR UPDATE", [id])
      guard lock.rowCount == 1 else { throw StoreError.petitionNotFound(id) }
      guard lock.string(0, 1) == "closed" else { throw StoreError.petitionOpen(id) }
      if lock.bool(0, 2) { return try petitionRow(id: id).petition }
      let key = lock.string(0, 0)
      // Consent gathered through the petition goes. Every event recorded through a petition
      // (sign, confirm, import) belongs to someone with a signature on it, kept while the
      // event is (erasure removes both), so the petition's signers, pending ones included,
      // lead to the events through the person index: no index by petition to keep up.
      try connection.query(
        """
        DELETE FROM consent_events
        WHERE petition = $2
          AND person_key IN (SELECT person_key FROM signatures WHERE petition = $1 AND person_key IS NOT NULL)
        """, [key, id])
      try connection.query("DELETE FROM signatures WHERE petition = $1 AND status = 'pending'", [key])
      // Token hashes stay (they say nothing of anyone): confirming again answers as before.
      try connection.query(
        """
        UPDATE signatures SET person_key = NULL, email = NULL, first_name = NULL, last_name = NULL, phone = NULL,
          comment = NULL, pending_opt_ins = 0, pending_notice = NULL
        WHERE petition = $1
        """, [key])
      // The petition's invalidation records forget the emails and phones they matched by.
      for field in ["email", "phone"] {
        try connection.query(
          """
          UPDATE invalidations SET match = jsonb_set(match::jsonb, '{\(field)}', to_jsonb($2::text))::text
          WHERE petition = $1 AND match::jsonb ? '\(field)'
          """, [key, ErasedIdentity.marker])
      }
      try connection.query(
        "UPDATE petitions SET anonymised_at = $2 WHERE pk = $1", [key, String(time.millisecondsSinceEpoch)])
      return try petitionRow(id: id).petition
    }
  }

  /// The petition with `id`, or `petitionNotFound`.
  func petitionRow(id: String) throws -> (key: Int64, petition: Petition) {
    let result = try connection.query(
      "SELECT \(Self.petitionColumns) FROM \(Self.petitionFrom) WHERE p.id = $1", [id])
    guard result.rowCount == 1 else { throw StoreError.petitionNotFound(id) }
    return try Self.petition(result, 0)
  }

  static func petition(_ result: PGResult, _ row: Int) throws -> (key: Int64, petition: Petition) {
    guard let status = PetitionStatus(rawValue: result.string(row, 6)),
      let confirmation = ConfirmationMode(rawValue: result.string(row, 7))
    else {
      throw StoreError.unavailable("the store holds a petition with an unknown status")
    }
    func time(_ column: Int) -> Timestamp? {
      result.optionalInt64(row, column).map { Timestamp(millisecondsSinceEpoch: $0) }
    }
    let petition = Petition(
      id: result.string(row, 1), title: result.string(row, 2), target: result.string(row, 3),
      body: result.string(row, 4), goal: result.optionalInt64(row, 5).map { Int($0) }, status: status,
      confirmation: confirmation, createdAt: Timestamp(millisecondsSinceEpoch: result.int64(row, 8)),
      closedAt: time(9), goalReachedAt: time(10), anonymisedAt: time(11), count: result.int(row, 12),
      pending: result.int(row, 13), invalidated: result.int(row, 14))
    return (result.int64(row, 0), petition)
  }
}
