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

  // Names, defaults and rules come from `Settings.Flag`, the one table of the command line.
  @Option(
    name: .customLong(Settings.Flag.database.name),
    help: ArgumentHelp(
      "The store: a SQLite file, created if needed (':memory:' for a throw-away store), or postgresql://...",
      discussion: "Default: $PETITION_RPC_DB, else petitions.sqlite3 in the current directory.",
      valueName: "path"))
  var databasePath: String?

  @Option(
    name: .customLong(Settings.Flag.maxMessageBytes.name),
    help: ArgumentHelp("Largest accepted message, in bytes.", valueName: "bytes"))
  var maxMessageBytes: Int = Settings().maxMessageBytes

  @Option(
    name: .customLong(Settings.Flag.maxBatch.name),
    help: ArgumentHelp("Most requests accepted in one batch.", valueName: "count"))
  var maxBatch: Int = Settings().maxBatch

  @Option(
    name: .customLong(Settings.Flag.busyTimeout.name),
    help: ArgumentHelp("How long to wait for a store another process holds locked.", valueName: "ms"))
  var busyTimeoutMilliseconds: Int = Settings().busyTimeoutMilliseconds

  @Flag(
    name: .customLong(Settings.mcpFlag),
    help: "Serve the Model Context Protocol (the methods as tools) instead of JSON-RPC.")
  var mcp = false

  @Option(
    name: .customLong(Settings.Flag.mcpTools.name),
    help: ArgumentHelp("With --mcp: the tools offered (groups read, sign, admin, or tool names).", valueName: "list"))
  var mcpTools: String?

  /// The settings these flags give.
  var settings: Settings {
    Settings(
      databasePath: databasePath, maxMessageBytes: maxMessageBytes, maxBatch: maxBatch,
      busyTimeoutMilliseconds: busyTimeoutMilliseconds, mcp: mcp, mcpTools: mcpTools, pgSchema: pgSchema)
  }

  @Option(
    name: .customLong(Settings.Flag.pgSchema.name),
    help: ArgumentHelp("The PostgreSQL schema of the tables (default petition_rpc).", valueName: "name"))
  var pgSchema: String?

  func validate() throws {
    if let problem = settings.problem { throw ValidationError(problem) }
  }

  func run() throws {
    guard Self.serve(settings) else { throw ExitCode.failure }
  }

  /// Start-up without swift-argument-parser's reflection (about 1.5 ms of a 7 ms cold start) for
  /// the common case: only known `--flag value` options with valid values, read by the same
  /// table (`Settings.Flag`) and rules (`Settings.problem`) as the full parser. Anything else
  /// (help, version, a bad or unknown flag) goes through `ParsableCommand.main()`, so its
  /// messages and exit codes are the parser's. A test checks that both parsers agree.
  static func main() {
    StandardDescriptors.secure()
    if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "copy-store" {
      Glibc.exit(CopyStore.run(Array(CommandLine.arguments.dropFirst(2))))
    }
    if let settings = Settings.parseSimple(Array(CommandLine.arguments.dropFirst())) {
      Glibc.exit(serve(settings) ? 0 : 1)
    }
    do {
      var command = try parseAsRoot(nil)
      try command.run()
    } catch {
      // The parser's own words and exit codes, but never a password: a URI given without
      // `--db` came back whole in "Unexpected argument '...'".
      let code = exitCode(for: error)
      let message = PostgresStore.redactingURIs(in: fullMessage(for: error))
      if code == .success {
        if !message.isEmpty { print(message) }
      } else {
        let line = Array((message + "\n").utf8)
        line.withUnsafeBytes { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
      }
      Glibc.exit(code.rawValue)
    }
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
    if settings.mcp {
      return MCPMode.serve(settings, service: service, output: output, logger: logger, stopSignal: stopSignal)
    }
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
  var mcp = false
  var mcpTools: String?
  var pgSchema: String?
  /// `--mcp`, the one flag without a value.
  static let mcpFlag = "mcp"

  /// Every flag that takes a value: its name, and how its value is set. `PetitionRPC`'s options
  /// take their names from here, and `parseSimple` reads exactly these.
  enum Flag: CaseIterable {
    case database, maxMessageBytes, maxBatch, busyTimeout, mcpTools, pgSchema

    var name: String {
      switch self {
      case .database: "db"
      case .maxMessageBytes: "max-message-bytes"
      case .maxBatch: "max-batch"
      case .busyTimeout: "busy-timeout-ms"
      case .mcpTools: "mcp-tools"
      case .pgSchema: "pg-schema"
      }
    }

    /// Sets the flag's value; false when it is not of the flag's type.
    func set(_ value: String, in settings: inout Settings) -> Bool {
      if case .database = self {
        settings.databasePath = value
        return true
      }
      if case .mcpTools = self {
        settings.mcpTools = value
        return true
      }
      if case .pgSchema = self {
        settings.pgSchema = value
        return true
      }
      guard let number = Int(value) else { return false }
      switch self {
      case .database, .mcpTools, .pgSchema: break
      case .maxMessageBytes: settings.maxMessageBytes = number
      case .maxBatch: settings.maxBatch = number
      case .busyTimeout: settings.busyTimeoutMilliseconds = number
      }
      return true
    }
  }

  /// What is wrong with these settings, for the usage message; nil when they are valid.
  var problem: String? {
    if maxMessageBytes < 64 { return "--max-message-bytes must be at least 64" }
    if maxBatch < 1 { return "--max-batch must be at least 1" }
    if busyTimeoutMilliseconds < 0 { return "--busy-timeout-ms must not be negative" }
    if let databasePath, databasePath.isEmpty { return "--db must not be empty" }
    if let problem = MCPMode.problem(enabled: mcp, tools: mcpTools) { return problem }
    if let pgSchema, !PostgresStore.isValidSchemaName(pgSchema) {
      return "--pg-schema must be lower-case letters, digits and _ (at most 63)"
    }
    return nil
  }

  /// The settings of a command line made only of known `--flag value` / `--flag=value` options
  /// with valid values; nil for anything else, which the full parser handles (and explains).
  static func parseSimple(_ arguments: [String]) -> Settings? {
    var settings = Settings()
    var index = 0
    while index < arguments.count {
      if arguments[index] == "--" + mcpFlag {
        settings.mcp = true
        index += 1
        continue
      }
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
      // A value that looks like a flag is the full parser's to judge.
      guard !value.hasPrefix("-") || Int(value) != nil else { return nil }
      guard name.hasPrefix("--"), let flag = Flag.allCases.first(where: { $0.name == name.dropFirst(2) }),
        flag.set(value, in: &settings)
      else { return nil }
    }
    return settings.problem == nil ? settings : nil
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
