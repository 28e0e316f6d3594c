import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Runs `/bin/sh -c script` with `arguments` as $0, $1, ... and the binary as $BIN; its
/// (exit status, stdout, stderr). A child still running after `timeout` seconds is killed
/// (status 137), so a hang fails the test instead of hanging it.
private func shell(_ script: String, _ arguments: [String] = [], timeout: Int = 20) throws -> (
  status: Int32, stdout: String, stderr: String
) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/bin/sh")
  process.arguments = ["-c", script] + arguments
  var environment = ProcessInfo.processInfo.environment
  environment["BIN"] = ServerProcess.binaryPath
  environment["LIMIT"] = String(timeout)
  environment["PETITION_RPC_DB"] = nil
  process.environment = environment
  let output = Pipe()
  let errors = Pipe()
  process.standardOutput = output
  process.standardError = errors
  process.standardInput = FileHandle.nullDevice
  try process.run()
  let stdout = output.fileHandleForReading.readDataToEndOfFile()
  let stderr = errors.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// The server started with a standard descriptor closed (issue 11 b).
@Suite struct ClosedStandardDescriptors {
  let directory = TemporaryDirectory()

  /// stdin closed reads as an empty input: the store is opened, the server exits 0 at once
  /// instead of waiting forever on its own stop-signal pipe, and writes nothing on stdout.
  @Test func closedStdinIsAnEmptyInput() throws {
    let store = directory.file("in.sqlite3")
    let run = try shell(#"exec timeout -s KILL "$LIMIT" "$BIN" --db "$0" <&-"#, [store])
    #expect(run.status == 0, "exit \(run.status) (137: killed after hanging); stderr: \(run.stderr)")
    #expect(run.stdout.isEmpty)
    #expect(FileManager.default.fileExists(atPath: store))
  }

  /// stdout closed: the requests are still read and carried out (the sign is in the store
  /// afterwards), stderr says that responses are discarded, and the exit status is 0.
  @Test func closedStdoutStillCarriesOutRequests() throws {
    let store = directory.file("out.sqlite3")
    let setup = try ServerProcess.start(store: store)
    try #require(setup.createPetition("p") != nil)
    setup.closeInput()
    #expect(setup.waitForExit() == 0)

    let request = RPC.line(RPC.request(1, "sign", signParams("p", makeSigner(email: "void@example.org"))))
    let run = try shell(
      #"printf '%s\n' "$1" | exec timeout -s KILL "$LIMIT" "$BIN" --db "$0" >&-"#, [store, request])
    #expect(run.status == 0, "exit \(run.status); stderr: \(run.stderr)")
    #expect(run.stderr.contains("stdout is closed"), "stderr: \(run.stderr)")
    #expect(!run.stderr.contains("void@example.org"))

    let check = try ServerProcess.start(store: store)
    #expect(check.total("p") == 1)
  }

  /// stderr closed: nothing is written into the store file (which would take descriptor 2),
  /// the server answers normally and the store passes SQLite's integrity check.
  @Test func closedStderrKeepsTheStoreIntact() throws {
    let store = directory.file("err.sqlite3")
    // A failing request makes a diagnostic on stderr: an unknown flag value is not needed, a
    // batch with a bad entry is enough to exercise the normal paths.
    let lines = [
      RPC.line(RPC.request(1, "petition.create", ["id": "e", "title": "T", "target": "X"])),
      RPC.line(RPC.request(2, "sign", signParams("e", makeSigner(email: "err@example.org")))),
      RPC.line(RPC.request(3, "count", ["petition": "e"])),
    ].joined(separator: "\n")
    let run = try shell(#"printf '%s\n' "$1" | exec timeout -s KILL "$LIMIT" "$BIN" --db "$0" 2>&-"#, [store, lines])
    #expect(run.status == 0)
    #expect(run.stdout.split(separator: "\n").count == 3, "stdout: \(run.stdout)")
    #expect(run.stdout.contains(#""total":1"#))
    #expect(try shell(#"sqlite3 "$0" 'PRAGMA integrity_check'"#, [store]).stdout == "ok\n")
  }
}

/// The pid of a process that has exited (and been reaped), so `kill(pid, 0)` fails with ESRCH.
private func deadPID() throws -> pid_t {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/bin/true")
  try process.run()
  process.waitUntilExit()
  return process.processIdentifier
}

/// Temporary export files of processes that died (issue 11 d).
@Suite struct StaleExportFiles {
  let directory = TemporaryDirectory()

  /// A file export removes the temporary files that dead writers left in its folder, and
  /// nothing else: not those of a live process, not other hidden files.
  @Test func exportRemovesTemporaryFilesOfDeadWriters() throws {
    let folder = directory.file("out")
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let dead = try deadPID()
    let stale = ".a.csv.petition-rpc-tmp.\(dead).k3j9x"
    let live = ".b.csv.petition-rpc-tmp.\(getpid()).z1"
    let others = [".a.csv.\(dead).123.tmp", ".notes.petition-rpc-tmp.\(dead)", "keep.csv"]
    for name in [stale, live] + others {
      #expect(FileManager.default.createFile(atPath: folder + "/" + name, contents: Data("x".utf8)))
    }
    let server = try ServerProcess.start(store: directory.file("s.sqlite3"))
    try #require(server.createPetition("t") != nil)
    _ = server.sign("t", makeSigner(email: "t@example.org"))
    let result = server.result(
      "export", ["petition": "t", "audience": "delivery", "format": "csv", "path": folder + "/new.csv"])
    #expect(result?["count"] as? Int == 1)
    #expect(directoryEntries(folder).sorted() == ([live, "new.csv"] + others).sorted())
  }
}
