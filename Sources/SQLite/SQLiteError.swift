import CSQLite

/// A failure reported by SQLite (or by this wrapper's own checks, such as the migrator's).
///
/// It keeps what is needed to understand the failure: the primary and extended result codes,
/// SQLite's message and the SQL that was running. Values are always bound as parameters, never
/// spliced into the SQL, so the SQL carries no personal data and may be logged.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
  /// The primary result code, e.g. `.busy`; compare with `==` against the static constants.
  public var code: ResultCode
  /// The extended result code, e.g. `.busySnapshot`; equal to `code` when there is no extension.
  public var extendedCode: ResultCode
  /// SQLite's message (`sqlite3_errmsg`) at the time of the failure.
  public var message: String
  /// The statement that failed, if the failure belongs to one.
  public var sql: String?

  public init(code: ResultCode, extendedCode: ResultCode? = nil, message: String, sql: String? = nil) {
    self.code = code.primary
    self.extendedCode = extendedCode ?? code
    self.message = message
    self.sql = sql
  }

  /// The error SQLite holds for `connection` after a call returned `result`.
  init(result: Int32, connection: OpaquePointer?, sql: String?) {
    let extended = connection.map { sqlite3_extended_errcode($0) } ?? result
    // sqlite3_errmsg describes the most recent call, which may not be the one that returned
    // `result` (e.g. a bind); fall back to the generic text for the code then.
    let message: String
    if let connection, extended & 0xFF == result & 0xFF, let text = sqlite3_errmsg(connection) {
      message = String(cString: text)
    } else {
      message = ResultCode(rawValue: result).description
    }
    self.init(
      code: ResultCode(rawValue: result),
      extendedCode: extended & 0xFF == result & 0xFF ? ResultCode(rawValue: extended) : ResultCode(rawValue: result),
      message: message, sql: sql)
  }

  public var description: String {
    var text = "SQLite error \(extendedCode.rawValue) (\(code)): \(message)"
    if let sql { text += " — in: \(sql)" }
    return text
  }
}
