import Foundation
import Petitions
import SQLiteStore
import Testing

/// A directory under the system's temporary directory, removed with its contents on deinit.
final class TemporaryDirectory {
  let path: String

  init() throws {
    var template = Array((NSTemporaryDirectory() + "/sqlite-store-tests.XXXXXX").utf8CString)
    guard let created = mkdtemp(&template) else { throw POSIXError(.EIO) }
    path = String(cString: created)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  func file(_ name: String) -> String { path + "/" + name }
}

/// Where a test's store lives; store behaviour must not depend on it.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
  case memory, file
  var testDescription: String { rawValue }
}

/// Directories of file fixtures, kept until the test process ends: tests write
/// `try Fixture(kind).store`, and the store must not outlive its files (it notices and refuses
/// writes, as a server must).
private let keptDirectories = KeptDirectories()

private final class KeptDirectories: @unchecked Sendable {
  private let lock = NSLock()
  private var directories: [TemporaryDirectory] = []
  init() { atexit { keptDirectories.removeAll() } }
  func removeAll() { lock.withLock { directories.removeAll() } }
  func keep(_ directory: TemporaryDirectory) { lock.withLock { directories.append(directory) } }
}

/// A store and, for a file store, the directory that holds it (kept until the process ends).
final class Fixture {
  let directory: TemporaryDirectory?
  let store: SQLiteStore

  init(_ kind: StoreKind) throws {
    switch kind {
    case .memory:
      directory = nil
      store = try SQLiteStore(path: ":memory:", busyTimeoutMilliseconds: 1000)
    case .file:
      let directory = try TemporaryDirectory()
      keptDirectories.keep(directory)
      self.directory = directory
      store = try SQLiteStore(path: directory.file("petitions.sqlite3"), busyTimeoutMilliseconds: 1000)
    }
  }
}

/// 2026-03-01T00:00:00Z.
let march1: Int64 = 1_772_323_200_000
let day: Int64 = 86_400_000

func at(_ milliseconds: Int64) -> Timestamp { Timestamp(millisecondsSinceEpoch: milliseconds) }

func newPetition(_ id: String, goal: Int? = nil) -> NewPetition {
  NewPetition(id: id, title: "Title of \(id)", target: "The Council", body: "Dear council,\nplease.", goal: goal)
}

/// A signing whose canonical email is the lower-cased email (enough for these tests: the
/// canonical form is the domain's business, the store only keys on it).
func signing(
  _ petition: String, _ email: String, firstName: String = "Ada", postalCode: String = "12345",
  country: String = "US", phone: String? = nil, comment: String? = nil, optIns: Set<Channel> = [],
  source: String? = nil
) -> Signing {
  Signing(
    petitionID: petition,
    signer: Signer(
      email: email, canonicalEmail: email.lowercased(), firstName: firstName, lastName: "Lovelace",
      postalCode: postalCode, country: country, phone: phone),
    comment: comment, optIns: optIns, source: source)
}

extension SQLiteStore {
  /// Every row of an export, in the order the store yields them.
  func allRows(
    _ petition: String, _ audience: ExportAudience, window: TimeWindow = TimeWindow(), after: ExportPosition? = nil,
    limit: Int? = nil
  ) throws -> [ExportRow] {
    var rows: [ExportRow] = []
    try exportRows(
      ExportQuery(petitionID: petition, audience: audience, window: window, after: after, limit: limit)
    ) { row in
      rows.append(row)
      return true
    }
    return rows
  }

  func total(_ petition: String) throws -> Int {
    try count(CountQuery(petitionID: petition, grouping: nil, window: TimeWindow())).total
  }
}

/// The error a throwing call ends with, or nil if it returns.
func storeError<T>(_ body: () throws(StoreError) -> T) -> StoreError? {
  do {
    _ = try body()
    return nil
  } catch {
    return error
  }
}

func isUnavailable(_ error: StoreError?) -> Bool {
  if case .unavailable = error { return true }
  return false
}

/// A deterministic shuffle of 0..<count (a linear congruential generator: no flaky seeds).
func deterministicShuffle(_ count: Int, seed: UInt64) -> [Int] {
  var state = seed
  var values = Array(0..<count)
  for index in values.indices.reversed() where index > 0 {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    values.swapAt(index, Int((state >> 33) % UInt64(index + 1)))
  }
  return values
}

extension PetitionStore {
  /// Signs with a deterministic token source (for petitions that need confirmation).
  func sign(_ signing: Signing, at time: Timestamp) throws(StoreError) -> SignOutcome {
    try sign(signing, at: time) {
      ConfirmationToken(token: "token-\(time.millisecondsSinceEpoch)", hash: "hash-\(time.millisecondsSinceEpoch)")
    }
  }
}
