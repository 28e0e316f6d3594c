import CSQLite

/// A prepared statement, finalized when the last reference goes away.
///
/// Parameters are bound by 1-based index and columns are read by 0-based index, as in the C API.
/// Text is exchanged as UTF-8. A statement belongs to the thread using its connection.
public final class Statement {
  /// The statement handle; valid for the lifetime of this object.
  public let handle: OpaquePointer
  /// The SQL the statement was prepared from.
  public let sql: String

  init(handle: OpaquePointer, sql: String) {
    self.handle = handle
    self.sql = sql
  }

  deinit {
    // The connection is closed with sqlite3_close_v2, so finalizing after it was closed is safe.
    sqlite3_finalize(handle)
  }

  // MARK: Binding

  /// Binds an integer to the parameter at `index` (1-based).
  public func bind(_ value: Int64, at index: Int32) throws(SQLiteError) {
    try check(sqlite3_bind_int64(handle, index, value))
  }

  /// Binds an integer to the parameter at `index` (1-based).
  public func bind(_ value: Int, at index: Int32) throws(SQLiteError) {
    try bind(Int64(value), at: index)
  }

  /// Binds a Boolean as the integer 1 or 0, SQLite's representation of truth values.
  public func bind(_ value: Bool, at index: Int32) throws(SQLiteError) {
    try bind(value ? 1 as Int64 : 0, at: index)
  }

  /// Binds text, copied by SQLite as UTF-8 (embedded NUL characters are kept).
  public func bind(_ value: String, at index: Int32) throws(SQLiteError) {
    var value = value
    let result = value.withUTF8 { bytes -> Int32 in
      // A nil base address would bind NULL; an empty string must stay an empty text value.
      guard let base = bytes.baseAddress, bytes.count > 0 else {
        return sqlite3_bind_text(handle, index, "", 0, csqlite_transient())
      }
      return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
        sqlite3_bind_text64(handle, index, $0, UInt64(bytes.count), csqlite_transient(), UInt8(SQLITE_UTF8))
      }
    }
    try check(result)
  }

  /// Binds bytes as a BLOB, copied by SQLite.
  public func bind(blob value: [UInt8], at index: Int32) throws(SQLiteError) {
    let result = value.withUnsafeBytes { bytes -> Int32 in
      // A nil pointer would bind NULL; an empty blob stays a zero-length blob.
      sqlite3_bind_blob64(
        handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64(bytes.count), csqlite_transient())
    }
    try check(result)
  }

  /// Binds text, or NULL when `value` is nil.
  public func bind(_ value: String?, at index: Int32) throws(SQLiteError) {
    if let value { try bind(value, at: index) } else { try bindNull(at: index) }
  }

  /// Binds an integer, or NULL when `value` is nil.
  public func bind(_ value: Int64?, at index: Int32) throws(SQLiteError) {
    if let value { try bind(value, at: index) } else { try bindNull(at: index) }
  }

  /// Binds an integer, or NULL when `value` is nil.
  public func bind(_ value: Int?, at index: Int32) throws(SQLiteError) {
    try bind(value.map(Int64.init), at: index)
  }

  /// Binds NULL to the parameter at `index` (1-based).
  public func bindNull(at index: Int32) throws(SQLiteError) {
    try check(sqlite3_bind_null(handle, index))
  }

  // MARK: Running

  /// Runs the statement to its next row. Returns true when a row is available to read, false
  /// when the statement is done.
  @discardableResult
  public func step() throws(SQLiteError) -> Bool {
    let result = sqlite3_step(handle)
    switch result {
    case SQLITE_ROW: return true
    case SQLITE_DONE: return false
    default:
      let error = SQLiteError(result: result, connection: sqlite3_db_handle(handle), sql: sql)
      // A statement left running after an error (e.g. a BUSY BEGIN IMMEDIATE, which SQLite
      // keeps resumable) counts as an active writer and makes a later COMMIT fail.
      sqlite3_reset(handle)
      throw error
    }
  }

  /// Runs the statement to completion, ignoring any rows (for writes and DDL).
  public func execute() throws(SQLiteError) {
    while try step() {}
  }

  /// Makes the statement ready to run again and clears its bindings.
  ///
  /// Not throwing: `sqlite3_reset` repeats the error of the last step, which the caller has
  /// already seen. Resetting also ends the statement's read of the database, which matters in
  /// WAL mode (an open read holds back checkpoints).
  public func reset() {
    sqlite3_reset(handle)
    sqlite3_clear_bindings(handle)
  }

  // MARK: Reading columns of the current row

  /// Whether the column at `index` (0-based) of the current row is NULL.
  public func isNull(at index: Int32) -> Bool {
    sqlite3_column_type(handle, index) == SQLITE_NULL
  }

  /// The column at `index` as an integer (NULL reads as 0).
  public func int64(at index: Int32) -> Int64 {
    sqlite3_column_int64(handle, index)
  }

  /// The column at `index` as an integer (NULL reads as 0).
  public func int(at index: Int32) -> Int {
    Int(sqlite3_column_int64(handle, index))
  }

  /// The column at `index` as an integer, nil when NULL.
  public func optionalInt64(at index: Int32) -> Int64? {
    isNull(at: index) ? nil : int64(at: index)
  }

  /// The column at `index` as a truth value: any non-zero integer is true.
  public func bool(at index: Int32) -> Bool {
    sqlite3_column_int64(handle, index) != 0
  }

  /// The column at `index` as UTF-8 text (NULL reads as the empty string).
  public func string(at index: Int32) -> String {
    // Read the text before its length: sqlite3_column_bytes after sqlite3_column_text measures
    // the converted UTF-8 value (the documented safe order).
    guard let text = sqlite3_column_text(handle, index) else { return "" }
    let count = Int(sqlite3_column_bytes(handle, index))
    return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
  }

  /// The column's UTF-8 bytes in place (nil when NULL), valid only inside `body`: no string is
  /// made.
  public func withText<Result>(at index: Int32, _ body: (UnsafeBufferPointer<UInt8>?) -> Result) -> Result {
    guard sqlite3_column_type(handle, index) != SQLITE_NULL else { return body(nil) }
    guard let text = sqlite3_column_text(handle, index) else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
    let count = Int(sqlite3_column_bytes(handle, index))
    return body(UnsafeBufferPointer(start: text, count: count))
  }

  /// The column at `index` as bytes (NULL and text read as their bytes, NULL as empty).
  public func blob(at index: Int32) -> [UInt8] {
    guard let bytes = sqlite3_column_blob(handle, index) else { return [] }
    let count = Int(sqlite3_column_bytes(handle, index))
    return Array(UnsafeRawBufferPointer(start: bytes, count: count))
  }

  /// The column at `index` as UTF-8 text, nil when NULL.
  public func optionalString(at index: Int32) -> String? {
    isNull(at: index) ? nil : string(at: index)
  }

  // MARK: Private

  private func check(_ result: Int32) throws(SQLiteError) {
    guard result == SQLITE_OK else {
      throw SQLiteError(result: result, connection: sqlite3_db_handle(handle), sql: sql)
    }
  }
}
