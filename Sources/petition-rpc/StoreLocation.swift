import Petitions
import PostgresStore
import SQLiteStore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Where the store is: a SQLite file, or a PostgreSQL database named by a connection URI.
enum StoreLocation: Equatable {
  case sqlite(path: String)
  case postgres(uri: String, schema: String)

  static let defaultSchema = "petition_rpc"

  /// `--db` if given, else `$PETITION_RPC_DB`, else `petitions.sqlite3`; a `postgresql://` or
  /// `postgres://` URI selects PostgreSQL (tables in `schema`, default `petition_rpc`).
  static func resolve(_ flag: String?, pgSchema: String?) -> StoreLocation {
    let environment = getenv("PETITION_RPC_DB").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    return parse(flag ?? environment ?? "petitions.sqlite3", pgSchema: pgSchema)
  }

  static func parse(_ text: String, pgSchema: String?) -> StoreLocation {
    PostgresStore.isPostgresLocation(text)
      ? .postgres(uri: PostgresStore.normalisedLocation(text), schema: pgSchema ?? defaultSchema) : .sqlite(path: text)
  }

  /// For messages: never a password.
  var description: String {
    switch self {
    case .sqlite(let path): path
    case .postgres(let uri, let schema): "\(PostgresStore.redacted(uri)) (schema \(schema))"
    }
  }

  /// Opens the store; nil after one clear line on stderr (no password) when it cannot be opened.
  func open(busyTimeoutMilliseconds: Int) -> PetitionStore? {
    do throws(StoreError) {
      switch self {
      case .sqlite(let path):
        return try SQLiteStore(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
      case .postgres(let uri, let schema):
        return try PostgresStore(uri: uri, schema: schema, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
      }
    } catch {
      if case .unavailable(let reason) = error {
        StandardError.write(reason)
      } else {
        StandardError.write("cannot open the store \(description): \(error)")
      }
      return nil
    }
  }
}

/// One diagnostic line on stderr. Callers never pass personal data or passwords.
enum StandardError {
  static func write(_ message: String) {
    // Never a password, whatever quoted it (a URI given where a flag was expected, say).
    let line = Array("petition-rpc: \(PostgresStore.redactingURIs(in: message))\n".utf8)
    line.withUnsafeBytes { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
  }
}
