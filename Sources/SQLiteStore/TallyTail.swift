import Petitions
import SQLite

/// The newest signatures are counted from their rows, not yet from the aggregates: the tail.
///
/// `tallies` and `hourly_tallies` (see `Tallies`) count the confirmed signatures with an id up
/// to `meta.tally_watermark`; the signatures above it, the tail, are counted by reading them
/// (a range of the table's own b-tree, from the watermark to the end). `count` adds the two in
/// one snapshot, so every answer stays exact. Why: a one-at-a-time sign upserted 8 aggregate
/// rows in its own transaction (callgrind: ~74,000 of its ~380,000 instructions, and 2 to 4 of
/// the ~10 pages its commit writes to the WAL and syncs); now the aggregates take in the tail
/// all at once when it has `Limits.foldAt` signatures, one grouped upsert per distinct key.
///
/// - A write group whose signatures are the whole tail (it started with none, and signed or
///   imported at least `Limits.applyGroupAt`) hands its in-memory sums (`tailTallies`) to the tables
///   and moves the watermark: pipelined signs cost what they did, and leave no tail.
/// - Otherwise the tail is folded from its rows by SQL once it reaches `Limits.foldAt` signatures, so
///   a count reads at most about that many rows more, whatever the petition's size.
/// - Status changes of signatures already counted (confirm, invalidate, revalidate) change the
///   aggregates as before; those of signatures in the tail change only the rows, which is
///   what the tail is counted from.
struct TallyTail {
  /// Signatures with an id up to this are in the aggregates.
  var watermark: Int64
  /// The largest signature id when the transaction first needed the tail.
  var newestAtStart: Int64

  struct Limits {
    /// The tail is folded from its rows once it holds this many signatures.
    var foldAt: Int64 = 512
    /// A transaction that signed at least this many, with no tail before it, hands over its
    /// in-memory sums.
    var applyGroupAt: Int64 = 64
  }

  static func read(_ connection: Connection) throws(SQLiteError) -> TallyTail {
    let select = try connection.cachedStatement(
      """
      SELECT coalesce((SELECT value FROM meta WHERE name = 'tally_watermark'), 0),
        coalesce((SELECT max(id) FROM signatures), 0)
      """)
    defer { select.reset() }
    try select.step()
    return TallyTail(watermark: select.int64(at: 0), newestAtStart: select.int64(at: 1))
  }

  /// The watermark alone, for a count (inside its read snapshot).
  static func watermark(_ connection: Connection) throws(SQLiteError) -> Int64 {
    let select = try connection.cachedStatement(
      "SELECT coalesce((SELECT value FROM meta WHERE name = 'tally_watermark'), 0)")
    defer { select.reset() }
    try select.step()
    return select.int64(at: 0)
  }

  static func setWatermark(_ value: Int64, _ connection: Connection) throws(SQLiteError) {
    let update = try connection.cachedStatement(
      """
      INSERT INTO meta (name, value) VALUES ('tally_watermark', ?1)
      ON CONFLICT (name) DO UPDATE SET value = excluded.value
      """)
    defer { update.reset() }
    try update.bind(value, at: 1)
    try update.execute()
  }

  /// Adds the confirmed signatures with ids in (`after`, `upTo`] to the aggregates, grouped in
  /// SQL per petition and key.
  static func fold(after: Int64, upTo: Int64, _ connection: Connection) throws(SQLiteError) {
    let rows = "FROM signatures WHERE id > ?1 AND id <= ?2 AND status = 'confirmed'"
    let day = "(signed_at - (signed_at % 86400000 + 86400000) % 86400000) / 86400000"
    let hour = "(signed_at - (signed_at % 3600000 + 3600000) % 3600000) / 3600000"
    let keys = ["postal_code", "country", "coalesce(source, '')"]
    var statements: [String] = []
    for (dimension, key) in zip(0..., [day] + keys) {
      statements.append(
        """
        INSERT INTO tallies (petition, dimension, key, count)
        SELECT petition, \(dimension), \(key) AS k, count(*) \(rows) GROUP BY petition, k
        ON CONFLICT (petition, dimension, key) DO UPDATE SET count = count + excluded.count
        """)
    }
    for (dimension, key) in zip(0..., ["''"] + keys) {
      statements.append(
        """
        INSERT INTO hourly_tallies (petition, dimension, hour, key, count)
        SELECT petition, \(dimension), \(hour) AS h, \(key) AS k, count(*) \(rows) GROUP BY petition, h, k
        ON CONFLICT (petition, dimension, hour, key) DO UPDATE SET count = count + excluded.count
        """)
    }
    for sql in statements {
      let statement = try connection.cachedStatement(sql)
      defer { statement.reset() }
      try statement.bind(after, at: 1)
      try statement.bind(upTo, at: 2)
      try statement.execute()
    }
  }
}

extension SQLiteStore {
  /// The tail as this transaction found it, read once (the transaction holds the write lock).
  func currentTallyTail() throws -> TallyTail {
    if let tallyTail { return tallyTail }
    let tail = try TallyTail.read(connection)
    tallyTail = tail
    return tail
  }

  /// Counts a change of a confirmed signature: into the aggregates' pending changes when the
  /// signature is counted there, else into the tail's in-memory sums.
  func countChange(
    rowID: Int64, petition: Int64, signedAt: Int64, postalCode: String, country: String, source: String?
  ) throws {
    if rowID > (try currentTallyTail()).watermark {
      tailTallies.add(
        petition: petition, signedAt: signedAt, postalCode: postalCode, country: country, source: source, delta: 1)
    } else {
      tallies.add(
        petition: petition, signedAt: signedAt, postalCode: postalCode, country: country, source: source, delta: 1)
    }
  }

  /// Just before a commit: the aggregates' pending changes, then the tail handed over or
  /// folded when it is due (see `TallyTail`).
  func applyTalliesBeforeCommit() throws(SQLiteError) {
    try tallies.apply(to: connection)
    defer { forgetTail() }
    guard let tail = tallyTail else { return }
    let select = try connection.cachedStatement("SELECT coalesce(max(id), 0) FROM signatures")
    defer { select.reset() }
    try select.step()
    let newest = select.int64(at: 0)
    select.reset()
    guard newest > tail.watermark else { return }
    if tailTalliesExact, tail.newestAtStart <= tail.watermark, newest - tail.watermark >= tailLimits.applyGroupAt {
      try tailTallies.apply(to: connection)
    } else if newest - tail.watermark >= tailLimits.foldAt {
      try TallyTail.fold(after: tail.watermark, upTo: newest, connection)
    } else {
      return
    }
    try TallyTail.setWatermark(newest, connection)
  }

  /// The transaction ended (committed or rolled back): the next one reads the tail afresh.
  func forgetTail() {
    tallyTail = nil
    tailTallies.removeAll()
    tailTalliesExact = true
  }
}
