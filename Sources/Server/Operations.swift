import JSON
import Petitions
import Service

/// A request whose params are valid, ready to run against the store.
enum Operation {
  case createPetition(NewPetition)
  case getPetition(id: String)
  case listPetitions(status: PetitionStatus?)
  case closePetition(id: String)
  case sign(Signing)
  case count(CountQuery)
  case unsubscribe(Unsubscription)
  // Contract v2 (run by `TrustOperations`).
  case confirm(tokenHash: String)
  case consentHistory(PersonSubject)
  case invalidate(Invalidation)
  case listInvalidations(petitionID: String)
  case revalidate(petitionID: String, RevalidationTarget)
  case erase(PersonSubject)
  case anonymisePetition(id: String)

  /// The petition a write names, whose lock it takes in a store shared by several processes.
  var petitionWritten: String? {
    switch self {
    case .sign(let signing): return signing.petitionID
    case .closePetition(let id), .anonymisePetition(let id): return id
    case .invalidate(let invalidation): return invalidation.dryRun ? nil : invalidation.petitionID
    case .revalidate(let petitionID, _): return petitionID
    default: return nil
    }
  }

  /// Writes are committed together with the other writes that arrived with them.
  var isWrite: Bool {
    switch self {
    case .createPetition, .closePetition, .sign, .unsubscribe: return true
    case .confirm, .revalidate, .erase, .anonymisePetition: return true
    case .invalidate(let invalidation): return !invalidation.dryRun
    case .getPetition, .listPetitions, .count, .consentHistory, .listInvalidations: return false
    }
  }
}

/// Turns params into operations: the server's parameter checks, which agree with
/// `schema/openrpc.json`.
enum OperationReader {
  static func createPetition(_ params: JSON?) -> Result<Operation, ResponseError> {
    let reader = Params(params)
    let id = reader.string("id", required: true, rule: Rules.petitionID)
    let title = reader.string("title", required: true, rule: Rules.title)
    let target = reader.string("target", required: true, rule: Rules.target)
    let body = reader.string("body", rule: Rules.body) ?? ""
    let confirmation = reader.choice("confirmation", as: ConfirmationMode.self) ?? .none
    var goal: Int? = nil
    if let given = reader.integer("goal") {
      switch Rules.goal(given) {
      case .success(let value): goal = value
      case .failure(let violation): reader.report("goal", violation.message)
      }
    }
    if let error = reader.finish() { return .failure(error) }
    return .success(
      .createPetition(
        NewPetition(id: id!, title: title!, target: target!, body: body, goal: goal, confirmation: confirmation)))
  }

  static func petitionID(_ params: JSON?, _ make: (String) -> Operation) -> Result<Operation, ResponseError> {
    let reader = Params(params)
    let id = reader.string("id", required: true, rule: Rules.petitionID)
    if let error = reader.finish() { return .failure(error) }
    return .success(make(id!))
  }

  static func listPetitions(_ params: JSON?) -> Result<Operation, ResponseError> {
    let reader = Params(params)
    let status = reader.choice("status", as: PetitionStatus.self)
    if let error = reader.finish() { return .failure(error) }
    return .success(.listPetitions(status: status))
  }

  static func sign(_ params: JSON?) -> Result<Operation, ResponseError> {
    let reader = Params(params)
    let petition = reader.string("petition", required: true, rule: Rules.petitionID)
    let signer = reader.object("signer", required: true).flatMap(readSigner)
    let comment = reader.string("comment", rule: Rules.comment)
    let source = reader.string("source", rule: Rules.source)
    var optIns: Set<Channel> = []
    var notice: String? = nil
    if let optIn = reader.object("optIn") {
      for channel in Channel.allCases where optIn.bool(channel.rawValue) == true {
        optIns.insert(channel)
      }
      notice = optIn.string("notice", rule: TrustRules.notice)
      optIn.rejectUnknownFields()
      if signer != nil && signer?.phone == nil {
        for channel in [Channel.phone, .sms] where optIns.contains(channel) {
          optIn.report(channel.rawValue, "needs signer.phone")
        }
      }
    }
    if let error = reader.finish() { return .failure(error) }
    let signing = Signing(
      petitionID: petition!, signer: signer!, comment: comment, optIns: optIns, source: source, notice: notice)
    return .success(.sign(signing))
  }

