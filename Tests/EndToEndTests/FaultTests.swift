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
  @Test(.sqliteFileOnly) func closedStdoutStillCarriesOutRequests() throws {
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

// MARK: - Injected storage faults

/// The faultfs shim (Tests/Faults/faultfs.c) compiled once per test run; nil with the reason
/// when no C compiler works.
private let faultShim: Result<String, FaultShimError> = {
  let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Faults/faultfs.c").path
  let library = NSTemporaryDirectory() + "petition-rpc-faultfs-\(getpid()).so"
  for compiler in ["cc", "clang", "gcc"] {
    guard
      let run = try? shell(
        #"exec "$0" -shared -fPIC -O2 -o "$1" "$2" -ldl"#, [compiler, library, source], timeout: 120),
      run.status == 0
    else { continue }
    return .success(library)
  }
  return .failure(FaultShimError(message: "cannot compile \(source) with cc, clang or gcc"))
}()

private struct FaultShimError: Error, CustomStringConvertible {
  let message: String
  var description: String { message }
}

/// A server whose store lives in `data/`, run under the faultfs shim: `fault(_:)` switches a
/// fault on (faultfs settings, see faultfs.c) and `heal()` off, while the same process runs.
private final class FaultyStore {
  let directory = TemporaryDirectory()
  var data: String { directory.path + "/data" }
  var store: String { data + "/store.sqlite3" }
  var control: String { directory.file("control") }
  var log: String { directory.file("faults.log") }

  init() throws {
    try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
    heal()
  }

  /// The server under the shim (faults apply to files under data/ only).
  func start(_ extra: [String] = []) throws -> ServerProcess {
    ignoreBrokenPipes()
    let library = try faultShim.get()
    return try ServerProcess(
      arguments: ["--db", store] + extra,
      environment: [
        "LD_PRELOAD": library, "FAULTFS_PATTERN": data + "/", "FAULTFS_CONTROL": control, "FAULTFS_LOG": log,
      ])
  }

  func fault(_ settings: String) { write(settings) }
  func heal() { write("off") }

  private func write(_ settings: String) {
    // Renamed into place: the shim never reads a half-written control file.
    let temporary = control + ".new"
    FileManager.default.createFile(atPath: temporary, contents: Data(settings.utf8))
    rename(temporary, control)
  }

  /// How many failures the shim injected so far.
  var faultsInjected: Int {
    ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count
  }

  /// The entries of data/ other than the store's own files.
  var strayFiles: [String] {
    directoryEntries(data).filter { !["store.sqlite3", "store.sqlite3-wal", "store.sqlite3-shm"].contains($0) }
  }

  /// `PRAGMA integrity_check` by the sqlite3 tool (no server running).
  var integrity: String {
    ((try? shell(#"sqlite3 "$0" 'PRAGMA integrity_check'"#, [store]))?.stdout ?? "")
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

/// Whether a response is -32000 ("the store is unavailable").
private func isUnavailable(_ response: [String: Any]?) -> Bool { RPC.errorCode(response) == -32000 }

/// Whether a -32000 response carries `error.data.retryable` true (contract v2).
private func isRetryable(_ response: [String: Any]?) -> Bool {
  ((response?["error"] as? [String: Any])?["data"] as? [String: Any])?["retryable"] as? Bool == true
}

/// Checks that every -32000 answer carries `data.retryable: true` (contract v2).
private func expectRetryable(_ responses: [[String: Any]], _ context: String) {
  let missing = responses.filter { isUnavailable($0) && !isRetryable($0) }
  #expect(missing.count == 0, "\(context): -32000 answers without data.retryable")
}

/// Faults of the storage under a running server (issue 11), injected by the faultfs shim
/// through the real binary: a disk that fills, I/O errors on write and on fsync, a store that
/// becomes read-only. For each, the affected writes get -32000 (retryable) and write nothing,
/// reads go on, a file export leaves no file and no temporary file, no acknowledged write is
/// lost across `kill -9`, the database passes `PRAGMA integrity_check`, and the same process
/// serves writes again once the fault is gone.
@Suite(.serialized, .sqliteFileOnly) struct StorageFaults {
  /// One scenario. `settings` is the fault; with `after`, a few signs may still succeed
  /// before the fault bites (a disk filling up): those are acknowledged and must survive.
  private func exercise(_ settings: String, mayAcknowledgeSome: Bool = false) throws {
    let faulty = try FaultyStore()
    var server = try faulty.start()
    try #require(server.createPetition("f") != nil)
    var acknowledged: [String: String] = [:]  // signatureId by email
    for index in 0..<10 {
      let email = "before\(index)@example.org"
      let id = try #require(RPC.result(server.sign("f", makeSigner(email: email)))?["signatureId"] as? String)
      acknowledged[email] = id
    }

    faulty.fault(settings)
    var refused: [String] = []
    var unexpected: [String] = []
    var answers: [[String: Any]] = []
    for index in 0..<25 {
      let email = "during\(index)@example.org"
      let response = server.sign("f", makeSigner(email: email), ["optIn": ["email": true]])
      if let id = RPC.result(response)?["signatureId"] as? String {
        acknowledged[email] = id
        #expect(mayAcknowledgeSome && refused.isEmpty, "\(settings): sign \(index) acknowledged under the fault")
      } else {
        refused.append(email)
        answers.append(response ?? [:])
        if !isUnavailable(response) { unexpected.append(RPC.line(response ?? [:])) }
      }
    }
    #expect(!refused.isEmpty, "\(settings): no write was refused")
    #expect(unexpected.isEmpty, "\(settings): not -32000: \(unexpected.prefix(2))")
    #expect(faulty.faultsInjected > 0, "\(settings): the shim injected nothing")
    // A whole batch is refused and writes nothing.
    let batch = server.signInBatches("f", (0..<5).map { makeSigner(email: "batch\($0)@example.org") })
    #expect(batch.count == 5 && batch.allSatisfy(isUnavailable), "\(settings): batch \(batch.prefix(1))")
    // Other writes too.
    let create = server.call("petition.create", ["id": "g", "title": "T", "target": "X"])
    #expect(isUnavailable(create))
    expectRetryable(answers + batch + [create ?? [:]], settings)
    // Reads are answered, and count only what was acknowledged.
    #expect(server.total("f") == acknowledged.count, "\(settings)")
    // A file export onto the failing storage fails and leaves nothing behind.
    let exported = server.call(
      "export", ["petition": "f", "audience": "delivery", "format": "csv", "path": faulty.data + "/out.csv"])
    if !settings.contains("match=") {
      #expect(RPC.result(exported) == nil, "\(settings): export succeeded under the fault")
    } else {
      _ = try? FileManager.default.removeItem(atPath: faulty.data + "/out.csv")
    }
    #expect(faulty.strayFiles.isEmpty, "\(settings): left \(faulty.strayFiles)")

    // The fault goes away: the same process takes the refused writes.
    faulty.heal()
    for email in refused {
      let id = RPC.result(server.sign("f", makeSigner(email: email), ["optIn": ["email": true]]))?["signatureId"]
      #expect(id != nil, "\(settings): not served again after the fault")
      if let id = id as? String { acknowledged[email] = id }
    }
    #expect(server.createPetition("g") != nil)
    let file = server.result(
      "export", ["petition": "f", "audience": "delivery", "format": "csv", "path": faulty.data + "/out.csv"])
    #expect(file?["count"] as? Int == acknowledged.count)
    #expect(faulty.strayFiles == ["out.csv"])

    // kill -9, then a restart without the shim: every acknowledged write is there, and only those.
    server.killHard()
    #expect(faulty.integrity == "ok", "\(settings)")
    server = try ServerProcess.start(store: faulty.store)
    let rows = try #require(server.exportRecords("f", audience: "delivery"))
    let stored = Set(rows.compactMap { $0["signatureId"] as? String })
    #expect(
      stored == Set(acknowledged.values), "\(settings): \(acknowledged.count) acknowledged, \(stored.count) stored")
    #expect(server.total("f") == acknowledged.count)
    #expect(RPC.errorCode(server.call("petition.get", ["id": "g"])) == nil)
    server.closeInput()
    #expect(server.waitForExit() == 0)
    #expect(faulty.integrity == "ok", "\(settings)")
  }

  /// The disk fills up: after some more bytes every write fails with ENOSPC.
  @Test func diskFills() throws { try exercise("errno=ENOSPC after=60000", mayAcknowledgeSome: true) }

  /// The disk is full from now on (every write and fsync: ENOSPC).
  @Test func diskFull() throws { try exercise("errno=ENOSPC") }

  /// I/O errors on every write.
  @Test func ioErrorOnWrite() throws { try exercise("errno=EIO ops=write") }

  /// I/O errors on fsync and fdatasync only: the data reached the page cache but cannot be
  /// made durable, so it must not be acknowledged.
  @Test func ioErrorOnFsync() throws { try exercise("errno=EIO ops=fsync") }

  /// I/O errors on the write-ahead log only.
  @Test func ioErrorOnTheLog() throws { try exercise("errno=EIO ops=write,fsync match=-wal") }

  /// The volume is remounted read-only while serving (EROFS on every write, sync and truncate;
  /// as root a chmod would not stop writes, so the shim plays the kernel's part).
  @Test func volumeRemountedReadOnly() throws { try exercise("errno=EROFS ops=write,fsync,truncate") }

  /// The store's permissions are taken away while serving (EACCES).
  @Test func permissionWithdrawn() throws { try exercise("errno=EACCES ops=write,fsync,truncate") }
}

/// A file export in flight when the storage fails, or when the server is killed.
@Suite(.serialized) struct ExportFaults {
  /// Enough rows that a csv export is written in several 256 KiB chunks.
  private func seed(_ server: ServerProcess) throws {
    try #require(server.createPetition("x") != nil)
    let responses = server.signInBatches(
      "x", (0..<6000).map { makeSigner(email: "row\($0)@example.org", firstName: "Firstname\($0)") })
    try #require(responses.count == 6000)
  }

  /// The disk fills after the first chunk of an export is written: the export fails, no file
  /// and no temporary file are left, and once there is room again the same export succeeds.
  @Test func diskFillsDuringAnExport() throws {
    let faulty = try FaultyStore()
    let server = try faulty.start()
    try seed(server)
    faulty.fault("errno=ENOSPC after=300000 match=petition-rpc-tmp")
    let path = faulty.data + "/rows.csv"
    let failed = server.call("export", ["petition": "x", "audience": "delivery", "format": "csv", "path": path])
    #expect(RPC.errorCode(failed) != nil)
    #expect(faulty.faultsInjected > 0)
    #expect(faulty.strayFiles.isEmpty, "left \(faulty.strayFiles)")
    faulty.heal()
    let done = server.result("export", ["petition": "x", "audience": "delivery", "format": "csv", "path": path])
    #expect(done?["count"] as? Int == 6000)
    #expect((done?["bytes"] as? Int ?? 0) > 300_000)
    #expect(faulty.strayFiles == ["rows.csv"])
  }

  /// `kill -9` while an export is writing leaves its temporary file (named after the dead
  /// process); the next export into that folder removes it.
  @Test func killDuringAnExportLeavesNothingForever() throws {
    let faulty = try FaultyStore()
    var server = try faulty.start()
    try seed(server)
    // Each write of the export's temporary file takes 3 s: the kill lands while it is open.
    faulty.fault("delay=3000 match=petition-rpc-tmp")
    let path = faulty.data + "/rows.csv"
    server.sendLine(
      RPC.request(
        "e", "export",
        ["petition": "x", "audience": "delivery", "format": "csv", "path": path, "progressToken": "k"]))
    #expect(server.readObject(timeout: 30)?["method"] as? String == "$/progress")
    usleep(300_000)
    let dead = server.pid
    server.killHard()
    let leftover = faulty.strayFiles
    #expect(leftover.count == 1 && leftover[0].hasPrefix(".rows.csv.petition-rpc-tmp.\(dead)."), "\(leftover)")

    faulty.heal()
    server = try ServerProcess.start(store: faulty.store)
    let done = server.result(
      "export", ["petition": "x", "audience": "delivery", "format": "csv", "path": faulty.data + "/other.csv"])
    #expect(done?["count"] as? Int == 6000)
    #expect(faulty.strayFiles == ["other.csv"])
  }
}

/// The store's files changed behind the server's back (issue 11 a): the database file or its
/// write-ahead log removed, replaced or truncated while serving. SQLite keeps writing to the
/// files it has open, so writes would be acknowledged and then lost; the server must answer
/// -32000 with a clear line on stderr instead, and serve again when the file is put back.
@Suite(.serialized, .sqliteFileOnly) struct StoreFileChangedWhileServing {
  let directory = TemporaryDirectory()
  var store: String { directory.file("store.sqlite3") }

  private func started() throws -> (ServerProcess, [String]) {
    let server = try ServerProcess.start(store: store)
    try #require(server.createPetition("m") != nil)
    var acknowledged: [String] = []
    for index in 0..<3 {
      let id = try #require(RPC.result(server.sign("m", makeSigner(email: "kept\(index)@example.org")))?["signatureId"])
      acknowledged.append(try #require(id as? String))
    }
    return (server, acknowledged)
  }

  private func mentionsTheChange(_ text: String) -> Bool {
    let lowered = text.lowercased()
    return ["removed", "replaced", "truncated", "unlinked", "deleted"].contains { lowered.contains($0) }
  }

  /// The database file removed (a copy of its inode kept under another name, as an operator
  /// who moved it away would): writes get -32000 and stderr says why; put back, the same
  /// process serves again and nothing acknowledged is lost across kill -9.
  @Test func databaseFileRemoved() throws {
    var (server, acknowledged) = try started()
    let moved = directory.file("moved.sqlite3")
    #expect(link(store, moved) == 0 && unlink(store) == 0)
    let refused = server.sign("m", makeSigner(email: "lost@example.org"))
    #expect(RPC.errorCode(refused) == -32000, "\(refused ?? [:])")
    #expect(RPC.errorCode(server.call("petition.create", ["id": "n", "title": "T", "target": "X"])) == -32000)
    #expect(mentionsTheChange(server.standardError), "stderr: \(server.standardError)")
    #expect(!server.standardError.contains("lost@example.org"))

    #expect(link(moved, store) == 0 && unlink(moved) == 0)
    let again = RPC.result(server.sign("m", makeSigner(email: "lost@example.org")))
    #expect(again?["duplicate"] as? Bool == false, "not served again once the file is back")
    if let id = again?["signatureId"] as? String { acknowledged.append(id) }
    server.killHard()
    server = try ServerProcess.start(store: store)
    let stored = Set(
      (server.exportRecords("m", audience: "delivery") ?? []).compactMap { $0["signatureId"] as? String })
    #expect(stored == Set(acknowledged))
    #expect(try shell(#"sqlite3 "$0" 'PRAGMA integrity_check'"#, [store]).stdout == "ok\n")
  }

  /// Another file moved over the database's name: writes get -32000 (they would go to the
  /// old, now nameless file).
  @Test func databaseFileReplaced() throws {
    let (server, _) = try started()
    let other = directory.file("other.sqlite3")
    #expect(FileManager.default.createFile(atPath: other, contents: Data()))
    #expect(rename(other, store) == 0)
    #expect(RPC.errorCode(server.sign("m", makeSigner(email: "lost@example.org"))) == -32000)
    #expect(mentionsTheChange(server.standardError), "stderr: \(server.standardError)")
  }

  /// The database file truncated to nothing: writes get -32000.
  @Test func databaseFileTruncated() throws {
    let (server, _) = try started()
    #expect(truncate(store, 0) == 0)
    #expect(RPC.errorCode(server.sign("m", makeSigner(email: "lost@example.org"))) == -32000)
    #expect(mentionsTheChange(server.standardError), "stderr: \(server.standardError)")
  }

  /// The write-ahead log removed: commits would go to a log that no restart reads. Writes
  /// get -32000; with the log put back the same process serves again, and nothing
  /// acknowledged is lost across kill -9.
  @Test func writeAheadLogRemoved() throws {
    var (server, acknowledged) = try started()
    let wal = store + "-wal"
    let moved = directory.file("moved-wal")
    try #require(FileManager.default.fileExists(atPath: wal))
    #expect(link(wal, moved) == 0 && unlink(wal) == 0)
    #expect(RPC.errorCode(server.sign("m", makeSigner(email: "lost@example.org"))) == -32000)
    #expect(mentionsTheChange(server.standardError), "stderr: \(server.standardError)")

    #expect(link(moved, wal) == 0 && unlink(moved) == 0)
    let again = RPC.result(server.sign("m", makeSigner(email: "lost@example.org")))
    #expect(again?["duplicate"] as? Bool == false, "not served again once the log is back")
    if let id = again?["signatureId"] as? String { acknowledged.append(id) }
    server.killHard()
    server = try ServerProcess.start(store: store)
    let stored = Set(
      (server.exportRecords("m", audience: "delivery") ?? []).compactMap { $0["signatureId"] as? String })
    #expect(stored == Set(acknowledged))
  }
}

/// The store's `-wal` and `-shm` files are private whatever the main file's mode (issue 11 c).
@Suite(.sqliteFileOnly) struct CompanionFileModes {
  let directory = TemporaryDirectory()

  /// A store file made beforehand with mode 0644 gets `-wal` and `-shm` with mode 0600, and a
  /// warning on stderr that the main file is readable by others.
  @Test func logAndSharedMemoryArePrivate() throws {
    let store = directory.file("open.sqlite3")
    #expect(FileManager.default.createFile(atPath: store, contents: Data()))
    #expect(chmod(store, 0o644) == 0)
    let server = try ServerProcess.start(store: store)
    try #require(server.createPetition("w") != nil)
    #expect(permissionBits(ofFile: store + "-wal") == 0o600)
    #expect(permissionBits(ofFile: store + "-shm") == 0o600)
    #expect(permissionBits(ofFile: store) == 0o644, "the owner's choice for the main file is kept")
    #expect(server.standardError.contains("readable by other"), "stderr: \(server.standardError)")
  }

  /// A store file made read-only (0444) still gets `-wal` and `-shm` of mode 0600 (SQLite gave
  /// them the file's mode, 0400 once group and other were taken off), and companions left 0400
  /// by such a run are made 0600 before the next open: a 0400 `-shm` kept the store read-only
  /// after its owner made the file writable again.
  @Test func readOnlyStoreFileStillGetsPrivateWritableCompanions() throws {
    let store = directory.file("readonly.sqlite3")
    let first = try ServerProcess.start(store: store)
    try #require(first.createPetition("w") != nil)
    first.closeInput()
    #expect(first.waitForExit() == 0)
    #expect(chmod(store, 0o444) == 0)
    let second = try ServerProcess.start(store: store)
    #expect(second.call("petition.get", ["id": "w"])?["result"] != nil)
    #expect(permissionBits(ofFile: store + "-wal") == 0o600)
    #expect(permissionBits(ofFile: store + "-shm") == 0o600)
    second.closeInput()
    #expect(second.waitForExit() == 0)
    // Companions as a read-only run leaves them for another user (root writes through 0400).
    #expect(FileManager.default.createFile(atPath: store + "-shm", contents: Data(count: 32768)))
    #expect(chmod(store + "-shm", 0o400) == 0)
    #expect(chmod(store, 0o600) == 0)
    let third = try ServerProcess.start(store: store)
    #expect(third.createPetition("x") != nil)
    #expect(permissionBits(ofFile: store + "-shm") == 0o600)
    third.closeInput()
    #expect(third.waitForExit() == 0)
  }

  /// A private store gets no warning.
  @Test func privateStoreGetsNoWarning() throws {
    let store = directory.file("private.sqlite3")
    let server = try ServerProcess.start(store: store)
    try #require(server.createPetition("w") != nil)
    #expect(permissionBits(ofFile: store + "-wal") == 0o600)
    #expect(!server.standardError.contains("readable by other"))
  }
}

/// A PostgreSQL connection string that libpq cannot read or use (issue 8): one clear line on
/// stderr, exit 1, and never the password, although libpq quotes what it could not read.
@Suite struct MalformedPostgresLocations {
  @Test(arguments: [
    ("postgresql://[::1:1/db?password=BrokenSecret", "BrokenSecret"),
    ("postgresql://u@127.0.0.1:1/db?password=Sec%ZZret", "ZZret"),
    ("postgresql://u:Sec%ZZret@127.0.0.1:1/db", "ZZret"),
    ("postgresql://u:Pw@Secret@127.0.0.1:1/db", "Secret"),
  ])
  func messageHoldsNoPassword(uri: String, secret: String) throws {
    let run = try shell(#"exec timeout -s KILL "$LIMIT" "$BIN" --db "$0" </dev/null"#, [uri])
    #expect(run.status == 1, "exit \(run.status); stderr: \(run.stderr)")
    #expect(run.stdout.isEmpty)
    #expect(run.stderr.contains("cannot open the store"))
    #expect(!run.stderr.contains(secret), "\(run.stderr)")
  }
}
