import Dispatch
import Foundation
import Petitions
import SQLite
import SQLiteStore
import Testing

@Suite("File store")
struct FileStoreTests {
  private func mode(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
  }

  /// A commit's WAL frames reach the file in one write before its sync (the CSQLiteWAL VFS):
  /// a one-at-a-time sign (about eleven pages) makes one or two write system calls, not two
  /// per page. Counted for this thread in /proc/thread-self/io (the store works on the thread
  /// that calls it); the store is sound and complete afterwards, also to a new connection.
  @Test func commitsWriteTheirFramesTogether() throws {
    func writeCalls() throws -> Int {
      let text = try String(contentsOfFile: "/proc/thread-self/io", encoding: .utf8)
      let line = text.split(separator: "\n").first { $0.hasPrefix("syscw:") }
      return Int(line?.split(separator: " ").last ?? "") ?? -1
    }
    let directory = try TemporaryDirectory()
    let path = directory.file("frames.sqlite3")
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.sign(signing("p", "warm@x.org", phone: "+12025550100", optIns: [.email]), at: at(march1))
    let before = try writeCalls()
    let signs = 50
    for index in 0..<signs {
      _ = try store.sign(
        signing(
          "p", "p\(index)@x.org", postalCode: "\(10000 + index)", phone: "+1202555\(1000 + index)", optIns: [.email]),
        at: at(march1 + 1 + Int64(index)))
    }
    let perSign = Double(try writeCalls() - before) / Double(signs)
    #expect(before >= 0 && perSign <= 2.5, "\(perSign) write system calls per sign")
    #expect(try store.total("p") == signs + 1)
    let check = try Connection(path: path)
    #expect(try check.textValue("PRAGMA integrity_check") == "ok")
    #expect(try check.textValue("SELECT count(*) FROM signatures") == String(signs + 1))
  }

  /// An unsubscribe writes (and syncs) as much for an address the store has never seen, and one
  /// already on the suppression list, as for a known person: how long the answer takes must not
  /// tell whether someone signed (the contract: the answer "reveals nothing"). Before, a repeat
  /// for an unknown address committed nothing and answered ~3x faster.
  @Test func unsubscribeWritesForUnknownPeopleToo() throws {
    func writeCalls() throws -> Int {
      let text = try String(contentsOfFile: "/proc/thread-self/io", encoding: .utf8)
      let line = text.split(separator: "\n").first { $0.hasPrefix("syscw:") }
      return Int(line?.split(separator: " ").last ?? "") ?? -1
    }
    let directory = try TemporaryDirectory()
    let store = try SQLiteStore(path: directory.file("unsubscribe.sqlite3"), busyTimeoutMilliseconds: 1000)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.sign(signing("p", "known@x.org", phone: "+12025550100"), at: at(march1))
    for subject in [
      PersonSubject.canonicalEmail("known@x.org"), .canonicalEmail("nobody@x.org"), .phone("+12025550199"),
    ] {
      for round in 1...3 {
        let before = try writeCalls()
        try store.unsubscribe(Unsubscription(subject: subject, channels: Channel.allCases), at: at(march1 + 1))
        #expect(try writeCalls() - before >= 1, "\(subject), round \(round): nothing written")
      }
    }
  }

