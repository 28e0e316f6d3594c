import Petitions
import Testing

/// Makes a fresh, empty store for one conformance case. The store must stay usable for as long
/// as the case holds it (a file store keeps its directory alive itself, or the caller does).
public typealias StoreFactory = () throws -> any PetitionStore

/// One rule of the contract checked against any `PetitionStore`. A store's test target runs
/// every case of `StoreConformance.cases` with its own factory, e.g.
///
///     @Test(arguments: StoreConformance.cases)
///     func conformance(_ check: ConformanceCase) throws { try check.run(makeStore) }
public struct ConformanceCase: Sendable, CustomStringConvertible, CustomTestStringConvertible {
  public let name: String
  let body: @Sendable (StoreFactory) throws -> Void

  init(_ name: String, _ body: @escaping @Sendable (StoreFactory) throws -> Void) {
    self.name = name
    self.body = body
  }

  public func run(_ factory: StoreFactory) throws { try body(factory) }
  public var description: String { name }
  public var testDescription: String { name }
}

// MARK: Fixtures shared by the cases

/// 2026-03-01T00:00:00Z.
let march1: Int64 = 1_772_323_200_000
let hour: Int64 = 3_600_000
let day: Int64 = 86_400_000

func at(_ milliseconds: Int64) -> Timestamp { Timestamp(millisecondsSinceEpoch: milliseconds) }

func newPetition(_ id: String, goal: Int? = nil, confirmation: ConfirmationMode = .none) -> NewPetition {
  NewPetition(
    id: id, title: "Title of \(id)", target: "The Council", body: "Dear council,\nplease.", goal: goal,
    confirmation: confirmation)
}

func signer(
  _ email: String, firstName: String = "Ada", lastName: String = "Lovelace", postalCode: String = "12345",
  country: String = "US", phone: String? = nil
) -> Signer {
  Signer(
    email: email, canonicalEmail: Rules.canonicalEmail(email), firstName: firstName, lastName: lastName,
    postalCode: postalCode, country: country, phone: phone)
}

func signing(
  _ petition: String, _ email: String, firstName: String = "Ada", lastName: String = "Lovelace",
  postalCode: String = "12345", country: String = "US", phone: String? = nil, comment: String? = nil,
  optIns: Set<Channel> = [], source: String? = nil, notice: String? = nil
) -> Signing {
  Signing(
    petitionID: petition,
    signer: signer(
      email, firstName: firstName, lastName: lastName, postalCode: postalCode, country: country, phone: phone),
    comment: comment, optIns: optIns, source: source, notice: notice)
}

func imported(
  _ petition: String, _ email: String, signedAt: Int64, phone: String? = nil, postalCode: String = "12345",
  optIns: [Channel: Bool] = [:], source: String? = nil
) -> ImportedSigning {
  ImportedSigning(
    petitionID: petition, signer: signer(email, postalCode: postalCode, phone: phone), comment: nil, source: source,
    signedAt: at(signedAt), optIns: optIns)
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

/// Tokens numbered in the order they are given out (the store keeps only their hashes).
final class Tokens {
  private var next = 0
  private(set) var given: [String] = []

  func make() -> ConfirmationToken {
    next += 1
    let token = "token-\(next)-\(ObjectIdentifier(self).hashValue)"
    given.append(token)
    return ConfirmationToken(token: token, hash: Self.hash(token))
  }

  /// Any function of the token will do for a store; the server uses SHA-256.
  static func hash(_ token: String) -> String { "hash:" + token }
}

extension PetitionStore {
  func sign(_ signing: Signing, at time: Int64, tokens: Tokens = Tokens()) throws(StoreError) -> SignOutcome {
    try sign(signing, at: at(time), newToken: tokens.make)
  }

  func confirm(_ token: String?, at time: Int64) throws(StoreError) -> ConfirmOutcome {
    try confirm(tokenHash: Tokens.hash(token ?? ""), at: at(time))
  }

  func rows(_ petition: String, _ audience: ExportAudience, window: TimeWindow = TimeWindow()) throws -> [ExportRow] {
    var rows: [ExportRow] = []
    try exportRows(ExportQuery(petitionID: petition, audience: audience, window: window, after: nil, limit: nil)) {
      rows.append($0)
      return true
    }
    return rows
  }

  func total(_ petition: String) throws -> Int {
    try count(CountQuery(petitionID: petition, grouping: nil, window: TimeWindow())).total
  }

  /// "key=count" for each group.
  func groups(_ petition: String, _ grouping: CountGrouping, since: Int64? = nil, until: Int64? = nil) throws
    -> [String]
  {
    let result = try count(
      CountQuery(
        petitionID: petition, grouping: grouping, window: TimeWindow(since: since.map(at), until: until.map(at))))
    return result.groups?.map { "\($0.key)=\($0.count)" } ?? ["nil"]
  }

  /// Every count answer of a petition, to compare before and after an operation that must not
  /// change them.
  func everyCount(_ petition: String) throws -> [String] {
    var answers = ["total=\(try total(petition))"]
    for grouping in CountGrouping.allCases { answers += try groups(petition, grouping) }
    return answers
  }

  /// Channels the contacts export shows for each email.
  func contacts(_ petition: String) throws -> [String: Set<Channel>] {
    var consent: [String: Set<Channel>] = [:]
    for row in try rows(petition, .contacts) {
      var channels: Set<Channel> = []
      if row.optInEmail { channels.insert(.email) }
      if row.optInPhone { channels.insert(.phone) }
      if row.optInSms { channels.insert(.sms) }
      consent[row.email ?? "?"] = channels
    }
    return consent
  }

  func history(email: String) throws -> [String] {
    try consentHistory(.canonicalEmail(Rules.canonicalEmail(email))).map(describe)
  }

  func history(phone: String) throws -> [String] {
    try consentHistory(.phone(phone)).map(describe)
  }
}

/// An event as one line: "channel +/- via petition source number notice @time".
func describe(_ event: ConsentEvent) -> String {
  [
    event.channel.rawValue, event.granted ? "+" : "-", event.via.rawValue, event.petitionID ?? "_", event.source ?? "_",
    event.number ?? "_", event.notice ?? "_", "@\(event.at.millisecondsSinceEpoch - march1)",
  ].joined(separator: " ")
}
