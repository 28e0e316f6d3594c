import Crypto
import JSON
import Petitions
import Service

/// Contract v2's methods of trust: `confirm`, `consent.history`, `signature.invalidate`,
/// `invalidation.list`, `signature.revalidate`, `person.erase` and `petition.anonymise`.
/// Params are read here (pure functions, on the reader thread) and the operations run inside the
/// service's write groups like every other quick method.

/// Rules of the v2 params that have the shape of an existing rule.
enum TrustRules {
  /// `optIn.notice`: the caller's identifier of the consent wording shown; trimmed, NFC, 1 to
  /// 200 characters, one line (the shape of a title).
  static func notice(_ raw: String) -> Result<String, RuleViolation> { Rules.title(raw) }

  /// An invalidation's `reason`: trimmed, NFC, 1 to 200 characters, one line.
  static func reason(_ raw: String) -> Result<String, RuleViolation> { Rules.title(raw) }

  /// A postal code to match, normalised as the signer rule stores it (trimmed, upper-cased):
  /// 1 to 16 letters, digits, spaces or hyphens (a US ZIP is one of these), whatever the country.
  static func postalCode(_ raw: String) -> Result<String, RuleViolation> {
    let code = trimmed(raw)
    let bytes = code.utf8
    let allowed = { (byte: UInt8) in
      isAlphanumeric(byte) || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-")
    }
    guard (1...16).contains(bytes.count), bytes.allSatisfy(allowed), bytes.contains(where: isAlphanumeric)
    else {
      return .failure(RuleViolation("must be 1 to 16 letters, digits, spaces or hyphens"))
    }
    return .success(code.uppercased())
  }

  /// A signature id to look up: the server's ids are short ASCII words; anything else matches
  /// nothing, so only the shape is checked.
  static func signatureID(_ raw: String) -> Result<String, RuleViolation> {
    let bytes = raw.utf8
    guard (1...64).contains(bytes.count),
      bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
    else {
      return .failure(RuleViolation("must be a signature id (1 to 64 characters a-z, A-Z, 0-9, '_' or '-')"))
    }
    return .success(raw)
  }

  /// A confirmation token as given out: URL-safe base64, at most 256 characters.
  static func token(_ raw: String) -> Result<String, RuleViolation> {
    let bytes = raw.utf8
    guard (1...256).contains(bytes.count),
      bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
    else {
      return .failure(RuleViolation("must be a confirmation token (1 to 256 characters A-Z, a-z, 0-9, '-' or '_')"))
    }
    return .success(raw)
  }

  static let maximumSignatureIDs = 10_000

  private static func isAlphanumeric(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
      || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
  }

  /// Without leading and trailing whitespace (as the signer rules trim).
  private static func trimmed(_ text: String) -> String {
    guard let first = text.firstIndex(where: { !$0.isWhitespace }) else { return "" }
    let last = text.lastIndex(where: { !$0.isWhitespace })!
    return String(text[first...last])
  }
}

extension OperationReader {
  static func confirm(_ params: JSON?) -> Result<Operation, ResponseError> {
    let reader = Params(params)
    let token = reader.string("token", required: true, rule: TrustRules.token)
    if let error = reader.finish() { return .failure(error) }
    return .success(.confirm(tokenHash: Secrets.sha256Hex(token!)))
  }