  private static func readSigner(_ reader: Params) -> Signer? {
    let email = reader.string("email", required: true).flatMap { raw -> (email: String, canonical: String)? in
      switch Rules.email(raw) {
      case .success(let value): return value
      case .failure(let violation):
        reader.report("email", violation.message)
        return nil
      }
    }
    let firstName = reader.string("firstName", required: true, rule: Rules.personName)
    let lastName = reader.string("lastName", required: true, rule: Rules.personName)
    let country = reader.string("country", rule: Rules.country)
    let countryGiven = reader.has("country")
    let effectiveCountry = country ?? "US"
    // A bad country makes the postal code and phone rules unknowable: with one, only what no
    // country accepts is reported (so every other problem is still listed with it).
    let countryKnown = country != nil || !countryGiven
    let postalCode = reader.string("postalCode", required: true) { raw in
      if countryKnown { return Rules.postalCode(raw, country: effectiveCountry) }
      return Rules.postalCodeInNoCountry(raw).map { .failure($0) } ?? .success(raw)
    }
    let phone = reader.string("phone") { raw in
      if countryKnown { return Rules.phone(raw, country: effectiveCountry) }
      return Rules.phoneInNoCountry(raw).map { .failure($0) } ?? .success(raw)
    }
    reader.rejectUnknownFields()
    guard let email, let firstName, let lastName, let postalCode, countryKnown else { return nil }
    if reader.has("phone") && phone == nil { return nil }
    return Signer(
      email: email.email, canonicalEmail: email.canonical, firstName: firstName, lastName: lastName,
      postalCode: postalCode, country: effectiveCountry, phone: phone)
  }

  static func count(_ params: JSON?) -> Result<Operation, ResponseError> {
    let reader = Params(params)
    let petition = reader.string("petition", required: true, rule: Rules.petitionID)
    let grouping = reader.choice("groupBy", as: CountGrouping.self)
    let window = readWindow(reader)
    if let error = reader.finish() { return .failure(error) }
    return .success(.count(CountQuery(petitionID: petition!, grouping: grouping, window: window)))
  }

  static func readWindow(_ reader: Params) -> TimeWindow {
    let since = reader.time("since")
    let until = reader.time("until")
    return TimeWindow(since: since, until: until)
  }

  static func unsubscribe(_ params: JSON?) -> Result<Operation, ResponseError> {
    let reader = Params(params)
    let subject = readPersonSubject(reader)
    var channels = Channel.allCases
    if let list = reader.raw("channels") {
      if !list.isArray {
        reader.report("channels", "must be an array of \"email\", \"phone\", \"sms\"")
      } else if list.count == 0 {
        reader.report("channels", "must name at least one channel")
      } else {
        var asked: Set<Channel> = []
        for (index, element) in list.elements.enumerated() {
          if let name = element.stringValue, let channel = Channel(rawValue: name) {
            asked.insert(channel)
          } else {
            reader.report("channels", element: index, "must be \"email\", \"phone\" or \"sms\"")
          }
        }
        channels = Channel.allCases.filter(asked.contains)
      }
    }
    if let error = reader.finish() { return .failure(error) }
    return .success(.unsubscribe(Unsubscription(subject: subject!, channels: channels)))
  }
}

/// JSON shapes of results.
enum ResultEncoder {
  static func petition(_ petition: Petition) -> JSON {
    let object = JSON.object()
    object.set("id", petition.id)
    object.set("title", petition.title)
    object.set("target", petition.target)
    object.set("body", petition.body)
    object.set("goal", petition.goal)
    object.set("status", petition.status.rawValue)
    object.set("confirmation", petition.confirmation.rawValue)
    object.set("createdAt", RFC3339.format(petition.createdAt))
    object.set("closedAt", petition.closedAt.map(RFC3339.format))
    object.set("goalReachedAt", petition.goalReachedAt.map(RFC3339.format))
    object.set("anonymisedAt", petition.anonymisedAt.map(RFC3339.format))
    object.set("count", petition.count)
    object.set("pending", petition.pending)
    object.set("invalidated", petition.invalidated)
    return object
  }

  static func signOutcome(_ outcome: SignOutcome) -> JSON {
    let object = JSON.object()
    object.set("signatureId", outcome.signatureID)
    object.set("petition", outcome.petitionID)
    object.set("duplicate", outcome.isDuplicate)
    object.set("status", outcome.status.rawValue)
    object.set("count", outcome.count)
    if let token = outcome.confirmToken { object.set("confirmToken", token) }
    return object
  }

