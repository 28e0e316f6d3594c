import JSON
import Service
import Petitions

/// A request whose params are valid, ready to run against the store.
enum Operation {
  case createPetition(NewPetition)
  case getPetition(id: String)
  case listPetitions(status: PetitionStatus?)
  case closePetition(id: String)
  case sign(Signing)
  case count(CountQuery)
  case unsubscribe(Unsubscription)

  /// Writes are committed together with the other writes that arrived with them.
  var isWrite: Bool {
    switch self {
    case .createPetition, .closePetition, .sign, .unsubscribe: return true
    case .getPetition, .listPetitions, .count: return false
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
    var goal: Int? = nil
    if let given = reader.integer("goal") {
      switch Rules.goal(given) {
      case .success(let value): goal = value
      case .failure(let violation): reader.report("goal", violation.message)
      }
    }
    if let error = reader.finish() { return .failure(error) }
    return .success(.createPetition(NewPetition(id: id!, title: title!, target: target!, body: body, goal: goal)))
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
    if let optIn = reader.object("optIn") {
      for channel in Channel.allCases where optIn.bool(channel.rawValue) == true {
        optIns.insert(channel)
      }
      optIn.rejectUnknownFields()
      if signer != nil && signer?.phone == nil {
        for channel in [Channel.phone, .sms] where optIns.contains(channel) {
          optIn.report(channel.rawValue, "needs signer.phone")
        }
      }
    }
    if let error = reader.finish() { return .failure(error) }
    let signing = Signing(petitionID: petition!, signer: signer!, comment: comment, optIns: optIns, source: source)
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
    // A bad country makes the postal code and phone rules unknowable: check those only when
    // the country is good.
    let countryKnown = country != nil || !countryGiven
    let postalCode = reader.string("postalCode", required: true) { raw in
      countryKnown ? Rules.postalCode(raw, country: effectiveCountry) : .success(raw)
    }
    let phone = reader.string("phone") { raw in
      countryKnown ? Rules.phone(raw, country: effectiveCountry) : .success(raw)
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
    let hasEmail = reader.has("email")
    let hasPhone = reader.has("phone")
    var subject: UnsubscribeSubject? = nil
    if let raw = reader.string("email") {
      switch Rules.email(raw) {
      case .success(let email): subject = .canonicalEmail(email.canonical)
      case .failure(let violation): reader.report("email", violation.message)
      }
    }
    if let raw = reader.string("phone") {
      switch Rules.phone(raw, country: "US") {
      case .success(let phone): subject = .phone(phone)
      case .failure(let violation): reader.report("phone", violation.message)
      }
    }
    if hasEmail && hasPhone {
      reader.report("phone", "give either email or phone, not both")
    } else if !hasEmail && !hasPhone {
      reader.report("email", "is required (or phone)")
    }
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
    object.set("createdAt", RFC3339.format(petition.createdAt))
    object.set("closedAt", petition.closedAt.map(RFC3339.format))
    object.set("count", petition.count)
    return object
  }

  static func signOutcome(_ outcome: SignOutcome) -> JSON {
    let object = JSON.object()
    object.set("signatureId", outcome.signatureID)
    object.set("petition", outcome.petitionID)
    object.set("duplicate", outcome.isDuplicate)
    object.set("count", outcome.count)
    return object
  }

  /// The sign result written directly. Its strings need no escaping: petition ids match
  /// `^[a-z0-9][a-z0-9-]*$` and signature ids are `sig_` and base-36 digits; anything else goes
  /// through jansson.
  static func serializedSignOutcome(_ outcome: SignOutcome) -> [UInt8] {
    func isPlain(_ text: String) -> Bool {
      text.utf8.allSatisfy {
        ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
          || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
      }
    }
    guard isPlain(outcome.signatureID), isPlain(outcome.petitionID) else { return signOutcome(outcome).serialized() }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(96)
    bytes += #"{"signatureId":""#.utf8
    bytes += outcome.signatureID.utf8
    bytes += #"","petition":""#.utf8
    bytes += outcome.petitionID.utf8
    bytes += outcome.isDuplicate ? #"","duplicate":true,"count":"#.utf8 : #"","duplicate":false,"count":"#.utf8
    bytes += String(outcome.count).utf8
    bytes.append(UInt8(ascii: "}"))
    return bytes
  }

  static func count(_ result: CountResult) -> JSON {
    let object = JSON.object()
    object.set("petition", result.petitionID)
    object.set("total", result.total)
    object.set("goal", result.goal)
    if let groups = result.groups {
      let list = JSON.array()
      for group in groups {
        let entry = JSON.object()
        entry.set("key", group.key)
        entry.set("count", group.count)
        list.append(entry)
      }
      object.set("groups", list)
    }
    return object
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
    case .unavailable(let detail):
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