  /// `{"email"}` or `{"phone"}` (E.164, or a US national number): exactly one.
  static func readPersonSubject(_ reader: Params) -> PersonSubject? {
    let hasEmail = reader.has("email")
    let hasPhone = reader.has("phone")
    var subject: PersonSubject? = nil
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
      return nil
    } else if !hasEmail && !hasPhone {
      reader.report("email", "is required (or phone)")
    }
    return subject
  }

  static func personSubject(_ params: JSON?, _ make: (PersonSubject) -> Operation) -> Result<Operation, ResponseError> {
    let reader = Params(params)
    let subject = readPersonSubject(reader)
    if let error = reader.finish() { return .failure(error) }
    return .success(make(subject!))
  }

  /// A list of 1 to 10000 signature ids at `key`, each checked at its own path.
  static func readSignatureIDs(_ reader: Params, _ key: String) -> [String]? {
    guard let list = reader.raw(key) else { return nil }
    guard list.isArray else {
      reader.report(key, "must be an array of signature ids")
      return nil
    }
    guard (1...TrustRules.maximumSignatureIDs).contains(list.count) else {
      reader.report(key, "must hold 1 to \(TrustRules.maximumSignatureIDs) signature ids")
      return nil
    }
    var ids: [String] = []
    ids.reserveCapacity(list.count)
    var seen: Set<String> = []
    var valid = true
    for (index, element) in list.elements.enumerated() {
      guard let text = element.stringValue else {
        reader.report(key, element: index, "must be a string")
        valid = false
        continue
      }
      switch TrustRules.signatureID(text) {
      case .success(let id): if seen.insert(id).inserted { ids.append(id) }
      case .failure(let violation):
        reader.report(key, element: index, violation.message)
        valid = false
      }
    }
    return valid ? ids : nil
  }

  static func invalidate(_ params: JSON?) -> Result<Operation, ResponseError> {
    let reader = Params(params)
    let petition = reader.string("petition", required: true, rule: Rules.petitionID)
    let reason = reader.string("reason", required: true, rule: TrustRules.reason)
    let dryRun = reader.bool("dryRun") ?? false
    var match: InvalidationMatch? = nil
    let description = JSON.object()
    if let given = reader.object("match", required: true) {
      var result = InvalidationMatch()
      // The record keeps the match as the caller gave it (trimmed text, in a fixed key order).
      if let ids = readSignatureIDs(given, "signatureIds") {
        result.signatureIDs = ids
        let list = JSON.array()
        for id in ids { list.append(.string(id)) }
        description.set("signatureIds", list)
      }
      if let raw = given.string("email") {
        switch Rules.email(raw) {
        case .success(let email):
          result.canonicalEmail = email.canonical
          description.set("email", email.email)
        case .failure(let violation): given.report("email", violation.message)
        }
      }
      if let raw = given.string("phone") {
        switch Rules.phone(raw, country: "US") {
        case .success(let phone):
          result.phone = phone
          description.set("phone", phone)
        case .failure(let violation): given.report("phone", violation.message)
        }
      }
      if let code = given.string("postalCode", rule: TrustRules.postalCode) {
        result.postalCode = code
        description.set("postalCode", code)
      }
      if let source = given.string("source", rule: Rules.source) {
        result.source = source
        description.set("source", source)
      }
      let window = readWindow(given)
      result.window = window
      if let since = window.since { description.set("since", RFC3339.format(since)) }
      if let until = window.until { description.set("until", RFC3339.format(until)) }
      let conditions = ["signatureIds", "email", "phone", "postalCode", "source"]
      if !conditions.contains(where: given.has) {
        reader.report("match", "must hold at least one of signatureIds, email, phone, postalCode and source")
      }
      given.rejectUnknownFields()
      match = result
    }
    if let error = reader.finish() { return .failure(error) }
    return .success(
      .invalidate(
        Invalidation(
          petitionID: petition!, reason: reason!, match: match!, matchDescription: description.serializedString,
          dryRun: dryRun)))
  }

  static func listInvalidations(_ params: JSON?) -> Result<Operation, ResponseError> {
    let reader = Params(params)
    let petition = reader.string("petition", required: true, rule: Rules.petitionID)
    if let error = reader.finish() { return .failure(error) }
    return .success(.listInvalidations(petitionID: petition!))
  }

  /// `{"petition", "invalidationId"}` or `{"petition", "signatureIds"}`: exactly one of the two.
  static func revalidate(_ params: JSON?) -> Result<Operation, ResponseError> {
    let reader = Params(params)
    let petition = reader.string("petition", required: true, rule: Rules.petitionID)
    let hasInvalidation = reader.has("invalidationId")
    let hasIDs = reader.has("signatureIds")
    let invalidation = reader.string("invalidationId", rule: TrustRules.signatureID)
    let ids = readSignatureIDs(reader, "signatureIds")
    if hasInvalidation && hasIDs {
      reader.report("signatureIds", "give either invalidationId or signatureIds, not both")
    } else if !hasInvalidation && !hasIDs {
      reader.report("invalidationId", "is required (or signatureIds)")
    }
    if let error = reader.finish() { return .failure(error) }
    let target: RevalidationTarget = invalidation.map { .invalidation($0) } ?? .signatures(ids!)
    return .success(.revalidate(petitionID: petition!, target))
  }
}

