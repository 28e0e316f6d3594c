import SQLite

/// The third migration: the CHECK constraints that listed three or more values with `IN`
/// become comparisons joined by `OR`.
///
/// SQLite evaluates `x IN ('a', 'b', 'c')` in a CHECK constraint by building a temporary
/// lookup table each time the statement runs: a new b-tree, its page zeroed, for every
/// `INSERT INTO signatures` and two for every `INSERT INTO consent_events` (measured: 2 µs per
/// insert of 4 µs on a one-column table; ~25,000 instructions each in callgrind, a fifth of an
/// imported row). The comparisons allow exactly the same values and build nothing.
///
/// A CHECK constraint is not stored in any row or index, so the tables are not rebuilt: the
/// schema's text is edited in place, as SQLite documents for constraint changes that leave the
/// file's content as it is (https://sqlite.org/lang_altertable.html#otheralter), and the schema
/// version is bumped so every connection, in every process, reads the new text.
enum CheckConstraints {
  static let rewrites: [(table: String, from: String, to: String)] = [
    (
      "signatures", "CHECK (status IN ('confirmed', 'pending', 'invalidated'))",
      "CHECK (status = 'confirmed' OR status = 'pending' OR status = 'invalidated')"
    ),
    (
      "consent_events", "CHECK (channel IN ('email', 'phone', 'sms'))",
      "CHECK (channel = 'email' OR channel = 'phone' OR channel = 'sms')"
    ),
    (
      "consent_events", "CHECK (via IN ('sign', 'confirm', 'import', 'unsubscribe'))",
      "CHECK (via = 'sign' OR via = 'confirm' OR via = 'import' OR via = 'unsubscribe')"
    ),
  ]

  static func migrate(_ connection: Connection) throws(SQLiteError) {
    guard let text = try connection.textValue("PRAGMA schema_version"), let version = Int(text) else {
      throw SQLiteError(code: .error, message: "the store's schema version cannot be read")
    }
    try connection.execute("PRAGMA writable_schema = ON")
    do {
      for rewrite in rewrites {
        let update = try connection.prepare(
          "UPDATE sqlite_schema SET sql = replace(sql, ?2, ?3) WHERE type = 'table' AND name = ?1")
        try update.bind(rewrite.table, at: 1)
        try update.bind(rewrite.from, at: 2)
        try update.bind(rewrite.to, at: 3)
        try update.execute()
      }
      try connection.execute("PRAGMA schema_version = \(version + 1)")
    } catch {
      try? connection.execute("PRAGMA writable_schema = OFF")
      throw error
    }
    try connection.execute("PRAGMA writable_schema = OFF")
  }
}