  /// The sign result written directly. Its strings need no escaping: petition ids match
  /// `^[a-z0-9][a-z0-9-]*$`, signature ids are `sig_` and base-36 digits, statuses are lower-case
  /// words and tokens URL-safe base64; anything else goes through jansson.
  static func serializedSignOutcome(_ outcome: SignOutcome) -> [UInt8] {
    func isPlain(_ text: String) -> Bool {
      text.utf8.allSatisfy {
        ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
          || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
      }
    }
    guard isPlain(outcome.signatureID), isPlain(outcome.petitionID), outcome.confirmToken.map(isPlain) ?? true else {
      return signOutcome(outcome).serialized()
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(outcome.confirmToken == nil ? 112 : 160)
    bytes += #"{"signatureId":""#.utf8
    bytes += outcome.signatureID.utf8
    bytes += #"","petition":""#.utf8
    bytes += outcome.petitionID.utf8
    bytes += outcome.isDuplicate ? #"","duplicate":true,"status":""#.utf8 : #"","duplicate":false,"status":""#.utf8
    switch outcome.status {
    case .confirmed: bytes += #"confirmed","count":"#.utf8
    case .pending: bytes += #"pending","count":"#.utf8
    case .invalidated: bytes += #"invalidated","count":"#.utf8
    }
    bytes += String(outcome.count).utf8
    if let token = outcome.confirmToken {
      bytes += #","confirmToken":""#.utf8
      bytes += token.utf8
      bytes.append(UInt8(ascii: "\""))
    }
    bytes.append(UInt8(ascii: "}"))
    return bytes
  }

  /// The count result written directly (a grouping by postal code can have tens of thousands
  /// of groups); the same JSON as a jansson tree of it would serialise to.
  static func serializedCount(_ result: CountResult) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(64 + (result.groups?.count ?? 0) * 32)
    bytes += #"{"petition":"#.utf8
    JSONWriter.appendString(result.petitionID.utf8, to: &bytes)
    bytes += #","total":"#.utf8
    JSONWriter.appendInteger(result.total, to: &bytes)
    bytes += #","goal":"#.utf8
    if let goal = result.goal { JSONWriter.appendInteger(goal, to: &bytes) } else { bytes += "null".utf8 }
    if let groups = result.groups {
      bytes += #","groups":["#.utf8
      for (index, group) in groups.enumerated() {
        bytes += index == 0 ? #"{"key":"#.utf8 : #",{"key":"#.utf8
        JSONWriter.appendString(group.key.utf8, to: &bytes)
        bytes += #","count":"#.utf8
        JSONWriter.appendInteger(group.count, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
      }
      bytes.append(UInt8(ascii: "]"))
    }
    bytes.append(UInt8(ascii: "}"))
    return bytes
  }

  static func channels(_ channels: [Channel]) -> JSON {
    let object = JSON.object()
    let list = JSON.array()
    for channel in channels { list.append(.string(channel.rawValue)) }
    object.set("channels", list)
    return object
  }
}

extension StoreError {
  var responseError: ResponseError {
    switch self {
    case .petitionNotFound(let id):
      return ResponseError(code: .petitionNotFound, message: "Petition not found: \(id)")
    case .petitionAlreadyExists(let id):
      return ResponseError(code: .petitionAlreadyExists, message: "Petition already exists: \(id)")
    case .petitionClosed(let id):
      return ResponseError(code: .petitionClosed, message: "Petition is closed: \(id)")
    case .tokenUnknown:
      return ResponseError(code: .confirmationTokenUnknown, message: "Confirmation token unknown")
    case .petitionOpen(let id):
      return ResponseError(code: .petitionStillOpen, message: "Petition is still open: \(id)")
    case .petitionAnonymised(let id):
      return ResponseError(code: .petitionAnonymised, message: "Petition is anonymised: \(id)")
    case .invalidationNotFound(let id):
      return .invalidParams(path: "/invalidationId", "is not an invalidation of this petition: \(id)")
    case .interrupted:
      return .requestCancelled
    case .unavailable(let detail), .conflicted(let detail):
      return .storeUnavailable(detail)
    }
  }
}

extension ErrorCode {
  static let petitionNotFound = ErrorCode(rawValue: 1001)
  static let petitionAlreadyExists = ErrorCode(rawValue: 1002)
  static let petitionClosed = ErrorCode(rawValue: 1003)
  static let exportPathUnavailable = ErrorCode(rawValue: 1004)
  static let confirmationTokenUnknown = ErrorCode(rawValue: 1005)
  static let petitionStillOpen = ErrorCode(rawValue: 1006)
  static let petitionAnonymised = ErrorCode(rawValue: 1007)
  static let importFileUnreadable = ErrorCode(rawValue: 1008)
}
