import Crypto
import Petitions

/// `PetitionStore` on PostgreSQL: many server processes, on many machines, share one database
/// and stay exact.
///
/// - Durable: every write runs in a transaction answered only after its COMMIT returned, with
///   `synchronous_commit` on.
/// - Exact across processes: one signature per person per petition is a unique constraint
///   (`INSERT ... ON CONFLICT`); counts are kept by triggers in rows sharded per connection
///   (see `Schema`), so writers never queue on one counter row; consent is newest-wins by time.
/// - A sign is one round trip (a server-side function); a write group is one transaction, so its
///   COMMIT (one fsync) is shared by every operation in it.
/// - A lost connection fails the operation (and its group) with `unavailable`; the next
///   operation connects again.
///
/// Like every `PetitionStore`, it is used from one thread at a time.
public final class PostgresStore: PetitionStore {
  var connection: PGConnection
  let schema: String
  let location: String
  let lockTimeoutMilliseconds: Int
  /// The HMAC key of the suppression list, created with the store.
  var secret: [UInt8] = [] {
    didSet { suppressionHMAC = HMACSHA256(key: secret) }
  }
  /// The suppression list's HMAC under `secret`, prepared once.
  private(set) var suppressionHMAC = HMACSHA256(key: [])
  /// Whether `performWriteGroup` is running its body: operations then join its transaction.
  var isInsideWriteGroup = false
  /// The store-level failure that dooms the running write group, if one happened.
  var groupFailure: StoreError?
  /// Whether that failure was PostgreSQL breaking a deadlock (or a serialization conflict): the
  /// group is then `conflicted`, which the caller may run again.
  var groupConflicted = false
  /// Whether the connection must be opened again before the next operation.
  var needsReconnect = false
  /// Petitions' keys and confirmation modes: fixed at creation, so safe to remember across
  /// processes.
  var knownPetitions: [String: (key: Int64, confirmation: ConfirmationMode)] = [:]
  /// Petitions without a goal or whose goal was reached (it stays reached): their signs can be
  /// pipelined (see `signMany`).
  var goalReached: Set<Int64> = []
  /// Signs answered by `sign_batch` since the store opened (what tests see of the batching).
  var signsSentInBatches = 0
  /// New signatures of the running transaction not yet added to the counters.
  var deltas = CountDeltas()
  /// A copy-store load in progress (see `CopyableStore`).
  var loader: Loader?

  /// Connects to `uri` (any libpq connection string or URI; `PG*` environment variables and
  /// `~/.pgpass` apply), then creates or migrates the tables in `schema`.
  ///
  /// Throws `unavailable` with a message naming the database without its password.
  public init(uri: String, schema: String = "petition_rpc", busyTimeoutMilliseconds: Int = 5000) throws(StoreError) {
    self.location = Self.redacted(uri)
    guard Self.isValidSchemaName(schema) else {
      throw .unavailable("invalid PostgreSQL schema name \"\(schema)\": use lower-case letters, digits and _")
    }
    self.schema = schema
    self.lockTimeoutMilliseconds = busyTimeoutMilliseconds
    do throws(PGError) {
      connection = try PGConnection(
        conninfo: uri, connectTimeoutSeconds: (busyTimeoutMilliseconds + 999) / 1000)
      try migrate()
      try prepareSession()
    } catch {
      throw .unavailable("cannot open the store \(Self.redacted(uri)): \(Self.withoutSecrets(error.message, of: uri))")
    }
  }

  /// Whether `schema` in the database at `uri` holds a store (its migrations table), read
  /// without creating anything: `copy-store` must not create or migrate the store it copies from
  /// (a mistyped source schema was created, migrated and copied as an empty store, exit 0).
  public static func holdsStore(uri: String, schema: String, busyTimeoutMilliseconds: Int = 5000) throws(StoreError)
    -> Bool
  {
    do throws(PGError) {
      let connection = try PGConnection(conninfo: uri, connectTimeoutSeconds: (busyTimeoutMilliseconds + 999) / 1000)
      let found = try connection.query(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'schema_migrations'", [schema]
      )
      return found.rowCount > 0
    } catch {
      throw .unavailable("cannot open the store \(Self.redacted(uri)): \(Self.withoutSecrets(error.message, of: uri))")
    }
  }

