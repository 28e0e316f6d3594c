import SQLite

/// Signature ids are never given out twice, without AUTOINCREMENT.
///
/// AUTOINCREMENT made SQLite record the largest row id ever used in `sqlite_sequence`: one
/// more b-tree page written to the WAL by every transaction that signs (measured: 1 of the 13
/// frames of a one-at-a-time sign). Without it, SQLite gives a new row the largest row id in
/// the table plus one, which reuses an id only when the newest signature was deleted, and the
/// only deletion of signatures is anonymisation's of pending ones. So anonymisation, when it
/// deletes the newest signature, records its id as `meta.signature_id_floor`, and a new
/// signature then takes an id above both (`SQLiteStore.insertSignature`). A store of the
/// previous release keeps its `sqlite_sequence` value as the floor.
enum SignatureIDFloor {
  /// Before the pending signatures of `petitionKey` are deleted: if the newest of them is the
  /// newest signature, the floor rises to its id.
  static func keepAbove(pendingOf petitionKey: Int64, in connection: Connection) throws(SQLiteError) {
    let raise = try connection.cachedStatement(
      """
      INSERT INTO meta (name, value)
      SELECT 'signature_id_floor', max(id) FROM signatures WHERE petition = ?1 AND status = 'pending'
      HAVING max(id) = (SELECT max(id) FROM signatures)
      ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)
      """)
    defer { raise.reset() }
    try raise.bind(petitionKey, at: 1)
    try raise.execute()
  }

  /// The migration: the floor from `sqlite_sequence` when it is above the newest signature,
  /// then AUTOINCREMENT dropped from the table's text. The table's content and its b-tree are
  /// the same either way (AUTOINCREMENT only changes how SQLite picks new row ids), so the
  /// schema text is edited in place, as `CheckConstraints` does, and the schema version
  /// bumped so every connection reads the new text.
  static func migrate(_ connection: Connection) throws(SQLiteError) {
    try connection.execute(
      """
      INSERT INTO meta (name, value)
      SELECT 'signature_id_floor', seq FROM sqlite_sequence
      WHERE name = 'signatures' AND seq > coalesce((SELECT max(id) FROM signatures), 0)
      ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value);
      DELETE FROM sqlite_sequence WHERE name = 'signatures';
      """)
    guard let text = try connection.textValue("PRAGMA schema_version"), let version = Int(text) else {
      throw SQLiteError(code: .error, message: "the store's schema version cannot be read")
    }
    try connection.execute("PRAGMA writable_schema = ON")
    do {
      try connection.execute(
        """
        UPDATE sqlite_schema SET sql = replace(sql, 'id INTEGER PRIMARY KEY AUTOINCREMENT', 'id INTEGER PRIMARY KEY')
        WHERE type = 'table' AND name = 'signatures'
        """)
      try connection.execute("PRAGMA schema_version = \(version + 1)")
    } catch {
      try? connection.execute("PRAGMA writable_schema = OFF")
      throw error
    }
    try connection.execute("PRAGMA writable_schema = OFF")
  }
}
