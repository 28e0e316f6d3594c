import CSQLite
import CSQLiteWAL

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How a connection opens its database (`SQLITE_OPEN_*`).
public struct OpenFlags: OptionSet, Sendable {
  public var rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }

  public static let readOnly = OpenFlags(rawValue: SQLITE_OPEN_READONLY)
  public static let readWrite = OpenFlags(rawValue: SQLITE_OPEN_READWRITE)
  /// Create the database file if it does not exist.
  public static let create = OpenFlags(rawValue: SQLITE_OPEN_CREATE)
  /// Multi-thread mode: the caller promises to use the connection from one thread at a time, so
  /// SQLite skips its per-call connection mutex.
  public static let noMutex = OpenFlags(rawValue: SQLITE_OPEN_NOMUTEX)
  /// Serialized mode: SQLite locks the connection on every call.
  public static let fullMutex = OpenFlags(rawValue: SQLITE_OPEN_FULLMUTEX)
}

/// How a transaction takes its locks (see SQLite's `BEGIN`).
public enum TransactionKind: String, Sendable {
  /// Locks are taken when first needed; a read transaction that later writes may fail with
  /// `SQLITE_BUSY_SNAPSHOT` in WAL mode.
  case deferred = "DEFERRED"
  /// The write lock is taken at once, waiting up to the busy timeout: no later BUSY inside.
  case immediate = "IMMEDIATE"
  case exclusive = "EXCLUSIVE"
}

/// An open SQLite database connection, closed when the last reference goes away.
///
/// A connection and its statements are used from one thread at a time. Hot statements are
/// prepared once through `cachedStatement(_:)`.
public final class Connection {
  /// The connection handle; valid for the lifetime of this object.
  public let handle: OpaquePointer
  private var statementCache: [String: Statement] = [:]
  /// The same statements found by where their SQL text's bytes are: a literal's bytes sit at a
  /// fixed address in the binary, so the hot path hashes one integer instead of the whole text
  /// (hashing and comparing the text was ~5% of an imported row's instructions). A hit is
  /// confirmed by comparing the texts, which costs nothing when they share their storage, and
  /// keeps a reused heap address from ever finding another statement.
  private var statementsByAddress: [UInt: (sql: String, statement: Statement)] = [:]

  /// Process-wide settings, applied once before the first connection opens.
  private static let configured: Void = {
    _ = csqlite_disable_memory_statistics()
    // Every connection then opens its WAL through the buffering VFS (CSQLiteWAL): a commit's
    // frames reach the file in one write before the same sync. If it cannot be registered,
    // SQLite's own VFS serves, as durable, with more system calls.
    _ = csqlitewal_register()
  }()

  /// Opens the database at `path` (`":memory:"` for a private in-memory database).
  public init(path: String, flags: OpenFlags = [.readWrite, .create]) throws(SQLiteError) {
    _ = Self.configured
    var connection: OpaquePointer?
    let result = sqlite3_open_v2(path, &connection, flags.rawValue, nil)
    guard result == SQLITE_OK, let connection else {
      let error = SQLiteError(result: result, connection: connection, sql: nil)
      // SQLite allocates a handle even when opening fails; it must still be closed.
      sqlite3_close_v2(connection)
      throw error
    }
    handle = connection
    // Extended codes tell apart e.g. a busy timeout from a stale WAL snapshot.
    sqlite3_extended_result_codes(connection, 1)
    // A transaction that rolls back leaves no buffered WAL frame behind (CSQLiteWAL).
    _ = csqlitewal_watch(connection)
  }

  deinit {
    statementCache.removeAll()
    statementsByAddress.removeAll()
    // close_v2 defers the close until statements still referenced elsewhere are finalized.
    sqlite3_close_v2(handle)
  }

  // MARK: Statements

  /// Prepares one SQL statement. Trailing text after the statement is an error, so a second
  /// statement can never be silently ignored.
  public func prepare(_ sql: String) throws(SQLiteError) -> Statement {
    try prepare(sql, flags: 0)
  }

