import CPostgres

/// A failure reported by libpq or the server. `message` never holds a password, SQL parameters
/// or row values: only the server's primary message (which names constraints, not values) or
/// libpq's connection message.
struct PGError: Error, CustomStringConvertible {
  /// The SQLSTATE, when the server sent one ("40P01" deadlock, "55P03" lock timeout...).
  var sqlState: String?
  var message: String
  /// Whether the connection is unusable after this failure (it must be re-opened).
  var connectionLost: Bool

  var description: String { message }
}

/// The rows of one statement, owned: cleared when released.
final class PGResult {
  let handle: OpaquePointer

  init(_ handle: OpaquePointer) { self.handle = handle }
  deinit { PQclear(handle) }

  var rowCount: Int { Int(PQntuples(handle)) }
  /// The number of rows an INSERT, UPDATE or DELETE changed.
  var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

  func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(handle, Int32(row), Int32(column)) == 1 }

  func string(_ row: Int, _ column: Int) -> String {
    String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
  }

  func optionalString(_ row: Int, _ column: Int) -> String? {
    isNull(row, column) ? nil : string(row, column)
  }

  func int64(_ row: Int, _ column: Int) -> Int64 {
    guard let value = PQgetvalue(handle, Int32(row), Int32(column)) else { return 0 }
    return Self.parseInt64(value)
  }

  func optionalInt64(_ row: Int, _ column: Int) -> Int64? {
    isNull(row, column) ? nil : int64(row, column)
  }

  func int(_ row: Int, _ column: Int) -> Int { Int(int64(row, column)) }

  /// Text-format booleans are "t" and "f".
  func bool(_ row: Int, _ column: Int) -> Bool {
    guard let value = PQgetvalue(handle, Int32(row), Int32(column)) else { return false }
    return UInt8(bitPattern: value.pointee) == UInt8(ascii: "t")
  }

  /// The field's bytes in place, valid while this result lives; nil for null.
  func withBytes<Result>(_ row: Int, _ column: Int, _ body: (UnsafeBufferPointer<UInt8>?) -> Result) -> Result {
    guard !isNull(row, column), let value = PQgetvalue(handle, Int32(row), Int32(column)) else { return body(nil) }
    let length = Int(PQgetlength(handle, Int32(row), Int32(column)))
    return value.withMemoryRebound(to: UInt8.self, capacity: length) {
      body(UnsafeBufferPointer(start: $0, count: length))
    }
  }

  private static func parseInt64(_ text: UnsafePointer<CChar>) -> Int64 {
    var pointer = UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self)
    var negative = false
    if pointer.pointee == UInt8(ascii: "-") {
      negative = true
      pointer += 1
    }
    var value: Int64 = 0
    while pointer.pointee >= UInt8(ascii: "0") && pointer.pointee <= UInt8(ascii: "9") {
      value = value &* 10 &+ Int64(pointer.pointee - UInt8(ascii: "0"))
      pointer += 1
    }
    return negative ? -value : value
  }
}

/// One libpq connection, owned: closed when released. Statements given with parameters are
/// prepared once per connection (named by their position in a cache) and then executed with
/// text parameters, so each costs one round trip.
final class PGConnection {
  private var handle: OpaquePointer?
  /// The libpq connection string (a URI); may hold a password, so it is never printed.
  private let conninfo: String
  private var prepared: [String: String] = [:]
  /// While set (by a write group), `execute` and `query` send their statement and wait for its
  /// answer on the socket (`stoppableQuery`); a statement that has waited `stopCheckAfter` is
  /// cancelled when this answers true (a caller cancelled a request of the group while it waits
  /// for a lock another process holds): PostgreSQL ends it with an error and `takeWasStopped()`
  /// says why.
  var shouldStop: (() -> Bool)?
  private var wasStopped = false
  /// Statements shorter than this are never stopped: a batch's normal work is not a wait for a
  /// lock.
  static let stopCheckAfter = 0.1
  static let stopCheckInterval = 0.02

  /// Whether a statement was cancelled because `shouldStop` said so (and forgets it).
  func takeWasStopped() -> Bool {
    defer { wasStopped = false }
    return wasStopped
  }

  /// How long a connection attempt may take, in seconds, when neither the connection string
  /// (`connect_timeout`) nor `PGCONNECT_TIMEOUT` says: libpq's own default is to wait forever,
  /// and a host that accepts the TCP connection but never answers held the server at start,
  /// deaf to SIGTERM, SIGINT and the end of its input.
  let connectTimeoutSeconds: Int

  /// Connects; throws with libpq's message (which never includes the password).
  init(conninfo: String, connectTimeoutSeconds: Int = 5) throws(PGError) {
    self.conninfo = conninfo
    self.connectTimeoutSeconds = max(2, connectTimeoutSeconds)
    handle = nil
    try connect()
  }

