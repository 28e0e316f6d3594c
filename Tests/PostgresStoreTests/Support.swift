import Foundation
import Petitions
import PostgresStore
import Testing

/// The test PostgreSQL server: `PETITION_RPC_TEST_PG_URI` (set by `make test`, which starts a
/// throw-away cluster with scripts/pg-test-cluster.sh). Without it, tests that need PostgreSQL
/// fail with a clear message in CI (`CI=true`) and are skipped elsewhere.
enum TestDatabase {
  static let uri: String? = {
    let value = ProcessInfo.processInfo.environment["PETITION_RPC_TEST_PG_URI"] ?? ""
    return value.isEmpty ? nil : value
  }()

  static let isCI: Bool = {
    let value = ProcessInfo.processInfo.environment["CI"]?.lowercased() ?? ""
    return value == "true" || value == "1"
  }()

  static let missingMessage =
    "PETITION_RPC_TEST_PG_URI is not set: run `make test` (it starts a throw-away PostgreSQL), or "
    + "`eval \"$(scripts/pg-test-cluster.sh start)\"` before `swift test`"

  /// Whether PostgreSQL tests can run; records a failure in CI when they cannot.
  static var isAvailable: Bool {
    if uri != nil { return true }
    if isCI { Issue.record(Comment(rawValue: missingMessage)) }
    return false
  }

  /// A schema name no other test uses.
  static func freshSchema(_ label: String = "t") -> String {
    let letters = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
    return "test_\(label)_\(letters)"
  }

  /// A store in a schema of its own.
  static func store(schema: String = freshSchema()) throws -> PostgresStore {
    guard let uri else { throw SkipInfo() }
    return try PostgresStore(uri: uri, schema: schema, busyTimeoutMilliseconds: 5000)
  }

  /// Runs SQL through psql (for set-up that the store does not offer).
  static func psql(_ sql: String) throws -> String {
    guard let uri else { throw SkipInfo() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["psql", uri, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

struct SkipInfo: Error {}

/// The condition for suites that need PostgreSQL.
let postgresAvailable = ConditionTrait.enabled(
  if: TestDatabase.uri != nil || TestDatabase.isCI, Comment(rawValue: TestDatabase.missingMessage))

/// 2026-03-01T00:00:00Z.
let march1: Int64 = 1_772_323_200_000
let day: Int64 = 86_400_000

func at(_ milliseconds: Int64) -> Timestamp { Timestamp(millisecondsSinceEpoch: milliseconds) }

func newPetition(_ id: String, goal: Int? = nil, confirmation: ConfirmationMode = .none) -> NewPetition {
  NewPetition(
    id: id, title: "Title of \(id)", target: "The Council", body: "Dear council,\nplease.", goal: goal,
    confirmation: confirmation)
}

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

func newToken() -> ConfirmationToken {
  let token = UUID().uuidString
  return ConfirmationToken(token: token, hash: "hash-of-" + token)
}

extension PetitionStore {
  func sign(_ signing: Signing, at time: Timestamp) throws(StoreError) -> SignOutcome {
    try sign(signing, at: time, newToken: newToken)
  }

  func total(_ petition: String) throws -> Int {
    try count(CountQuery(petitionID: petition, grouping: nil, window: TimeWindow())).total
  }

  func allRows(_ petition: String, _ audience: ExportAudience) throws -> [ExportRow] {
    var rows: [ExportRow] = []
    try exportRows(ExportQuery(petitionID: petition, audience: audience, window: TimeWindow(), after: nil, limit: nil))
    {
      rows.append($0)
      return true
    }
    return rows
  }
}