  /// A name PostgreSQL takes unquoted: lower-case letters, digits and `_`, not starting with a digit.
  public static func isValidSchemaName(_ name: String) -> Bool {
    guard let first = name.utf8.first, name.utf8.count <= 63 else { return false }
    guard first == UInt8(ascii: "_") || (first >= UInt8(ascii: "a") && first <= UInt8(ascii: "z")) else {
      return false
    }
    return name.utf8.allSatisfy { byte in
      byte == UInt8(ascii: "_") || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
        || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
  }

  /// Whether `location` names a PostgreSQL database rather than a SQLite file.
  public static func isPostgresLocation(_ location: String) -> Bool {
    let scheme = location.prefix(13).lowercased()
    return scheme.hasPrefix("postgresql://") || scheme.hasPrefix("postgres://")
  }

  /// The URI with its scheme in lower case (schemes are case-insensitive, libpq reads only
  /// lower case): `POSTGRESQL://...` was taken for a SQLite file name, password and all.
  public static func normalisedLocation(_ location: String) -> String {
    guard isPostgresLocation(location), let end = location.firstRange(of: "://") else { return location }
    return location[..<end.lowerBound].lowercased() + location[end.lowerBound...]
  }

  /// The URI with any password removed (from the user-info part and from a `password=`
  /// parameter), for messages.
  public static func redacted(_ uri: String) -> String {
    var bytes = Array(uri.utf8)
    // user:password@ in the authority.
    if let schemeEnd = firstIndex(of: Array("://".utf8), in: bytes, from: 0) {
      let start = schemeEnd + 3
      var end = start
      while end < bytes.count && bytes[end] != UInt8(ascii: "/") && bytes[end] != UInt8(ascii: "?") { end += 1 }
      if let at = bytes[start..<end].lastIndex(of: UInt8(ascii: "@")),
        let colon = bytes[start..<at].firstIndex(of: UInt8(ascii: ":"))
      {
        bytes.removeSubrange(colon..<at)
      }
    }
    // password=... (and sslpassword=..., the client key's) as a query parameter or a key=value
    // setting.
    for key in [Array("password=".utf8), Array("sslpassword=".utf8)] {
      redactValues(of: key, in: &bytes)
    }
    // A URI's query keys are percent-decoded by libpq: `%70assword=` is a password too.
    var text = String(decoding: bytes, as: UTF8.self)
    for value in encodedKeyPasswords(in: text) where !value.isEmpty {
      text = text.replacing("=" + value, with: "=***")
    }
    return text
  }

  /// Every PostgreSQL URI in `text` (a message that may quote one, such as an argument parser's
  /// "Unexpected argument '...'") with its password removed.
  public static func redactingURIs(in text: String) -> String {
    guard text.lowercased().contains("postgres") else { return text }
    var result = ""
    var token = ""
    func flush() {
      // Punctuation after a URI in a sentence ("...: refused") is not part of it.
      var trailing = ""
      while let last = token.last, ":,;.)".contains(last) {
        trailing.insert(token.removeLast(), at: trailing.startIndex)
      }
      result += (isPostgresLocation(token) ? redacted(token) : token) + trailing
      token = ""
    }
    for character in text {
      if character.isWhitespace || character == "'" || character == "\"" || character == "`" {
        flush()
        result.append(character)
      } else {
        token.append(character)
      }
    }
    flush()
    return result
  }

  private static func redactValues(of key: [UInt8], in bytes: inout [UInt8]) {
    var searchFrom = 0
    while let found = firstIndex(of: key, in: bytes, from: searchFrom) {
      let valueStart = found + key.count
      let before = found == 0 ? UInt8(ascii: "?") : bytes[found - 1]
      guard before == UInt8(ascii: "?") || before == UInt8(ascii: "&") || before == UInt8(ascii: " ") else {
        searchFrom = valueStart
        continue
      }
      var valueEnd = valueStart
      while valueEnd < bytes.count && bytes[valueEnd] != UInt8(ascii: "&") && bytes[valueEnd] != UInt8(ascii: " ") {
        valueEnd += 1
      }
      bytes.replaceSubrange(valueStart..<valueEnd, with: Array("***".utf8))
      searchFrom = valueStart + 3
    }
  }

  /// Values of a URI's query parameters whose key, percent-decoded, is `password` but is not
  /// written plainly (`%70assword=...`).
  static func encodedKeyPasswords(in conninfo: String) -> [String] {
    guard conninfo.contains("://"), let query = conninfo.firstIndex(of: "?") else { return [] }
    return conninfo[conninfo.index(after: query)...].split(separator: "&").compactMap { parameter in
      guard let equals = parameter.firstIndex(of: "=") else { return nil }
      let key = parameter[..<equals]
      guard key != "password", key.contains("%"), String(key).removingPercentEncodingLeniently == "password" else {
        return nil
      }
      return String(parameter[parameter.index(after: equals)...])
    }
  }

  /// `message` (libpq's, about `conninfo`) without the password: libpq quotes the connection
  /// string, or the part it could not read, in its errors ('invalid percent-encoded token:
  /// "Sec%ZZret"', 'could not translate host name "Secret@host"' for an unencoded `@` in a
  /// password). Every occurrence of the password, raw or percent-decoded, becomes `***`, and a
  /// quoted part that shares four or more characters with it is dropped whole.
  public static func withoutSecrets(_ message: String, of conninfo: String) -> String {
    let secrets = passwords(in: conninfo).filter { !$0.isEmpty }
    guard !secrets.isEmpty else { return message }
    var text = message
    for secret in secrets.sorted(by: { $0.count > $1.count }) {
      text = text.replacing(secret, with: "***")
    }
    // Quoted parts: "..."
    var result = ""
    var rest = Substring(text)
    while let open = rest.firstIndex(of: "\""), let close = rest[rest.index(after: open)...].firstIndex(of: "\"") {
      let quoted = rest[rest.index(after: open)..<close]
      result += rest[...open]
      result += secrets.contains(where: { sharesRun(String(quoted), $0) }) ? "***" : String(quoted)
      result += "\""
      rest = rest[rest.index(after: close)...]
    }
    return result + rest
  }

  /// The password candidates of a connection string: the user-info part after the first `:`
  /// up to the last `@` of the authority, and every `password=` value, each also
  /// percent-decoded.
  static func passwords(in conninfo: String) -> [String] {
    var found: [String] = []
    if let scheme = conninfo.firstRange(of: "://") {
      let authority = conninfo[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" }
      if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
        found.append(String(authority[authority.index(after: colon)..<at]))
      }
    }
    var rest = Substring(conninfo)
    // (Also finds sslpassword=.)
    while let key = rest.firstRange(of: "password=") {
      let value = rest[key.upperBound...].prefix { $0 != "&" && $0 != " " }
      found.append(String(value))
      rest = rest[key.upperBound...]
    }
    found += encodedKeyPasswords(in: conninfo)
    return found + found.compactMap { $0.removingPercentEncodingLeniently }.filter { !found.contains($0) }
  }

  /// Whether `a` and `b` have a common run of at least four characters (or `b`, when shorter,
  /// whole).
  private static func sharesRun(_ a: String, _ b: String) -> Bool {
    let a = Array(a)
    let b = Array(b)
    let run = min(4, b.count)
    guard run > 0, a.count >= run else { return false }
    for start in 0...(b.count - run) {
      let piece = b[start..<start + run]
      for offset in 0...(a.count - run) where a[offset..<offset + run].elementsEqual(piece) { return true }
    }
    return false
  }

  private static func firstIndex(of needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
    guard needle.count <= bytes.count else { return nil }
    var index = start
    while index + needle.count <= bytes.count {
      if bytes[index..<index + needle.count].elementsEqual(needle) { return index }
      index += 1
    }
    return nil
  }

  // MARK: Session

  private var advisoryKey: String { "hashtext('petition-rpc:' || '\(schema)')" }

  /// Creates the schema and applies the missing migrations, in one transaction under an
  /// advisory lock: processes starting at once wait for the first, then find nothing to do.
  private func migrate() throws(PGError) {
    try connection.execute("BEGIN")
    do throws(PGError) {
      try connection.execute("SELECT pg_advisory_xact_lock(\(advisoryKey))")
      try connection.execute(
        """
        CREATE SCHEMA IF NOT EXISTS \(schema);
        SET LOCAL search_path TO \(schema);
        CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
        """)
      let current = try connection.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").int64(0, 0)
      let newest = Schema.migrations.last?.version ?? 0
      if current > newest {
        throw PGError(
          sqlState: nil,
          message: "the schema \(schema) was made by a newer petition-rpc (version \(current) > \(newest))",
          connectionLost: false)
      }
      for migration in Schema.migrations where migration.version > current {
        try connection.execute(migration.sql)
        try connection.execute("INSERT INTO schema_migrations (version) VALUES (\(migration.version))")
      }
      let hex = Self.hex(Secrets.randomBytes(32))
      try connection.queryOnce(
        "INSERT INTO store_secret (only_row, secret) VALUES (true, $1) ON CONFLICT DO NOTHING", [hex])
      let stored = try connection.execute("SELECT secret FROM store_secret").string(0, 0)
      secret = Self.bytes(fromHex: stored)
      try connection.execute("COMMIT")
    } catch {
      connection.rollbackQuietly()
      throw error
    }
  }

  /// Per-connection settings, and a counter slot of this connection's own: the first of 64
  /// whose session advisory lock is free (a shared slot past that, still exact, only slower).
  private func prepareSession() throws(PGError) {
    try connection.execute(
      """
      SET search_path TO \(schema);
      SET synchronous_commit TO on;
      SET lock_timeout TO \(max(lockTimeoutMilliseconds, 1));
      SET client_min_messages TO warning;
      """)
    // One lock tried at a time, stopping at the first taken: a query that filtered the 64
    // candidates with pg_try_advisory_lock took every free one (its sort read them all), so
    // each connection held 64 locks until it closed - the first process had every slot and a
    // few hundred connections filled PostgreSQL's shared lock table ("out of shared memory").
    try connection.execute(
      """
      DO $slot$
      BEGIN
        FOR s IN 1..64 LOOP
          IF pg_try_advisory_lock(hashtext('petition-rpc-slot:' || '\(schema)'), s) THEN
            PERFORM set_config('petition_rpc.slot', s::text, false);
            RETURN;
          END IF;
        END LOOP;
        PERFORM set_config('petition_rpc.slot', (65 + pg_backend_pid() % 64)::text, false);
      END $slot$
      """)
  }

  /// Connects again when the last operation lost the connection.
  func ensureConnected() throws(StoreError) {
    guard needsReconnect || connection.isBroken else { return }
    do throws(PGError) {
      try connection.reconnect()
      try prepareSession()
      needsReconnect = false
    } catch {
      needsReconnect = true
      throw .unavailable("the database \(location) is unreachable: \(error.message)")
    }
  }

  // MARK: Write groups

  public func performWriteGroup(stopIf shouldStop: () -> Bool, _ body: () -> Void)
    throws(StoreError)
  {
    if isInsideWriteGroup {
      body()
      return
    }
    try ensureConnected()
    do throws(PGError) {
      try connection.execute("BEGIN")
    } catch {
      throw unavailable(error)
    }
    try withoutActuallyEscaping(shouldStop) { shouldStop throws(StoreError) in
      connection.shouldStop = shouldStop
      defer { connection.shouldStop = nil }
      _ = connection.takeWasStopped()
      isInsideWriteGroup = true
      groupFailure = nil
      groupConflicted = false
      deltas = CountDeltas()
      body()
      isInsideWriteGroup = false
      // A cancel request was sent because a request of the group was cancelled: nothing of the
      // group is written (also when the statement it was meant for finished first: the cancel
      // may then reach a later statement, even COMMIT), and the caller runs the rest again.
      if connection.takeWasStopped() {
        groupFailure = nil
        deltas = CountDeltas()
        connection.shouldStop = nil
        connection.settleAfterCancel()
        forgetUncommitted()
        throw .interrupted
      }
      if let failure = groupFailure {
        groupFailure = nil
        deltas = CountDeltas()
        connection.rollbackQuietly()
        forgetUncommitted()
        // Signs into several petitions lock them in key order (signMany), but a group can still
        // meet another in a cycle (single signs into two petitions with other calls between
        // them): PostgreSQL then fails one of the two, which the caller may run again.
        if groupConflicted, case .unavailable(let reason) = failure { throw .conflicted(reason) }
        throw failure
      }
      do throws(PGError) {
        try flushDeltas()
        // The commit is not stopped: once it is sent, its answer decides.
        connection.shouldStop = nil
        try connection.execute("COMMIT")
      } catch {
        deltas = CountDeltas()
        connection.shouldStop = nil
        forgetUncommitted()
        if connection.takeWasStopped() {
          connection.settleAfterCancel()
          throw .interrupted
        }
        connection.rollbackQuietly()
        throw unavailable(error)
      }
    }
  }

  /// After a rollback: what this connection learnt inside the transaction may not exist. A
  /// petition created by a group that was rolled back (a cancel, a failure) left its key in
  /// `knownPetitions`, and the group's next attempt created it again under a new key and signed
  /// into the old one: a foreign-key failure, every call of the group -32000.
  func forgetUncommitted() {
    knownPetitions.removeAll()
    goalReached.removeAll()
  }

  /// Runs a write operation: inside the running write group, or else in its own transaction,
  /// committed before returning.
  ///
  /// `operation` checks everything that can fail with a domain error before it writes (or, in
  /// a server-side function, answers such a failure as a value), so such a failure leaves
  /// nothing behind even inside a group. Any database failure dooms the whole group: PostgreSQL
  /// aborts the transaction.
  ///
  /// Only signs and imports (`tallied`) leave new signatures in `deltas`; every other operation
  /// first adds them to the counters, so the counts it reads are exact.
  func write<T>(tallied: Bool = false, _ operation: () throws -> T) throws(StoreError) -> T {
    if isInsideWriteGroup {
      if let groupFailure { throw groupFailure }
      do {
        if !tallied { try flushDeltas() }
        return try operation()
      } catch {
        let failure = storeError(error)
        if case .unavailable = failure {
          groupFailure = failure
          if let error = error as? PGError, error.sqlState == "40P01" || error.sqlState == "40001" {
            groupConflicted = true
          }
        }
        throw failure
      }
    }
    try ensureConnected()
    do {
      try connection.execute("BEGIN")
      deltas = CountDeltas()
      let value = try operation()
      try flushDeltas()
      try connection.execute("COMMIT")
      return value
    } catch {
      deltas = CountDeltas()
      connection.rollbackQuietly()
      forgetUncommitted()
      throw storeError(error)
    }
  }

  /// Adds the new signatures tallied in `deltas` to this connection's counter rows: one
  /// statement per table, whatever the number of signatures.
  func flushDeltas() throws(PGError) {
    guard !deltas.isEmpty else { return }
    let counters = deltas.counters.sorted { $0.key < $1.key }
    let groups = deltas.groups.sorted {
      ($0.key.petition, $0.key.dimension, $0.key.key) < ($1.key.petition, $1.key.dimension, $1.key.key)
    }
    // In key order, as every writer upserts them: two writers never wait on each other in a cycle.
    let hours = deltas.hours.sorted {
      ($0.key.petition, $0.key.dimension, $0.key.hour, $0.key.key)
        < ($1.key.petition, $1.key.dimension, $1.key.hour, $1.key.key)
    }
    deltas = CountDeltas()
    try connection.query(
      """
      INSERT INTO counters AS c (petition, slot, confirmed, pending)
      SELECT p, counter_slot(), n, m FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS d (p, n, m)
      ON CONFLICT (petition, slot) DO UPDATE SET
        confirmed = c.confirmed + excluded.confirmed, pending = c.pending + excluded.pending
      """,
      [
        Self.arrayLiteral(counters.map { String($0.key) }),
        Self.arrayLiteral(counters.map { String($0.value.confirmed) }),
        Self.arrayLiteral(counters.map { String($0.value.pending) }),
      ])
    guard !groups.isEmpty else { return }
    try connection.query(
      """
      INSERT INTO group_counts AS g (petition, dimension, key, slot, n)
      SELECT p, d, k, counter_slot(), n FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::bigint[]) AS u (p, d, k, n)
      ON CONFLICT (petition, dimension, key, slot) DO UPDATE SET n = g.n + excluded.n
      """,
      [
        Self.arrayLiteral(groups.map { String($0.key.petition) }),
        Self.arrayLiteral(groups.map { String($0.key.dimension) }), Self.arrayLiteral(groups.map { $0.key.key }),
        Self.arrayLiteral(groups.map { String($0.value) }),
      ])
    try connection.query(
      """
      INSERT INTO hourly_counts AS o (petition, dimension, hour, key, slot, n)
      SELECT p, d, h, k, counter_slot(), n
      FROM unnest($1::bigint[], $2::smallint[], $3::bigint[], $4::text[], $5::bigint[]) AS u (p, d, h, k, n)
      ON CONFLICT (petition, dimension, hour, key, slot) DO UPDATE SET n = o.n + excluded.n
      """,
      [
        Self.arrayLiteral(hours.map { String($0.key.petition) }),
        Self.arrayLiteral(hours.map { String($0.key.dimension) }),
        Self.arrayLiteral(hours.map { String($0.key.hour) }), Self.arrayLiteral(hours.map { $0.key.key }),
        Self.arrayLiteral(hours.map { String($0.value) }),
      ])
  }

  /// Runs a read operation; with `consistent`, in one snapshot (a repeatable-read transaction).
  func read<T>(consistent: Bool = false, _ operation: () throws -> T) throws(StoreError) -> T {
    if !isInsideWriteGroup {
      try ensureConnected()
    } else if !deltas.isEmpty {
      do throws(PGError) {
        try flushDeltas()
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
      try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
      let value = try operation()
      try connection.execute("COMMIT")
      return value
    } catch {
      connection.rollbackQuietly()
      throw storeError(error)
    }
  }

  // MARK: Errors

  func storeError(_ error: any Error) -> StoreError {
    switch error {
    case let error as StoreError: error
    case let error as PGError: unavailable(error)
    default: .unavailable("unexpected store failure: \(error)")
    }
  }

  func unavailable(_ error: PGError) -> StoreError {
    if error.connectionLost || connection.isBroken {
      needsReconnect = true
      return .unavailable("the connection to the database \(location) was lost: \(error.message)")
    }
    let summary =
      switch error.sqlState {
      case "55P03": "a row is locked by another process (waited \(lockTimeoutMilliseconds) ms)"
      case "40P01": "a deadlock with another process"
      case "40001": "a conflict with another process"
      case "53100": "the database's disk is full"
      case "25006": "the database is read-only"
      case "57P01", "57P02", "57P03": "the database is shutting down or starting"
      case "57014": "the statement was cancelled"
      default: "the database failed"
      }
    return .unavailable(summary + " (PostgreSQL: " + error.message + ")")
  }

  // MARK: Helpers

  static func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: text, as: UTF8.self)
  }

