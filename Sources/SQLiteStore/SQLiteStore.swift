import Crypto
import Petitions
import SQLite

#if canImport(Glibc)
  import Glibc
#endif

/// The embedded default `PetitionStore`: one SQLite database file in WAL mode.
///
/// - Durable: `synchronous=FULL` in WAL mode fsyncs the log on every commit, so a write has
///   reached the disk when its operation (or write group) returns.
/// - Shared: several processes may open the same file. Every write runs in an IMMEDIATE
///   transaction, which takes the database's single write lock before reading anything, so
///   counts and duplicate checks read inside it are exact; a lock held elsewhere is waited for
///   up to the busy timeout, then the operation fails with `unavailable`.
/// - Private: the database file and SQLite's `-wal` and `-shm` files are created with mode
///   0600. An existing database file keeps the mode its owner gave it; its companions are 0600
///   whatever that mode.
///
/// Like every `PetitionStore`, it is used from one thread at a time.
public final class SQLiteStore: PetitionStore {
  let connection: Connection
  let busyTimeoutMilliseconds: Int
  /// Whether `performWriteGroup` is running its body: operations then join its transaction.
  var isInsideWriteGroup = false
  /// The store-level failure that dooms the running write group, if one happened.
  var groupFailure: StoreError?
  /// What signs need of each petition, remembered for the length of one write group: the group
  /// holds the write lock, so no other process can change a petition meanwhile, and this store
  /// drops an entry itself when it changes the petition (create, close, anonymise).
  var petitionsInGroup: [String: PetitionState] = [:]
  /// Changes to the count aggregates not yet written: applied once per distinct key just before
  /// the transaction commits (a write group of many signs makes a few upserts, not several per
  /// sign), dropped with a transaction that rolls back.
  var tallies = Tallies()
  /// The aggregates' tail as this transaction found it (see `TallyTail`), read before its first
  /// new signature or status change; nil until then.
  var tallyTail: TallyTail?
  /// The count changes of signatures in the tail made by this transaction, handed to the
  /// aggregates when the transaction's signatures are the whole tail.
  var tailTallies = Tallies()
  /// False once the transaction changed the status of signatures in bulk (invalidate,
  /// revalidate), which `tailTallies` does not follow.
  var tailTalliesExact = true
  /// When the tail goes into the aggregates (see `TallyTail`); tests set other limits to run
  /// every path often.
  var tailLimits = TallyTail.Limits()
  /// Set by erasure and anonymisation: once their transaction commits, the WAL is checkpointed
  /// and truncated, so the erased data's old page images leave the WAL file at once (the main
  /// file's pages are overwritten by secure_delete) rather than at the next checkpoint.
  var truncateWALAfterCommit = false
  /// The petitions' counters changed in this transaction, written once per petition before it
  /// commits (or by `flushCounters` before an operation that reads them by SQL).
  var counters = PetitionCounters()
  /// The file store's identity, checked before each commit; nil for `:memory:`.
  let fileIdentity: StoreFileIdentity?
  /// The suppression list's HMAC under the store's key, read and prepared once.
  var suppressionKeyCache: HMACSHA256?
  /// The lowest row id a new signature may take minus one, as `meta.signature_id_floor` holds
  /// it (see `SignatureIDFloor`), read once per transaction: nil until read in this one.
  var signatureIDFloor: Int64?
  /// Whether the suppression list has any entry, as read in this write transaction (nil until
  /// read): the transaction holds the write lock, so only its own writes change it.
  var suppressionsExist: Bool?