  deinit {
    if let handle { PQfinish(handle) }
  }

  private func connect() throws(PGError) {
    if let handle { PQfinish(handle) }
    prepared.removeAll()
    var loadError: UnsafePointer<CChar>? = nil
    guard petition_rpc_pq_load(&loadError) == 1 else {
      throw PGError(
        sqlState: nil, message: loadError.map { String(cString: $0) } ?? "libpq cannot be loaded",
        connectionLost: false)
    }
    // Our settings first: the same keys in the connection string, expanded after them, win
    // (and PGCONNECT_TIMEOUT, read by libpq only for a key no one gave, wins over our timeout).
    // TCP keepalives find a database whose host went away without closing the connection (a
    // dropped link): without them a statement waited on the socket forever.
    var settings = [
      ("keepalives", "1"), ("keepalives_idle", "10"), ("keepalives_interval", "5"), ("keepalives_count", "3"),
    ]
    if getenv("PGCONNECT_TIMEOUT") == nil { settings.append(("connect_timeout", String(connectTimeoutSeconds))) }
    settings.append(("dbname", conninfo))
    handle = settings.map(\.0).withCStrings { keywords in
      settings.map(\.1).withCStrings { values in PQconnectdbParams(keywords, values, 1) }
    }
    guard let handle, PQstatus(handle) == CONNECTION_OK else {
      let message =
        handle.map {
          PostgresStore.withoutSecrets(Self.trimmed(String(cString: PQerrorMessage($0))), of: conninfo)
        } ?? "out of memory"
      if let handle { PQfinish(handle) }
      self.handle = nil
      throw PGError(sqlState: nil, message: message, connectionLost: true)
    }
    // Server notices ("schema already exists, skipping") are not diagnostics for people.
    PQsetNoticeProcessor(handle, { _, _ in }, nil)
  }

  /// Connects again after a lost connection (same parameters). Prepared statements are gone.
  func reconnect() throws(PGError) { try connect() }

  var isBroken: Bool {
    guard let handle else { return true }
    return PQstatus(handle) != CONNECTION_OK
  }

  var isInsideTransaction: Bool {
    guard let handle else { return false }
    let status = PQtransactionStatus(handle)
    return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
  }

  /// The server's process id (for slot claims and for tests that end a backend).
  var backendPID: Int32 { handle.map { PQbackendPID($0) } ?? 0 }

  /// Runs SQL without parameters (may hold several statements).
  @discardableResult
  func execute(_ sql: String) throws(PGError) -> PGResult {
    guard let handle else { throw lost("the database connection is closed") }
    if shouldStop != nil { return try stoppableQuery(sql, nil) }
    return try check(PQexec(handle, sql))
  }

  /// Runs one statement with text parameters (nil is NULL), prepared on first use.
  @discardableResult
  func query(_ sql: String, _ parameters: [String?] = []) throws(PGError) -> PGResult {
    guard let handle else { throw lost("the database connection is closed") }
    if shouldStop != nil { return try stoppableQuery(sql, parameters) }
    let name: String
    if let known = prepared[sql] {
      name = known
    } else {
      name = "s\(prepared.count + 1)"
      try check(PQprepare(handle, name, sql, 0, nil))
      prepared[sql] = name
    }
    return try withCStrings(parameters) { values throws(PGError) in
      try check(PQexecPrepared(handle, name, Int32(values.count), values, nil, nil, 0))
    }
  }

  /// Runs `sql` like `query` (or like `execute` when `parameters` is nil) without blocking in
  /// libpq: it waits on the connection's socket, and once the statement has run `stopCheckAfter`
  /// (a wait for a lock another process holds, not a batch's normal work) asks `shouldStop`
  /// every `stopCheckInterval`; when that answers true the statement is cancelled on the server.
  @discardableResult
  private func stoppableQuery(_ sql: String, _ parameters: [String?]?) throws(PGError) -> PGResult {
    guard let handle else { throw lost("the database connection is closed") }
    let sent: Int32
    if let parameters {
      let name: String
      if let known = prepared[sql] {
        name = known
      } else {
        // Preparing waits too: parsing a statement locks the tables it names (an ACCESS
        // EXCLUSIVE lock on `petitions` held the prepare, deaf to a cancel, until lock_timeout).
        name = "s\(prepared.count + 1)"
        guard PQsendPrepare(handle, name, sql, 0, nil) == 1 else {
          throw lost(Self.trimmed(String(cString: PQerrorMessage(handle))))
        }
        try check(awaitResult(handle))
        prepared[sql] = name
      }
      sent = withCStrings(parameters) { values in
        PQsendQueryPrepared(handle, name, Int32(values.count), values, nil, nil, 0)
      }
    } else {
      sent = PQsendQuery(handle, sql)
    }
    guard sent == 1 else { throw lost(Self.trimmed(String(cString: PQerrorMessage(handle)))) }
    return try check(awaitResult(handle))
  }

