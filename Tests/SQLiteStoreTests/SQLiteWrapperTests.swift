import SQLite
import Testing

@Suite("SQLite wrapper")
struct SQLiteWrapperTests {
  /// The WAL buffering of CSQLiteWAL around transactions that end without a commit: frames a
  /// transaction wrote (spilled from a small cache) and then rolled back must never reach the
  /// file later, where another connection's commit has put its own frames since. Connection A
  /// spills and rolls back, B commits into the same part of the WAL, A reads; then every
  /// connection sees B's rows and the file is sound. Also for a connection closed in the middle
  /// of a transaction, and with synchronous=NORMAL (commits are not synced, yet must reach the
  /// file before other connections can see them).
  @Test(arguments: ["FULL", "NORMAL"])
  func rolledBackFramesNeverReachTheFile(synchronous: String) throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("wal.sqlite3")
    let setup = try Connection(path: path)
    try setup.execute(
      """
      PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
      INSERT INTO t (body) VALUES ('first')
      """)
    // 400 rows of 900 bytes (far more than 8 pages of cache) for A; 800 rows for B.
    let aRows = """
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
      INSERT INTO t (body) SELECT printf('%0900d', i) FROM n
      """
    func bRows(_ round: Int) -> String {
      """
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 800)
      INSERT INTO t (body) SELECT printf('b\(round)-%0800d', i) FROM n
      """
    }
    let a = try Connection(path: path)
    let b = try Connection(path: path)
    for connection in [a, b] {
      try connection.execute("PRAGMA synchronous = \(synchronous); PRAGMA cache_size = 8")
    }
    for round in 0..<3 {
      // An empty WAL: what A's rollback reloads comes from the database file, not the WAL.
      _ = try setup.textValue("PRAGMA wal_checkpoint(TRUNCATE)")
      // A writes far more than its cache holds (pages go to the WAL), then rolls back.
      try a.execute("BEGIN IMMEDIATE")
      try a.execute(aRows)
      try a.execute("ROLLBACK")
      // B commits over the same stretch of the WAL (more frames than A wrote).
      try b.execute("BEGIN IMMEDIATE")
      try b.execute(bRows(round))
      try b.execute("COMMIT")
      // A reads (and so touches its WAL file) and writes a little.
      #expect(try a.textValue("SELECT count(*) FROM t WHERE body LIKE 'b\(round)-%'") == "800")
      try a.execute("INSERT INTO t (body) VALUES ('a\(round)')")
    }
    // A connection closed in the middle of a transaction that spilled.
    do {
      let c = try Connection(path: path)
      try c.execute("PRAGMA cache_size = 8; BEGIN IMMEDIATE")
      try c.execute(aRows)
    }
    try b.execute("INSERT INTO t (body) VALUES ('after close')")
    let check = try Connection(path: path)
    #expect(try check.textValue("PRAGMA integrity_check") == "ok")
    #expect(try check.textValue("SELECT count(*) FROM t") == String(1 + 3 * 801 + 1))
    #expect(try check.textValue("SELECT count(*) FROM t WHERE length(body) = 900") == "0")
  }

  /// Text round-trips as UTF-8, including the empty string (not NULL), embedded NUL and
  /// non-ASCII; integers, Booleans and NULL round-trip too.
  @Test func bindAndRead() throws {
    let connection = try Connection(path: ":memory:")
    let statement = try connection.prepare("SELECT ?1, ?2, ?3, ?4, ?5, ?6, typeof(?2)")
    try statement.bind("Zoë 🌍", at: 1)
    try statement.bind("", at: 2)
    try statement.bind("a\u{0}b", at: 3)
    try statement.bind(Int64.min, at: 4)
    try statement.bind(true, at: 5)
    try statement.bind(nil as String?, at: 6)
    #expect(try statement.step())
    #expect(statement.string(at: 0) == "Zoë 🌍")
    #expect(statement.optionalString(at: 1) == "")
    #expect(statement.string(at: 2) == "a\u{0}b")
    #expect(statement.int64(at: 3) == .min)
    #expect(statement.bool(at: 4))
    #expect(statement.isNull(at: 5) && statement.optionalString(at: 5) == nil && statement.optionalInt64(at: 5) == nil)
    #expect(statement.string(at: 6) == "text")
    #expect(try !statement.step())
  }

  /// Errors keep the primary and extended codes, SQLite's message and the SQL.
  @Test func errorsDescribeTheFailure() throws {
    let connection = try Connection(path: ":memory:")
    #expect {
      _ = try connection.prepare("SELEC 1")
    } throws: { error in
      let error = error as? SQLiteError
      return error?.code == .error && error?.sql == "SELEC 1" && error?.message.contains("syntax error") == true
    }
    try connection.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT UNIQUE)")
    let insert = try connection.prepare("INSERT INTO t (b) VALUES (?1)")
    try insert.bind("x", at: 1)
    try insert.execute()
    insert.reset()
    try insert.bind("x", at: 1)
    #expect {
      try insert.execute()
    } throws: { error in
      let error = error as? SQLiteError
      return error?.code == .constraint && error?.extendedCode == .constraintUnique
    }
    // Two statements where one is expected is an error, not a silently ignored statement.
    #expect(throws: SQLiteError.self) { _ = try connection.prepare("SELECT 1; SELECT 2") }
  }

  /// A cached statement is prepared once and handed out reset, without its old bindings.
  @Test func statementCache() throws {
    let connection = try Connection(path: ":memory:")
    let first = try connection.cachedStatement("SELECT ?1")
    try first.bind(7, at: 1)
    #expect(try first.step())
    let second = try connection.cachedStatement("SELECT ?1")
    #expect(first === second)
    #expect(try second.step())
    #expect(second.isNull(at: 0))
  }

  /// Migrations apply once each, in order, and a database from a newer schema is refused.
  @Test func migrator() throws {
    let connection = try Connection(path: ":memory:")
    var migrator = Migrator()
    migrator.registerMigration("1", sql: "CREATE TABLE a (x INTEGER)")
    try migrator.migrate(connection)
    migrator.registerMigration("2", sql: "ALTER TABLE a ADD COLUMN y TEXT; INSERT INTO a VALUES (1, 'one')")
    try migrator.migrate(connection)
    try migrator.migrate(connection)
    #expect(try migrator.appliedIdentifiers(in: connection) == ["1", "2"])
    #expect(try connection.textValue("SELECT count(*) || '' FROM a") == "1")

    var failing = migrator
    failing.registerMigration("3", sql: "CREATE TABLE b (x); CREATE TABLE b (x)")
    #expect(throws: SQLiteError.self) { try failing.migrate(connection) }
    // The failed migration left nothing behind.
    #expect(try connection.textValue("SELECT count(*) || '' FROM sqlite_schema WHERE name = 'b'") == "0")
    #expect(try migrator.appliedIdentifiers(in: connection) == ["1", "2"])

    var older = Migrator()
    older.registerMigration("1", sql: "CREATE TABLE a (x INTEGER)")
    #expect(throws: SQLiteError.self) { try older.migrate(connection) }
  }

  /// A connection that cannot open throws, and the transaction helper rolls back on failure.
  @Test func openFailureAndRollback() throws {
    #expect(throws: SQLiteError.self) { _ = try Connection(path: "/nonexistent-dir/x.sqlite3") }
    let connection = try Connection(path: ":memory:")
    try connection.execute("CREATE TABLE t (a INTEGER NOT NULL)")
    #expect(throws: SQLiteError.self) {
      try connection.inTransaction { () throws(SQLiteError) in
        try connection.execute("INSERT INTO t VALUES (1)")
        try connection.execute("INSERT INTO t VALUES (NULL)")
      }
    }
    #expect(!connection.isInsideTransaction)
    #expect(try connection.textValue("SELECT count(*) || '' FROM t") == "0")
  }
}