/// Runs the v2 operations against the store and shapes their results.
enum TrustOperations {
  static func execute(_ operation: Operation, store: PetitionStore, clock: Clock) throws(StoreError) -> JSON {
    switch operation {
    case .confirm(let tokenHash):
      return TrustEncoder.confirmOutcome(try store.confirm(tokenHash: tokenHash, at: clock.now()))
    case .consentHistory(let subject):
      return TrustEncoder.consentHistory(try store.consentHistory(subject))
    case .invalidate(let invalidation):
      return TrustEncoder.invalidationOutcome(try store.invalidate(invalidation, at: clock.now()))
    case .listInvalidations(let petitionID):
      return TrustEncoder.invalidations(try store.invalidations(petitionID: petitionID))
    case .revalidate(let petitionID, let target):
      return TrustEncoder.revalidationOutcome(try store.revalidate(petitionID: petitionID, target, at: clock.now()))
    case .erase(let subject):
      let result = JSON.object()
      result.set("signatures", try store.erase(subject, at: clock.now()))
      return result
    case .anonymisePetition(let id):
      return ResultEncoder.petition(try store.anonymisePetition(id: id, at: clock.now()))
    case .createPetition, .getPetition, .listPetitions, .closePetition, .sign, .count, .unsubscribe:
      preconditionFailure("not an operation of contract v2")
    }
  }

  /// The v2 methods whose params this file reads; nil for any other method.
  static func readOperation(method: String, params: JSON?) -> Result<Operation, ResponseError>? {
    switch method {
    case "confirm": return OperationReader.confirm(params)
    case "consent.history": return OperationReader.personSubject(params) { .consentHistory($0) }
    case "signature.invalidate": return OperationReader.invalidate(params)
    case "invalidation.list": return OperationReader.listInvalidations(params)
    case "signature.revalidate": return OperationReader.revalidate(params)
    case "person.erase": return OperationReader.personSubject(params) { .erase($0) }
    case "petition.anonymise": return OperationReader.petitionID(params) { .anonymisePetition(id: $0) }
    default: return nil
    }
  }
}

/// JSON shapes of the v2 results.
enum TrustEncoder {
  static func confirmOutcome(_ outcome: ConfirmOutcome) -> JSON {
    let object = JSON.object()
    object.set("signatureId", outcome.signatureID)
    object.set("petition", outcome.petitionID)
    object.set("status", outcome.status.rawValue)
    object.set("count", outcome.count)
    return object
  }

  static func consentEvent(_ event: ConsentEvent) -> JSON {
    let object = JSON.object()
    object.set("channel", event.channel.rawValue)
    object.set("granted", event.granted)
    object.set("at", RFC3339.format(event.at))
    object.set("petition", event.petitionID)
    object.set("source", event.source)
    object.set("via", event.via.rawValue)
    object.set("number", event.number)
    object.set("notice", event.notice)
    return object
  }

  static func consentHistory(_ events: [ConsentEvent]) -> JSON {
    let list = JSON.array()
    for event in events { list.append(consentEvent(event)) }
    let object = JSON.object()
    object.set("events", list)
    return object
  }

  static func invalidationOutcome(_ outcome: InvalidationOutcome) -> JSON {
    let object = JSON.object()
    object.set("invalidationId", outcome.invalidationID)
    object.set("invalidated", outcome.invalidated)
    object.set("count", outcome.count)
    return object
  }

  static func invalidations(_ records: [InvalidationRecord]) -> JSON {
    let list = JSON.array()
    for record in records {
      let entry = JSON.object()
      entry.set("invalidationId", record.invalidationID)
      entry.set("reason", record.reason)
      // The match as the caller gave it; the store keeps it as opaque text.
      if case .success(let match) = JSON.parse(record.matchDescription), match.isObject {
        entry.set("match", match)
      } else {
        entry.set("match", JSON.object())
      }
      entry.set("invalidated", record.invalidated)
      entry.set("revalidated", record.revalidated)
      entry.set("at", RFC3339.format(record.at))
      list.append(entry)
    }
    let object = JSON.object()
    object.set("invalidations", list)
    return object
  }

  static func revalidationOutcome(_ outcome: RevalidationOutcome) -> JSON {
    let object = JSON.object()
    object.set("revalidated", outcome.revalidated)
    object.set("count", outcome.count)
    return object
  }
}