  static func bytes(fromHex hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var high: UInt8?
    for char in hex.utf8 {
      let value: UInt8
      switch char {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): value = char - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): value = char - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): value = char - UInt8(ascii: "A") + 10
      default: continue
      }
      if let first = high {
        bytes.append(first << 4 | value)
        high = nil
      } else {
        high = value
      }
    }
    return bytes
  }

  /// Suppression entries are (hash, channel): the hash of a person (canonical email) or of a
  /// phone number, as hex HMAC-SHA-256 under the store's secret (the same as the SQLite store's,
  /// so copy-store moves them with the secret).
  func suppressionHash(email canonicalEmail: String) -> String {
    Self.hex(suppressionHMAC.authenticate(Array(("email:" + canonicalEmail).utf8)))
  }

  func suppressionHash(phone: String) -> String {
    Self.hex(suppressionHMAC.authenticate(Array(("phone:" + phone).utf8)))
  }

  static func bits(_ channels: some Sequence<Channel>) -> Int {
    var bits = 0
    for channel in channels {
      switch channel {
      case .email: bits |= 1
      case .phone: bits |= 2
      case .sms: bits |= 4
      }
    }
    return bits
  }

  static func channels(bits: Int) -> [Channel] {
    Channel.allCases.filter { bits & Self.bits([$0]) != 0 }
  }

  /// A PostgreSQL text array literal of `values` (quoted, NULL for nil). Built as UTF-8 bytes
  /// in one buffer: a write group's arrays hold thousands of values (per-character String
  /// appends were 6% of a pipelined sign's CPU).
  static func arrayLiteral(_ values: [String?]) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(2 + values.count * 16)
    bytes.append(UInt8(ascii: "{"))
    for (index, value) in values.enumerated() {
      if index > 0 { bytes.append(UInt8(ascii: ",")) }
      guard var value else {
        bytes.append(contentsOf: [UInt8(ascii: "N"), UInt8(ascii: "U"), UInt8(ascii: "L"), UInt8(ascii: "L")])
        continue
      }
      bytes.append(UInt8(ascii: "\""))
      value.withUTF8 { utf8 in
        for byte in utf8 {
          if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
          bytes.append(byte)
        }
      }
      bytes.append(UInt8(ascii: "\""))
    }
    bytes.append(UInt8(ascii: "}"))
    return String(decoding: bytes, as: UTF8.self)
  }
}