  /// Waits for the answer to what was sent, on the connection's socket; once it has taken
  /// `stopCheckAfter`, asks `shouldStop` every `stopCheckInterval` and cancels the statement on
  /// the server when that answers true. Returns the last result (or the first failure), as
  /// PQexec does.
  private func awaitResult(_ handle: OpaquePointer) -> OpaquePointer? {
    // PQconsumeInput fails only when the connection does; PQgetResult then reports it.
    let started = Self.seconds()
    var nextStopCheck = started + Self.stopCheckAfter
    var cancelled = false
    while PQconsumeInput(handle) == 1 && PQisBusy(handle) == 1 {
      let now = Self.seconds()
      if let shouldStop, !cancelled, now >= nextStopCheck {
        nextStopCheck = now + Self.stopCheckInterval
        if shouldStop() {
          cancelled = true
          wasStopped = cancel(handle)
        }
      }
      // Until the answer comes, or the next look at `shouldStop`.
      let wait = cancelled ? -1 : Int32(max(1, ((nextStopCheck - Self.seconds()) * 1000).rounded(.up)))
      var socket = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
      _ = poll(&socket, 1, wait)
    }
    // A result per statement, then NULL: as PQexec, the last one, or the first failure.
    var kept: OpaquePointer? = nil
    while let result = PQgetResult(handle) {
      if let previous = kept, !Self.succeeded(previous) {
        PQclear(result)
      } else {
        if let previous = kept { PQclear(previous) }
        kept = result
      }
    }
    return kept
  }

  /// Asks the server to cancel the running statement (over a connection of its own, as libpq
  /// does); the statement then ends with SQLSTATE 57014, or completes if it was done already.
  private func cancel(_ handle: OpaquePointer) -> Bool {
    guard let request = PQgetCancel(handle) else { return false }
    defer { PQfreeCancel(request) }
    var message = [CChar](repeating: 0, count: 256)
    return PQcancel(request, &message, Int32(message.count)) == 1
  }