  /// Opens the store at `path`, creating it (mode 0600) and bringing its schema up to date.
  /// `":memory:"` is a private throw-away store.
  ///
  /// Throws `unavailable` with a message naming the path and the reason when the store cannot
  /// be opened (missing directory, not a database, locked past the timeout, newer schema).
  public init(path: String, busyTimeoutMilliseconds: Int) throws(StoreError) {
    self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
    if path != ":memory:" {
      try StoreFile.createIfAbsent(atPath: path)
      StoreFile.makeCompanionsPrivate(ofPath: path)
    }
    do throws(SQLiteError) {
      let connection = try Self.openWithRetries(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
      self.connection = connection
      if path != ":memory:" { StoreFile.makeCompanionsPrivate(ofPath: path) }
      if path != ":memory:" { StoreFile.warnIfReadableByOthers(atPath: path) }
      fileIdentity = path == ":memory:" ? nil : StoreFileIdentity(path: path)
    } catch {
      throw .unavailable("cannot open the store \(path): \(Self.describe(error, busyTimeoutMilliseconds))")
    }
  }

  /// Opens a connection and brings the schema up to date. Several processes starting at once
  /// on a new store can wait for each other's locks while the file becomes a WAL store and is
  /// migrated (seen: one of four servers started together exited 1 after the busy timeout, with
  /// no other writer about). So each attempt waits for locks at most 200 ms; a failed attempt
  /// closes its connection, which lets go of every lock it held, and the next starts after a
  /// short random pause, until the busy timeout.
  static func openWithRetries(path: String, busyTimeoutMilliseconds: Int) throws(SQLiteError) -> Connection {
    let start = ContinuousClock.now
    while true {
      do throws(SQLiteError) {
        // No SQLite mutex: the store is used from one thread at a time.
        let connection = try Connection(path: path, flags: [.readWrite, .create, .noMutex])
        connection.setBusyTimeout(milliseconds: min(busyTimeoutMilliseconds, 200))
        // A file system without shared memory support keeps the rollback journal, which is as
        // durable and as safe between processes, only slower; so the answer is not checked.
        _ = try connection.textValue("PRAGMA journal_mode = WAL")
        // secure_delete: erased and deleted data is overwritten with zeros in the file, not
        // just unlinked from the b-tree, so an erased person leaves no trace once the WAL is
        // checkpointed.
        try connection.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON")
        try Schema.migrator.migrate(connection)
        connection.setBusyTimeout(milliseconds: busyTimeoutMilliseconds)
        return connection
      } catch  where error.code == .busy && ContinuousClock.now - start < .milliseconds(busyTimeoutMilliseconds) {
        usleep(UInt32.random(in: 1_000...20_000))
      }
    }
  }

  // MARK: Write groups

  public func performWriteGroup(stopIf shouldStop: () -> Bool, _ body: () -> Void)
    throws(StoreError)
  {
    // The busy handler asks `shouldStop` while it waits for the write lock.
    let result: Result<Void, StoreError> = withoutActuallyEscaping(shouldStop) { shouldStop in
      connection.shouldStopWaiting = shouldStop
      defer { connection.shouldStopWaiting = nil }
      do throws(StoreError) { return .success(try performWriteGroup(body)) } catch { return .failure(error) }
    }
    try result.get()
  }

  public func performWriteGroup(_ body: () -> Void) throws(StoreError) {
    // A nested group is part of the enclosing one, committed (or not) with it.
    if isInsideWriteGroup {
      body()
      return
    }
    do throws(SQLiteError) {
      try connection.beginTransaction(.immediate)
    } catch {
      if connection.takeWasStopped() { throw .interrupted }
      throw unavailable(error)
    }
    isInsideWriteGroup = true
    groupFailure = nil
    signatureIDFloor = nil
    suppressionsExist = nil
    petitionsInGroup.removeAll(keepingCapacity: true)
    tallies.removeAll()
    forgetTail()
    counters.removeAll()
    body()
    isInsideWriteGroup = false
    petitionsInGroup.removeAll(keepingCapacity: true)
    if let failure = groupFailure {
      groupFailure = nil
      tallies.removeAll()
      forgetTail()
      truncateWALAfterCommit = false
      counters.removeAll()
      connection.rollbackIfInsideTransaction()
      throw failure
    }
    do {
      try counters.apply(to: connection)
      try applyTalliesBeforeCommit()
      try fileIdentity?.check()
      try connection.commit()
      truncateWALIfAsked()
    } catch {
      tallies.removeAll()
      forgetTail()
      truncateWALAfterCommit = false
      counters.removeAll()
      connection.rollbackIfInsideTransaction()
      throw storeError(error)
    }
  }

  /// Runs a write operation: inside the running write group, or else in its own IMMEDIATE
  /// transaction committed before returning.
  ///
  /// `operation` checks everything that can fail with a domain error before it writes, so such
  /// a failure leaves nothing behind even inside a group (cheaper than a savepoint per
  /// operation). Any SQLite failure inside a group dooms the whole group: the operation may
  /// have written part of its rows, and SQLite may have rolled the transaction back already.
  ///
  /// Only operations that go through `changeCounters`/`currentCount` alone for the petitions'
  /// counters pass `keepingCounters`; before any other, the group's counter changes are written.
  func write<T>(keepingCounters: Bool = false, _ operation: () throws -> T) throws(StoreError) -> T {
    if isInsideWriteGroup {
      if let groupFailure { throw groupFailure }
      guard connection.isInsideTransaction else {
        // SQLite rolled the group back after an error (e.g. in a read); writing now would
        // autocommit outside the group.
        let failure = StoreError.unavailable("the write group was rolled back after a store error")
        groupFailure = failure
        throw failure
      }
      do {
        if !keepingCounters { try counters.apply(to: connection) }
        return try operation()
      } catch {
        let failure = storeError(error)
        if case .unavailable = failure { groupFailure = failure }
        throw failure
      }
    }
    do throws(SQLiteError) {
      try connection.beginTransaction(.immediate)
    } catch {
      throw unavailable(error)
    }
    signatureIDFloor = nil
    suppressionsExist = nil
    forgetTail()
    do {
      let value = try operation()
      try counters.apply(to: connection)
      try applyTalliesBeforeCommit()
      try fileIdentity?.check()
      try connection.commit()
      truncateWALIfAsked()
      return value
    } catch {
      tallies.removeAll()
      forgetTail()
      truncateWALAfterCommit = false
      counters.removeAll()
      connection.rollbackIfInsideTransaction()
      throw storeError(error)
    }
  }

  /// After a commit that erased data: a best effort (a checkpoint cannot pass a reader of
  /// another process that still needs the old pages; the next one then does it).
  private func truncateWALIfAsked() {
    guard truncateWALAfterCommit else { return }
    truncateWALAfterCommit = false
    try? connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
  }

  /// Writes the pending aggregate changes now, inside the running write group (for a read of
  /// the aggregates in the middle of a group).
  func applyTalliesInsideGroup() throws(StoreError) {
    guard isInsideWriteGroup, !tallies.isEmpty else { return }
    do throws(SQLiteError) {
      try tallies.apply(to: connection)
    } catch {
      let failure = unavailable(error)
      groupFailure = failure
      throw failure
    }
  }

  /// Runs a read operation. With `consistent`, its statements see one snapshot of the
  /// database (a read transaction) even while other processes write.
  func read<T>(consistent: Bool = false, _ operation: () throws -> T) throws(StoreError) -> T {
    if isInsideWriteGroup, !counters.isEmpty {
      do throws(SQLiteError) {
        try counters.apply(to: connection)
      } catch {
        let failure = unavailable(error)
        groupFailure = failure
        throw failure
      }
    }
    guard consistent, !connection.isInsideTransaction else {
      do { return try operation() } catch { throw storeError(error) }
    }
    do {
      try connection.beginTransaction(.deferred)
      let value = try operation()
      try connection.commit()
      return value
    } catch {
      connection.rollbackIfInsideTransaction()
      throw storeError(error)
    }
  }

  // MARK: Errors

  func storeError(_ error: any Error) -> StoreError {
    switch error {
    case let error as StoreError: error
    case let error as SQLiteError: unavailable(error)
    default: .unavailable("unexpected store failure: \(error)")
    }
  }

  func unavailable(_ error: SQLiteError) -> StoreError {
    .unavailable(Self.describe(error, busyTimeoutMilliseconds))
  }

  /// A message for people: what is wrong, then SQLite's own words. No SQL and no values (they
  /// are bound, never part of SQLite's messages), so nothing personal.
  static func describe(_ error: SQLiteError, _ busyTimeoutMilliseconds: Int) -> String {
    let summary =
      switch error.code {
      case .busy, .locked: "the store is locked by another process (waited \(busyTimeoutMilliseconds) ms)"
      case .full: "the disk is full"
      case .readOnly: "the store is read-only"
      case .ioError: "an I/O error occurred"
      case .cantOpen: "the store file cannot be opened"
      case .notADatabase: "the file is not a store database"
      case .corrupt: "the store database is corrupt"
      default: "the store failed"
      }
    return summary + " (SQLite: " + error.message + ")"
  }
}