  /// A prepared statement for `sql` from this connection's cache, reset with no bindings.
  ///
  /// The statement is shared: finish with it (and `reset()` it) before asking for the same SQL
  /// again, and do not keep it across calls that may use the same SQL.
  public func cachedStatement(_ sql: String) throws(SQLiteError) -> Statement {
    let address = sql.utf8.withContiguousStorageIfAvailable { UInt(bitPattern: $0.baseAddress) }
    if let address, let entry = statementsByAddress[address], entry.sql == sql {
      entry.statement.reset()
      return entry.statement
    }
    let statement: Statement
    if let cached = statementCache[sql] {
      cached.reset()
      statement = cached
    } else {
      statement = try prepare(sql, flags: UInt32(SQLITE_PREPARE_PERSISTENT))
      statementCache[sql] = statement
    }
    if let address {
      // SQL built at run time has a new address each time: the map is bounded, not a leak.
      if statementsByAddress.count >= 512 { statementsByAddress.removeAll(keepingCapacity: true) }
      statementsByAddress[address] = (sql, statement)
    }
    return statement
  }

  /// Runs one or more SQL statements separated by semicolons, ignoring any rows (for DDL and
  /// PRAGMAs without parameters).
  public func execute(_ sql: String) throws(SQLiteError) {
    var errorMessage: UnsafeMutablePointer<CChar>?
    let result = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
    defer { sqlite3_free(errorMessage) }
    guard result == SQLITE_OK else {
      var error = SQLiteError(result: result, connection: handle, sql: sql)
      if let errorMessage { error.message = String(cString: errorMessage) }
      throw error
    }
  }

  /// Runs a statement that returns one text value (e.g. `PRAGMA journal_mode=WAL`), or nil when
  /// it returns no row or NULL.
  public func textValue(_ sql: String) throws(SQLiteError) -> String? {
    let statement = try prepare(sql)
    guard try statement.step() else { return nil }
    return statement.optionalString(at: 0)
  }

  // MARK: Transactions

  /// Whether a transaction is open (SQLite is not in autocommit mode). SQLite may roll a
  /// transaction back on its own after some errors (I/O, full disk), which this reveals.
  public var isInsideTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

  /// Starts a transaction; `.immediate` waits up to the busy timeout for the write lock.
  public func beginTransaction(_ kind: TransactionKind = .deferred) throws(SQLiteError) {
    try runToCompletion(cachedStatement("BEGIN \(kind.rawValue) TRANSACTION"))
  }

  /// Commits the open transaction (durably, as the `synchronous` setting says).
  public func commit() throws(SQLiteError) {
    try runToCompletion(cachedStatement("COMMIT TRANSACTION"))
  }

  /// Rolls back the open transaction.
  public func rollback() throws(SQLiteError) {
    try runToCompletion(cachedStatement("ROLLBACK TRANSACTION"))
  }

  /// Runs `body` in a transaction: committed when it returns, rolled back when it throws or
  /// when the commit fails.
  public func inTransaction<T>(
    _ kind: TransactionKind = .deferred, _ body: () throws(SQLiteError) -> T
  ) throws(SQLiteError) -> T {
    try beginTransaction(kind)
    do {
      let value = try body()
      try commit()
      return value
    } catch {
      rollbackIfInsideTransaction()
      throw error
    }
  }

  /// Rolls back the open transaction, if any, ignoring failure: used on error paths, where the
  /// original error is the one to report and SQLite may already have rolled back.
  public func rollbackIfInsideTransaction() {
    guard isInsideTransaction else { return }
    _ = try? rollback()
  }

  // MARK: State