  private static func seconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
  }

  private static func succeeded(_ result: OpaquePointer) -> Bool {
    switch PQresultStatus(result) {
    case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE, PGRES_EMPTY_QUERY: true
    default: false
    }
  }

  /// Runs one prepared statement once per parameter set in libpq's pipeline mode: every
  /// execution is sent, then one sync, then the results are read, so a batch costs one round
  /// trip instead of one per execution. The results come back in order. If any execution
  /// fails, the rest are skipped by the server and this throws (inside a transaction,
  /// PostgreSQL has aborted it: the caller's write group fails whole).
  ///
  /// Callers keep batches small (a few hundred): in blocking mode the server's answers must fit
  /// in the socket buffers until they are read.
  func pipelined(_ sql: String, _ parameterSets: [[String?]]) throws(PGError) -> [PGResult] {
    guard let handle else { throw lost("the database connection is closed") }
    let name: String
    if let known = prepared[sql] {
      name = known
    } else {
      name = "s\(prepared.count + 1)"
      try check(PQprepare(handle, name, sql, 0, nil))
      prepared[sql] = name
    }
    guard PQenterPipelineMode(handle) == 1 else { throw lost(Self.trimmed(String(cString: PQerrorMessage(handle)))) }
    var sendFailure: PGError? = nil
    for parameters in parameterSets {
      let sent = withCStrings(parameters) { values in
        PQsendQueryPrepared(handle, name, Int32(values.count), values, nil, nil, 0)
      }
      if sent != 1 {
        sendFailure = lost(Self.trimmed(String(cString: PQerrorMessage(handle))))
        break
      }
    }
    if sendFailure == nil, PQpipelineSync(handle) != 1 {
      sendFailure = lost(Self.trimmed(String(cString: PQerrorMessage(handle))))
    }
    if let sendFailure {
      // The connection cannot be trusted to be in step any more.
      PQfinish(handle)
      self.handle = nil
      throw sendFailure
    }
    var results: [PGResult] = []
    results.reserveCapacity(parameterSets.count)
    var failure: PGError? = nil
    // Each execution yields its result then NULL; the sync yields PGRES_PIPELINE_SYNC.
    while true {
      guard let result = PQgetResult(handle) else {
        if isBroken {
          failure = failure ?? lost(Self.trimmed(String(cString: PQerrorMessage(handle))))
          break
        }
        continue
      }
      let status = PQresultStatus(result)
      if status == PGRES_PIPELINE_SYNC {
        PQclear(result)
        break
      }
      if status == PGRES_PIPELINE_ABORTED {
        PQclear(result)
        continue
      }
      do throws(PGError) {
        results.append(try check(result))
      } catch {
        failure = failure ?? error
      }
    }
    if isBroken {
      throw failure ?? lost("the database connection was lost")
    }
    _ = PQexitPipelineMode(handle)
    if let failure { throw failure }
    guard results.count == parameterSets.count else {
      throw PGError(sqlState: nil, message: "a pipelined batch lost results", connectionLost: true)
    }
    return results
  }

  /// Runs one statement with parameters without preparing it (for statements run once).
  @discardableResult
  func queryOnce(_ sql: String, _ parameters: [String?] = []) throws(PGError) -> PGResult {
    guard let handle else { throw lost("the database connection is closed") }
    return try withCStrings(parameters) { values throws(PGError) in
      try check(PQexecParams(handle, sql, Int32(values.count), nil, values, nil, nil, 0))
    }
  }

  /// Rolls back an open transaction, ignoring failures (the connection may be gone).
  func rollbackQuietly() {
    guard let handle, !isBroken, isInsideTransaction else { return }
    if let result = PQexec(handle, "ROLLBACK") { PQclear(result) }
  }

  /// After this connection sent a cancel request: ends the transaction and runs a trivial
  /// statement until one succeeds. The server acts on a cancel when it arrives; one that arrives
  /// after the statement it was meant for has finished cancels the next statement instead (a
  /// ROLLBACK, or the SELECT here), never a later group's. (CI once saw a late cancel fail a
  /// group's COMMIT: every call of the group then answered -32000.)
  func settleAfterCancel() {
    guard let handle else { return }
    for _ in 0..<3 {
      rollbackQuietly()
      guard let result = PQexec(handle, "SELECT 1") else { return }
      let ok = PQresultStatus(result) == PGRES_TUPLES_OK
      PQclear(result)
      if ok { return }
    }
  }

  @discardableResult
  private func check(_ result: OpaquePointer?) throws(PGError) -> PGResult {
    guard let result else {
      throw lost(handle.map { Self.trimmed(String(cString: PQerrorMessage($0))) } ?? "out of memory")
    }
    let owned = PGResult(result)
    switch PQresultStatus(result) {
    case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE, PGRES_EMPTY_QUERY:
      return owned
    default:
      let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
      // The primary message only: DETAIL lines may quote row values (personal data).
      let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
      let message = primary ?? handle.map { Self.trimmed(String(cString: PQerrorMessage($0))) } ?? "unknown error"
      // No SQLSTATE: libpq's own failure (the server went away); 08: connection errors; 57P0x:
      // the server is shutting down, crashed or starting.
      let lost = isBroken || state == nil || state?.hasPrefix("08") == true || state?.hasPrefix("57P0") == true
      throw PGError(sqlState: state, message: message, connectionLost: lost)
    }
  }

  private func lost(_ message: String) -> PGError {
    PGError(sqlState: nil, message: message, connectionLost: true)
  }

  static func trimmed(_ message: String) -> String {
    var text = Substring(message)
    while let last = text.last, last.isWhitespace { text.removeLast() }
    return text.split(separator: "\n").joined(separator: "; ")
  }
}

/// Calls `body` with C strings of `values` (NULL for nil), freed after.
private func withCStrings<Result>(_ values: [String?], _ body: ([UnsafePointer<CChar>?]) -> Result) -> Result {
  let pointers: [UnsafeMutablePointer<CChar>?] = values.map { value in value.flatMap { strdup($0) } }
  defer { for pointer in pointers { free(pointer) } }
  return body(pointers.map { $0.map { UnsafePointer($0) } })
}

/// Calls `body` with C strings of `values` (NULL for nil), freed after.
private func withCStrings<Result>(
  _ values: [String?], _ body: ([UnsafePointer<CChar>?]) throws(PGError) -> Result
) throws(PGError) -> Result {
  let pointers: [UnsafeMutablePointer<CChar>?] = values.map { value in value.flatMap { strdup($0) } }
  defer { for pointer in pointers { free(pointer) } }
  return try body(pointers.map { $0.map { UnsafePointer($0) } })
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

extension Array where Element == String {
  /// The strings as a NULL-terminated array of C strings, valid inside `body`.
  fileprivate func withCStrings<Result>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) -> Result) -> Result {
    var pointers: [UnsafeMutablePointer<CChar>?] = map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { buffer in
      buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { body($0) }
    }
  }
}
