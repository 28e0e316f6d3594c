import ArgumentParser
import JSONRPC
import SQLiteStore
import Server

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
      "The SQLite store to open, created if needed (':memory:' for a throw-away store).",
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

  func validate() throws {
    guard maxMessageBytes >= 64 else { throw ValidationError("--max-message-bytes must be at least 64") }
    guard maxBatch >= 1 else { throw ValidationError("--max-batch must be at least 1") }
    guard busyTimeoutMilliseconds >= 0 else { throw ValidationError("--busy-timeout-ms must not be negative") }
    if let databasePath, databasePath.isEmpty { throw ValidationError("--db must not be empty") }
  }

  func run() throws {
    // A client that goes away must not kill the server before it commits what it read.
    signal(SIGPIPE, SIG_IGN)
    let stopSignal = StopSignal.install()
    let output = FrameOutput.claimStandardOutput()
    let log: @Sendable (String) -> Void = { message in Diagnostics.write(message) }

    let path = databasePath ?? environment("PETITION_RPC_DB").flatMap { $0.isEmpty ? nil : $0 } ?? "petitions.sqlite3"
    let store: SQLiteStore
    do {
      store = try SQLiteStore(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
    } catch {
      if case .unavailable(let reason) = error {
        Diagnostics.write(reason)
      } else {
        Diagnostics.write("cannot open the store \(path): \(error)")
      }
      throw ExitCode.failure
    }
    let service = PetitionService(store: store, log: log)
    let engine = Engine(
      limits: EngineLimits(maxMessageBytes: maxMessageBytes, maxBatch: maxBatch), output: output, log: log)
    engine.run(input: STDIN_FILENO, service: service, stopSignal: stopSignal)
  }

  private func environment(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
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
  static func write(_ message: String) {
    let line = Array("petition-rpc: \(message)\n".utf8)
    line.withUnsafeBytes { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
  }
}
