import Foundation

/// Which store the end-to-end tests run the server on: SQLite (the default), or PostgreSQL when
/// `PETITION_RPC_TEST_STORE=postgres` and `PETITION_RPC_TEST_PG_URI` are set (`make test-postgres`).
/// On PostgreSQL each SQLite path a test names becomes a schema of its own (the same path, the
/// same schema, so a test that restarts its server finds its data), and `:memory:` a fresh one.
public enum StoreUnderTest {
  public static let postgresURI: String? = {
    let environment = ProcessInfo.processInfo.environment
    guard environment["PETITION_RPC_TEST_STORE"] == "postgres" else { return nil }
    guard let uri = environment["PETITION_RPC_TEST_PG_URI"], !uri.isEmpty else {
      fatalError("PETITION_RPC_TEST_STORE=postgres needs PETITION_RPC_TEST_PG_URI (see scripts/pg-test-cluster.sh)")
    }
    return uri
  }()

  public static var isPostgres: Bool { postgresURI != nil }

  private static let lock = NSLock()
  nonisolated(unsafe) private static var schemas: [String: String] = [:]

  /// The schema that stands for a SQLite path.
  public static func schema(for path: String) -> String {
    lock.lock()
    defer { lock.unlock() }
    if path != ":memory:", let known = schemas[path] { return known }
    let schema = "e2e_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
    if path != ":memory:" { schemas[path] = schema }
    return schema
  }

  /// `--db PATH` becomes `--db URI --pg-schema SCHEMA` on PostgreSQL; anything else is kept.
  public static func rewrite(_ arguments: [String], workingDirectory: String?) -> [String] {
    guard let uri = postgresURI else { return arguments }
    var result: [String] = []
    var index = 0
    while index < arguments.count {
      let argument = arguments[index]
      if argument == "--db", index + 1 < arguments.count, !arguments[index + 1].hasPrefix("postgres") {
        var path = arguments[index + 1]
        if path != ":memory:" && !path.hasPrefix("/") {
          path = (workingDirectory ?? FileManager.default.currentDirectoryPath) + "/" + path
        }
        result += ["--db", uri, "--pg-schema", schema(for: path)]
        index += 2
      } else if argument.hasPrefix("--db="), !argument.hasPrefix("--db=postgres") {
        result += ["--db", uri, "--pg-schema", schema(for: String(argument.dropFirst(5)))]
        index += 1
      } else {
        result.append(argument)
        index += 1
      }
    }
    return result
  }
}