  /// Waits up to `milliseconds` for locks held by other connections before failing with BUSY.
  ///
  /// The wait is SQLite's busy handler, ours rather than `sqlite3_busy_timeout`'s: between short
  /// sleeps it asks `shouldStopWaiting`, so a caller can give up at once (e.g. the request was
  /// cancelled); the statement then fails with BUSY and `wasStopped` is set.
  public func setBusyTimeout(milliseconds: Int) {
    busyTimeoutNanoseconds = UInt64(max(0, milliseconds)) * 1_000_000
    sqlite3_busy_handler(
      handle,
      { context, attempt in
        let connection = Unmanaged<Connection>.fromOpaque(context!).takeUnretainedValue()
        return connection.keepWaiting(attempt: Int(attempt)) ? 1 : 0
      }, Unmanaged.passUnretained(self).toOpaque())
  }

  /// Consulted while waiting for a lock; returning true ends the wait with BUSY.
  public var shouldStopWaiting: (() -> Bool)?
  /// Whether the last wait for a lock ended because `shouldStopWaiting` said so. Reset by
  /// reading it with `takeWasStopped()`.
  public private(set) var wasStopped = false

  /// Reads and clears `wasStopped`.
  public func takeWasStopped() -> Bool {
    defer { wasStopped = false }
    return wasStopped
  }

  private var busyTimeoutNanoseconds: UInt64 = 0
  /// What `setBusyTimeout` was last given.
  public var busyTimeoutMilliseconds: Int { Int(busyTimeoutNanoseconds / 1_000_000) }
  private var busySince: UInt64 = 0

  /// One turn of the busy handler: true to try the lock again after a short sleep.
  private func keepWaiting(attempt: Int) -> Bool {
    let now = Self.monotonicNanoseconds()
    if attempt == 0 {
      busySince = now
      wasStopped = false
    }
    if let shouldStopWaiting, shouldStopWaiting() {
      wasStopped = true
      return false
    }
    let waited = now &- busySince
    guard waited < busyTimeoutNanoseconds else { return false }
    // Short sleeps first (a lock is often held for a commit), then 5 ms: a stop is seen within
    // a few milliseconds.
    let step: UInt64 = attempt < 4 ? 500_000 : attempt < 10 ? 1_000_000 : 5_000_000
    var pause = timespec(tv_sec: 0, tv_nsec: Int(min(step, busyTimeoutNanoseconds - waited)))
    nanosleep(&pause, nil)
    return true
  }

  private static func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
  }

  /// The rowid of the most recent successful INSERT on this connection.
  public var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }

  /// Rows changed by the most recent INSERT, UPDATE or DELETE on this connection.
  public var changes: Int { Int(sqlite3_changes64(handle)) }

  // MARK: Private

  /// Runs a statement and resets it, so that it holds no lock and is not counted as active.
  private func runToCompletion(_ statement: Statement) throws(SQLiteError) {
    defer { statement.reset() }
    try statement.execute()
  }

  private func prepare(_ sql: String, flags: UInt32) throws(SQLiteError) -> Statement {
    var statement: OpaquePointer?
    var remainderIsBlank = true
    let result = sql.withCString { text -> Int32 in
      var tail: UnsafePointer<CChar>?
      let result = sqlite3_prepare_v3(handle, text, -1, flags, &statement, &tail)
      if result == SQLITE_OK, var tail {
        while tail.pointee != 0 {
          let character = UInt8(bitPattern: tail.pointee)
          if character != UInt8(ascii: " ") && character != UInt8(ascii: "\n") && character != UInt8(ascii: "\t")
            && character != UInt8(ascii: "\r") && character != UInt8(ascii: ";")
          {
            remainderIsBlank = false
            break
          }
          tail += 1
        }
      }
      return result
    }
    guard result == SQLITE_OK else {
      throw SQLiteError(result: result, connection: handle, sql: sql)
    }
    guard let statement else {
      throw SQLiteError(code: .misuse, message: "no SQL statement to prepare", sql: sql)
    }
    guard remainderIsBlank else {
      sqlite3_finalize(statement)
      throw SQLiteError(code: .misuse, message: "more than one SQL statement to prepare", sql: sql)
    }
    return Statement(handle: statement, sql: sql)
  }
}
