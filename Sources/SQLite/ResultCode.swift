import CSQLite

/// An SQLite result code, primary (`busy`) or extended (`busyTimeout`).
///
/// A struct rather than an enum so that any code SQLite returns, including ones added by later
/// versions, can be represented and compared.
public struct ResultCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: Int32

  public init(rawValue: Int32) { self.rawValue = rawValue }

  /// The primary code of an extended code (the low byte); a primary code is its own primary code.
  public var primary: ResultCode { ResultCode(rawValue: rawValue & 0xFF) }

  /// SQLite's English description of the code, e.g. "database is locked".
  public var description: String {
    guard let text = sqlite3_errstr(rawValue) else { return "result code \(rawValue)" }
    return String(cString: text)
  }

  public static let ok = ResultCode(rawValue: SQLITE_OK)
  public static let error = ResultCode(rawValue: SQLITE_ERROR)
  public static let internalError = ResultCode(rawValue: SQLITE_INTERNAL)
  public static let permission = ResultCode(rawValue: SQLITE_PERM)
  public static let abort = ResultCode(rawValue: SQLITE_ABORT)
  public static let busy = ResultCode(rawValue: SQLITE_BUSY)
  public static let locked = ResultCode(rawValue: SQLITE_LOCKED)
  public static let noMemory = ResultCode(rawValue: SQLITE_NOMEM)
  public static let readOnly = ResultCode(rawValue: SQLITE_READONLY)
  public static let interrupt = ResultCode(rawValue: SQLITE_INTERRUPT)
  public static let ioError = ResultCode(rawValue: SQLITE_IOERR)
  public static let corrupt = ResultCode(rawValue: SQLITE_CORRUPT)
  public static let full = ResultCode(rawValue: SQLITE_FULL)
  public static let cantOpen = ResultCode(rawValue: SQLITE_CANTOPEN)
  public static let schema = ResultCode(rawValue: SQLITE_SCHEMA)
  public static let tooBig = ResultCode(rawValue: SQLITE_TOOBIG)
  public static let constraint = ResultCode(rawValue: SQLITE_CONSTRAINT)
  public static let mismatch = ResultCode(rawValue: SQLITE_MISMATCH)
  public static let misuse = ResultCode(rawValue: SQLITE_MISUSE)
  public static let range = ResultCode(rawValue: SQLITE_RANGE)
  public static let notADatabase = ResultCode(rawValue: SQLITE_NOTADB)
  public static let row = ResultCode(rawValue: SQLITE_ROW)
  public static let done = ResultCode(rawValue: SQLITE_DONE)

  // Extended codes are function-like macros in sqlite3.h, which Swift does not import.
  /// A WAL read transaction could not be upgraded to a write transaction (`SQLITE_BUSY_SNAPSHOT`).
  public static let busySnapshot = ResultCode(rawValue: SQLITE_BUSY | (2 << 8))
  /// A UNIQUE constraint failed (`SQLITE_CONSTRAINT_UNIQUE`).
  public static let constraintUnique = ResultCode(rawValue: SQLITE_CONSTRAINT | (8 << 8))
  /// A PRIMARY KEY constraint failed (`SQLITE_CONSTRAINT_PRIMARYKEY`).
  public static let constraintPrimaryKey = ResultCode(rawValue: SQLITE_CONSTRAINT | (6 << 8))
  /// A FOREIGN KEY constraint failed (`SQLITE_CONSTRAINT_FOREIGNKEY`).
  public static let constraintForeignKey = ResultCode(rawValue: SQLITE_CONSTRAINT | (3 << 8))
}
