/// Brings a database schema up to date with an ordered list of migrations.
///
/// Each migration runs in its own IMMEDIATE transaction together with the record of its
/// identifier in `schema_migrations`, so a migration is applied whole or not at all, and two
/// processes opening the same new database apply it once. Migrations are append-only: once
/// released, a migration is never edited; a change is a new migration.
public struct Migrator: Sendable {
  /// One step of the schema's history.
  public struct Migration: Sendable {
    public let identifier: String
    let apply: @Sendable (Connection) throws(SQLiteError) -> Void
  }

  /// The registered migrations, in the order they are applied.
  public private(set) var migrations: [Migration] = []

  public init() {}

  /// Appends a migration that runs `apply` on the connection, inside its transaction.
  public mutating func registerMigration(
    _ identifier: String, _ apply: @escaping @Sendable (Connection) throws(SQLiteError) -> Void
  ) {
    precondition(!migrations.contains { $0.identifier == identifier }, "duplicate migration \(identifier)")
    migrations.append(Migration(identifier: identifier, apply: apply))
  }

  /// Appends a migration that runs `sql` (one or more statements).
  public mutating func registerMigration(_ identifier: String, sql: String) {
    registerMigration(identifier) { connection throws(SQLiteError) in try connection.execute(sql) }
  }

  /// Applies the migrations the database does not have yet, in order.
  ///
  /// Fails if the database records a migration this list does not know: it was written by a
  /// newer version, whose schema this code must not touch.
  public func migrate(_ connection: Connection) throws(SQLiteError) {
    let applied = try appliedIdentifiers(in: connection)
    let known = Set(migrations.map(\.identifier))
    if let unknown = applied.first(where: { !known.contains($0) }) {
      throw SQLiteError(
        code: .error, message: "the database has migration \(unknown), unknown to this version (a newer schema)")
    }
    // Checking up front keeps the usual start-up (nothing to do) free of write locks.
    guard migrations.contains(where: { !applied.contains($0.identifier) }) else { return }

    // Several servers starting at once on a new store: one migrates, the others wait for it.
    // They wait for the write lock in turns of 50 ms, each followed by a look without a lock at
    // whether the migrations are all applied meanwhile: a blind wait could starve behind
    // servers already signing back to back (the lock is free only between their commits) and
    // end the start-up at the busy timeout ("the store is locked by another process").
    let budget = connection.busyTimeoutMilliseconds
    let start = ContinuousClock.now
    connection.setBusyTimeout(milliseconds: min(budget, 50))
    defer { connection.setBusyTimeout(milliseconds: budget) }
    while true {
      do throws(SQLiteError) {
        try applyMissing(connection)
        return
      } catch  where error.code == .busy {
        let missing = try Set(migrations.map(\.identifier)).subtracting(appliedIdentifiers(in: connection))
        if missing.isEmpty { return }
        if ContinuousClock.now - start >= .milliseconds(budget) { throw error }
      }
    }
  }

  /// Applies the migrations not applied yet, each in its own write transaction.
  private func applyMissing(_ connection: Connection) throws(SQLiteError) {
    if try !tableExists(in: connection) {
      try connection.inTransaction(.immediate) { () throws(SQLiteError) in
        try connection.execute(
          """
          CREATE TABLE IF NOT EXISTS schema_migrations (
            identifier TEXT PRIMARY KEY NOT NULL,
            position INTEGER NOT NULL
          ) STRICT
          """)
      }
    }
    for (position, migration) in migrations.enumerated() {
      // Looked up first without a lock: several servers started at once on a new store find
      // the migrations applied by the first, and take no write lock for them. Taking it for each
      // migration anyway, against servers already signing back to back, starved a starting
      // server past its busy timeout (exit 1, "the store is locked by another process").
      if try appliedIdentifiers(in: connection).contains(migration.identifier) { continue }
      try connection.inTransaction(.immediate) { () throws(SQLiteError) in
        // Checked again under the write lock: another process may have applied it meanwhile.
        let check = try connection.cachedStatement("SELECT 1 FROM schema_migrations WHERE identifier = ?1")
        defer { check.reset() }
        try check.bind(migration.identifier, at: 1)
        guard try !check.step() else { return }
        check.reset()

        try migration.apply(connection)
        let record = try connection.cachedStatement(
          "INSERT INTO schema_migrations (identifier, position) VALUES (?1, ?2)")
        defer { record.reset() }
        try record.bind(migration.identifier, at: 1)
        try record.bind(position, at: 2)
        try record.execute()
      }
    }
  }

  private func tableExists(in connection: Connection) throws(SQLiteError) -> Bool {
    let exists = try connection.prepare(
      "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'")
    defer { exists.reset() }
    return try exists.step()
  }

  /// The identifiers of the migrations applied to the database, in the order they were applied.
  public func appliedIdentifiers(in connection: Connection) throws(SQLiteError) -> [String] {
    guard try tableExists(in: connection) else { return [] }
    let select = try connection.prepare("SELECT identifier FROM schema_migrations ORDER BY position")
    var identifiers: [String] = []
    while try select.step() {
      identifiers.append(select.string(at: 0))
    }
    return identifiers
  }
}