/// New signatures of a transaction, tallied in memory until they are added to the counters.
struct CountDeltas {
  struct GroupKey: Hashable {
    var petition: Int64
    /// As in `group_counts`: 0 day, 1 postal code, 2 country, 3 source.
    var dimension: Int
    var key: String
  }
  /// A key of `hourly_counts`: dimension 0 is the whole count (key '').
  struct HourKey: Hashable {
    var petition: Int64
    var dimension: Int
    var hour: Int64
    var key: String
  }
  var counters: [Int64: (confirmed: Int, pending: Int)] = [:]
  var groups: [GroupKey: Int] = [:]
  var hours: [HourKey: Int] = [:]

  var isEmpty: Bool { counters.isEmpty }

  /// The confirmed signatures of `petition` tallied so far.
  func confirmed(_ petition: Int64) -> Int { counters[petition]?.confirmed ?? 0 }

  mutating func addPending(_ petition: Int64) {
    counters[petition, default: (0, 0)].pending += 1
  }

  mutating func addConfirmed(
    _ petition: Int64, signedAt: Timestamp, postalCode: String, country: String, source: String?
  ) {
    counters[petition, default: (0, 0)].confirmed += 1
    let milliseconds = signedAt.millisecondsSinceEpoch
    let day = (milliseconds - ((milliseconds % 86_400_000) + 86_400_000) % 86_400_000) / 86_400_000
    groups[GroupKey(petition: petition, dimension: 0, key: String(day)), default: 0] += 1
    groups[GroupKey(petition: petition, dimension: 1, key: postalCode), default: 0] += 1
    groups[GroupKey(petition: petition, dimension: 2, key: country), default: 0] += 1
    groups[GroupKey(petition: petition, dimension: 3, key: source ?? ""), default: 0] += 1
    let hour = (milliseconds - ((milliseconds % 3_600_000) + 3_600_000) % 3_600_000) / 3_600_000
    hours[HourKey(petition: petition, dimension: 0, hour: hour, key: ""), default: 0] += 1
    hours[HourKey(petition: petition, dimension: 1, hour: hour, key: postalCode), default: 0] += 1
    hours[HourKey(petition: petition, dimension: 2, hour: hour, key: country), default: 0] += 1
    hours[HourKey(petition: petition, dimension: 3, hour: hour, key: source ?? ""), default: 0] += 1
  }
}

extension String {
  /// Percent-decoded where the escapes are valid (`%41` is `A`), other text kept as it is; nil
  /// when nothing was decoded.
  fileprivate var removingPercentEncodingLeniently: String? {
    let bytes = Array(utf8)
    var out: [UInt8] = []
    var index = 0
    var decoded = false
    func hex(_ byte: UInt8) -> UInt8? {
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
      default: nil
      }
    }
    while index < bytes.count {
      if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count, let high = hex(bytes[index + 1]),
        let low = hex(bytes[index + 2])
      {
        out.append(high << 4 | low)
        index += 3
        decoded = true
      } else {
        out.append(bytes[index])
        index += 1
      }
    }
    return decoded ? String(decoding: out, as: UTF8.self) : nil
  }
}