  /// The database and SQLite's -wal and -shm files are created with mode 0600.
  @Test func filesArePrivate() throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("petitions.sqlite3")
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.sign(signing("p", "ada@example.org"), at: at(march1))
    for file in [path, path + "-wal", path + "-shm"] {
      #expect(FileManager.default.fileExists(atPath: file), "\(file) exists")
      #expect(try mode(file) == 0o600, "\(file) is 0600")
    }
  }

  /// A store file made beforehand with mode 0644 keeps its mode, but its -wal and -shm are 0600
  /// (they hold the newest writes).
  @Test func companionsArePrivateWhateverTheMainFileMode() throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("made-before.sqlite3")
    #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644]))
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.sign(signing("p", "ada@example.org"), at: at(march1))
    #expect(try mode(path) == 0o644)
    for file in [path + "-wal", path + "-shm"] {
      #expect(try mode(file) == 0o600, "\(file) is 0600")
    }
  }

  /// When the store file is removed, replaced or truncated, or its WAL removed, while the store
  /// is open, writes fail with `unavailable` instead of being acknowledged and then lost; reads
  /// still answer.
  @Test(arguments: ["remove", "replace", "truncate", "remove WAL"])
  func filesRemovedUnderTheStore(fault: String) throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("petitions.sqlite3")
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    _ = try store.createPetition(newPetition("p"), at: at(march1))
    _ = try store.sign(signing("p", "ada@example.org"), at: at(march1))
    // A checkpoint puts pages in the main file, so truncating it changes something.
    _ = try SQLite.Connection(path: path).textValue("PRAGMA wal_checkpoint(TRUNCATE)")
    _ = try store.sign(signing("p", "bob@example.org"), at: at(march1))
    switch fault {
    case "remove": try FileManager.default.removeItem(atPath: path)
    case "replace":
      try Data("other".utf8).write(to: URL(fileURLWithPath: path + ".new"))
      #expect(rename(path + ".new", path) == 0)
    case "truncate": #expect(truncate(path, 0) == 0)
    default: try FileManager.default.removeItem(atPath: path + "-wal")
    }
    let refused = storeError { () throws(StoreError) in
      try store.sign(signing("p", "carol@example.org"), at: at(march1 + 1))
    }
    #expect(isUnavailable(refused), "\(String(describing: refused))")
    let grouped = storeError { () throws(StoreError) in
      try store.performWriteGroup { _ = try? store.sign(signing("p", "dan@example.org"), at: at(march1 + 2)) }
    }
    #expect(isUnavailable(grouped))
    #expect(try store.petition(id: "p").count >= 0)
  }

  /// A reopened file store has everything that was written before.
  @Test func reopen() throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("petitions.sqlite3")
    var first: SignOutcome?
    do {
      let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
      _ = try store.createPetition(newPetition("p", goal: 3), at: at(march1))
      first = try store.sign(signing("p", "ada@example.org", optIns: [.email]), at: at(march1 + 1))
      _ = try store.sign(signing("p", "bob@example.org"), at: at(march1 + 2))
      _ = try store.closePetition(id: "p", at: at(march1 + 3))
    }
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    let petition = try store.petition(id: "p")
    #expect(petition.count == 2 && petition.status == .closed && petition.goal == 3)
    #expect(try store.allRows("p", .contacts).map(\.signatureID) == [first?.signatureID])
    // Signature ids keep growing after a reopen.
    _ = try store.createPetition(newPetition("q"), at: at(march1))
    let next = try store.sign(signing("q", "carol@example.org"), at: at(march1 + 4))
    #expect(first.map { $0.signatureID.utf8.lexicographicallyPrecedes(next.signatureID.utf8) } == true)
  }

  /// A store that cannot be opened fails with `unavailable` and a message naming the path.
  @Test func unopenable() throws {
    let directory = try TemporaryDirectory()
    let missing = directory.file("no/such/dir/petitions.sqlite3")
    let error = storeError { () throws(StoreError) in try SQLiteStore(path: missing, busyTimeoutMilliseconds: 0) }
    guard case .unavailable(let message) = error else {
      Issue.record("expected unavailable, got \(String(describing: error))")
      return
    }
    #expect(message.contains(missing))

    let garbage = directory.file("garbage.sqlite3")
    try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: garbage))
    #expect(
      isUnavailable(storeError { () throws(StoreError) in try SQLiteStore(path: garbage, busyTimeoutMilliseconds: 0) }))
  }

  /// Two stores on one file (as two processes would) signing overlapping people at the same
  /// time end with an exact count: every person signed once, no signature lost or doubled.
  @Test func concurrentStoresKeepExactCounts() throws {
    let directory = try TemporaryDirectory()
    let path = directory.file("shared.sqlite3")
    _ = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000).createPetition(newPetition("p"), at: at(march1))

    let ranges = [0..<300, 150..<450]
    let log = OutcomeLog()
    let done = DispatchGroup()
    for (worker, range) in ranges.enumerated() {
      done.enter()
      Thread {
        defer { done.leave() }
        do {
          let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 30_000)
          let people = deterministicShuffle(range.count, seed: UInt64(worker + 1)).map { range.lowerBound + $0 }
          // Alternate small write groups and single writes, so both paths interleave.
          for (chunkIndex, start) in stride(from: 0, to: people.count, by: 7).enumerated() {
            let chunk = people[start..<min(start + 7, people.count)]
            func signAll() {
              for person in chunk {
                do {
                  let outcome = try store.sign(
                    signing("p", "person\(person)@example.org"), at: at(march1 + Int64(person)))
                  log.record(person: person, outcome: outcome)
                } catch {
                  log.record(failure: "\(error)")
                }
              }
            }
            if chunkIndex.isMultiple(of: 2) {
              try store.performWriteGroup(signAll)
            } else {
              signAll()
            }
          }
        } catch {
          log.record(failure: "\(error)")
        }
      }.start()
    }
    done.wait()

    let (outcomes, failures) = log.contents
    #expect(failures.isEmpty)
    let store = try SQLiteStore(path: path, busyTimeoutMilliseconds: 1000)
    #expect(try store.total("p") == 450)
    #expect(try store.allRows("p", .delivery).count == 450)
    let firsts = outcomes.filter { !$0.outcome.isDuplicate }
    #expect(firsts.count == 450)
    #expect(Set(firsts.map(\.person)) == Set(0..<450))
    // Each new signature saw the count including itself, under the lock: exactly 1...450.
    #expect(firsts.map(\.outcome.count).sorted() == Array(1...450))
    for (person, outcomes) in Dictionary(grouping: outcomes, by: \.person) {
      #expect(Set(outcomes.map(\.outcome.signatureID)).count == 1, "person \(person) has one signature id")
    }
  }
}

/// Outcomes collected from several threads.
private final class OutcomeLog: @unchecked Sendable {
  private let lock = NSLock()
  private var outcomes: [(person: Int, outcome: SignOutcome)] = []
  private var failures: [String] = []

  func record(person: Int, outcome: SignOutcome) {
    lock.withLock { outcomes.append((person, outcome)) }
  }

  func record(failure: String) {
    lock.withLock { failures.append(failure) }
  }

  var contents: ([(person: Int, outcome: SignOutcome)], [String]) {
    lock.withLock { (outcomes, failures) }
  }
}
