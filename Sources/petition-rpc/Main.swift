import ArgumentParser
import JSONRPC
import Logging
import PostgresStore
import SQLiteStore
import Server
import Service

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The command line: parses flags, then wires the store, the service and the engine together.
@main
struct PetitionRPC: ParsableCommand {
  static let version = "0.1.0"

  static let configuration = CommandConfiguration(
    commandName: "petition-rpc",
    abstract: "Takes, counts and exports petition signatures: JSON-RPC 2.0 on stdin/stdout.",
    discussion: """
      Requests are read on stdin, one JSON text per line (NDJSON) or framed with
      Content-Length headers (LSP base protocol); each response uses its request's framing.
      Diagnostics go to stderr. `rpc.discover` returns the OpenRPC document of every method.
      """,
    version: version
  )

  @Option(
    name: .customLong("db"),
    help: ArgumentHelp(
      "The store: a SQLite file, created if needed (':memory:' for a throw-away store), or postgresql://...",
      discussion: "Default: $PETITION_RPC_DB, else petitions.sqlite3 in the current directory.",
      valueName: "path"))
  var databasePath: String?

  @Option(help: ArgumentHelp("Largest accepted message, in bytes.", valueName: "bytes"))
  var maxMessageBytes: Int = 1_048_576

  @Option(help: ArgumentHelp("Most requests accepted in one batch.", valueName: "count"))
  var maxBatch: Int = 1000

  @Option(
    name: .customLong("busy-timeout-ms"),
    help: ArgumentHelp("How long to wait for a store another process holds locked.", valueName: "ms"))
  var busyTimeoutMilliseconds: Int = 5000

  @Option(
    name: .customLong("pg-schema"),
    help: ArgumentHelp("The PostgreSQL schema of the tables (default petition_rpc).", valueName: "name"))
  var pgSchema: String?

  func validate() throws {
    guard maxMessageBytes >= 64 else { throw ValidationError("--max-message-bytes must be at least 64") }
    guard maxBatch >= 1 else { throw ValidationError("--max-batch must be at least 1") }
    guard busyTimeoutMilliseconds >= 0 else { throw ValidationError("--busy-timeout-ms must not be negative") }
    if let databasePath, databasePath.isEmpty { throw ValidationError("--db must not be empty") }
    if let pgSchema, !PostgresStore.isValidSchemaName(pgSchema) {
      throw ValidationError("--pg-schema must be lower-case letters, digits and _ (at most 63)")
    }
  }

  func run() throws {
    let settings = Settings(
      databasePath: databasePath, maxMessageBytes: maxMessageBytes, maxBatch: maxBatch,
      busyTimeoutMilliseconds: busyTimeoutMilliseconds, pgSchema: pgSchema)
    guard Self.serve(settings) else { throw ExitCode.failure }
  }

  /// Start-up without swift-argument-parser's reflection (about 1.5 ms of a 7 ms cold start) for
  /// the common case: only known `--flag value` options with valid values. Anything else (help,
  /// version, a bad or unknown flag) goes through `ParsableCommand.main()`, so its messages and
  /// exit codes are the parser's.
  static func main() {
    if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "copy-store" {
      Glibc.exit(CopyStore.run(Array(CommandLine.arguments.dropFirst(2))))
    }
    if let settings = Settings.parseSimple(Array(CommandLine.arguments.dropFirst())) {
      Glibc.exit(serve(settings) ? 0 : 1)
    }
    Self.main(nil)
  }

  /// Opens the store and serves until end of input or a stop signal; false when the store cannot
  /// be opened (the reason is on stderr).
  static func serve(_ settings: Settings) -> Bool {
    // A client that goes away must not kill the server before it commits what it read.
    signal(SIGPIPE, SIG_IGN)
    let stopSignal = StopSignal.install()
    let output = OutputWriter.claimStandardOutput()
    let logger = Diagnostics.makeLogger()

    guard
      let store = StoreLocation.resolve(settings.databasePath, pgSchema: settings.pgSchema).open(
        busyTimeoutMilliseconds: settings.busyTimeoutMilliseconds)
    else { return false }
    let service = PetitionService(store: store, logger: logger)
    let engine = Engine(
      limits: EngineLimits(maxMessageBytes: settings.maxMessageBytes, maxBatch: settings.maxBatch), output: output,
      logger: logger)
    engine.run(input: STDIN_FILENO, service: service, stopSignal: stopSignal)
    return true
  }
}

/// What the flags set, however they were parsed.
struct Settings: Equatable {
  var databasePath: String?
  var maxMessageBytes = 1_048_576
  var maxBatch = 1000
  var busyTimeoutMilliseconds = 5000
  var pgSchema: String?

  /// The settings of a command line made only of known options with valid values (the same
  /// rules as `PetitionRPC.validate()`); nil for anything else, which the full parser handles.
  static func parseSimple(_ arguments: [String]) -> Settings? {
    var settings = Settings()
    var index = 0
    while index < arguments.count {
      var name = arguments[index]
      let value: String
      if let equals = name.firstIndex(of: "=") {
        value = String(name[name.index(after: equals)...])
        name = String(name[..<equals])
        index += 1
      } else {
        guard index + 1 < arguments.count else { return nil }
        value = arguments[index + 1]
        index += 2
      }
      guard !value.hasPrefix("-") || Int(value) != nil else { return nil }
      switch name {
      case "--db":
        guard !value.isEmpty else { return nil }
        settings.databasePath = value
      case "--pg-schema":
        guard PostgresStore.isValidSchemaName(value) else { return nil }
        settings.pgSchema = value
      case "--max-message-bytes":
        guard let number = Int(value), number >= 64 else { return nil }
        settings.maxMessageBytes = number
      case "--max-batch":
        guard let number = Int(value), number >= 1 else { return nil }
        settings.maxBatch = number
      case "--busy-timeout-ms":
        guard let number = Int(value), number >= 0 else { return nil }
        settings.busyTimeoutMilliseconds = number
      default:
        return nil
      }
    }
    return settings
  }
}

/// SIGTERM and SIGINT become a byte on a pipe the reader polls: it stops reading, the requests
/// already read are answered, and the process exits 0.
enum StopSignal {
  nonisolated(unsafe) static var writeEnd: Int32 = -1

  static func install() -> Int32 {
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else { return -1 }
    for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    _ = fcntl(ends[1], F_SETFL, O_NONBLOCK)
    writeEnd = ends[1]
    let handler: @convention(c) (Int32) -> Void = { _ in
      var byte: UInt8 = 1
      _ = write(StopSignal.writeEnd, &byte, 1)
    }
    signal(SIGTERM, handler)
    signal(SIGINT, handler)
    // A parent may have spawned us with these signals blocked (the mask is inherited).
    var unblocked = sigset_t()
    sigemptyset(&unblocked)
    sigaddset(&unblocked, SIGTERM)
    sigaddset(&unblocked, SIGINT)
    pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
    return ends[0]
  }
}

/// Diagnostics on stderr, one line each. Callers never pass personal data.
enum Diagnostics {
  /// The server's logger: stderr, level from `PETITION_RPC_LOG_LEVEL` (default `info`).
  static func makeLogger() -> Logger {
    var logger = Logger(label: "petition-rpc") { label in StreamLogHandler.standardError(label: label) }
    if let name = getenv("PETITION_RPC_LOG_LEVEL").map({ String(cString: $0) }),
      let level = Logger.Level(rawValue: name.lowercased())
    {
      logger.logLevel = level
    }
    return logger
  }

  static func write(_ message: String) {
    let line = Array("petition-rpc: \(message)\n".utf8)
    line.withUnsafeBytes { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
  }
}
