/// Values of contract version 2: signatures confirmed by their owner, fraud set aside, people
/// erased, consent kept as a history of events, and signatures imported from other tools.

// MARK: Confirmation

/// A confirmation token as it is given out once (`token`, URL-safe, at least 128 random bits)
/// and as the store keeps it (`hash`, lower-case hex SHA-256 of the token's UTF-8 bytes).
public struct ConfirmationToken: Equatable, Sendable {
  public var token: String
  public var hash: String
  public init(token: String, hash: String) {
    self.token = token
    self.hash = hash
  }
}

/// What `confirm` answers.
public struct ConfirmOutcome: Equatable, Sendable {
  public var signatureID: String
  public var petitionID: String
  /// `confirmed`, or `invalidated` when the signature was set aside meanwhile.
  public var status: SignatureStatus
  public var count: Int
  public init(signatureID: String, petitionID: String, status: SignatureStatus, count: Int) {
    self.signatureID = signatureID
    self.petitionID = petitionID
    self.status = status
    self.count = count
  }
}

/// How long after a petition closed its pending signatures (made before the close) can still
/// be confirmed.
public let confirmationGraceMilliseconds: Int64 = 24 * 60 * 60 * 1000

// MARK: Consent

/// How a consent event came about.
public enum ConsentVia: String, Sendable, CaseIterable {
  case sign, confirm, `import`, unsubscribe
}

/// One change of a person's consent on one channel. The person's consent now is their newest
/// remaining event for the channel (by `at`; among equal times the one recorded last).
public struct ConsentEvent: Equatable, Sendable {
  public var channel: Channel
  public var granted: Bool
  public var at: Timestamp
  public var petitionID: String?
  public var source: String?
  public var via: ConsentVia
  /// The E.164 number a phone or sms event covers; nil for email events.
  public var number: String?
  /// The caller's identifier of the consent wording shown.
  public var notice: String?
  public init(
    channel: Channel, granted: Bool, at: Timestamp, petitionID: String?, source: String?, via: ConsentVia,
    number: String?, notice: String?
  ) {
    self.channel = channel
    self.granted = granted
    self.at = at
    self.petitionID = petitionID
    self.source = source
    self.via = via
    self.number = number
    self.notice = notice
  }
}

/// A person, or every person with a phone number: whom `unsubscribe`, `consent.history` and
/// `person.erase` apply to.
public typealias PersonSubject = UnsubscribeSubject

// MARK: Invalidation

/// Which signatures of a petition an invalidation sets aside: those meeting every condition
/// given (at least one of the first five).
public struct InvalidationMatch: Equatable, Sendable {
  public var signatureIDs: [String]?
  /// Canonical email (the dedup key).
  public var canonicalEmail: String?
  /// E.164.
  public var phone: String?
  /// As stored: trimmed and upper-cased.
  public var postalCode: String?
  public var source: String?
  public var window: TimeWindow
  public init(
    signatureIDs: [String]? = nil, canonicalEmail: String? = nil, phone: String? = nil, postalCode: String? = nil,
    source: String? = nil, window: TimeWindow = TimeWindow()
  ) {
    self.signatureIDs = signatureIDs
    self.canonicalEmail = canonicalEmail
    self.phone = phone
    self.postalCode = postalCode
    self.source = source
    self.window = window
  }
}

/// A validated `signature.invalidate` request.
public struct Invalidation: Equatable, Sendable {
  public var petitionID: String
  public var reason: String
  public var match: InvalidationMatch
  /// The match as the caller gave it, serialised JSON, kept with the record for
  /// `invalidation.list` (the store keeps it as opaque text).
  public var matchDescription: String
  public var dryRun: Bool
  public init(petitionID: String, reason: String, match: InvalidationMatch, matchDescription: String, dryRun: Bool) {
    self.petitionID = petitionID
    self.reason = reason
    self.match = match
    self.matchDescription = matchDescription
    self.dryRun = dryRun
  }
}

public struct InvalidationOutcome: Equatable, Sendable {
  /// nil for a dry run.
  public var invalidationID: String?
  /// How many signatures changed (or would change, in a dry run).
  public var invalidated: Int
  public var count: Int
  public init(invalidationID: String?, invalidated: Int, count: Int) {
    self.invalidationID = invalidationID
    self.invalidated = invalidated
    self.count = count
  }
}

/// Who an erasure forgets, as kept invalidation records may name them: a record's match keeps
/// the email or phone the organiser gave, which is the erased person's data too. Each store
/// rewrites such a value to `marker` (the record's reason, counts and other conditions stay).
public struct ErasedIdentity: Sendable {
  /// What a scrubbed email or phone of a match reads.
  public static let marker = "erased"
  /// Canonical emails (dedup keys) of the erased people.
  public var personKeys: Set<String> = []
  /// E.164 numbers of the erased people (and the number an erasure by phone named).
  public var phones: Set<String> = []

  public init() {}

  /// Whether a match's email (as the organiser gave it: valid, trimmed) names an erased person;
  /// compared by canonical form, as the match itself was.
  public func names(email: String) -> Bool {
    email != Self.marker && personKeys.contains(Rules.canonicalEmail(email))
  }

  public func names(phone: String) -> Bool { phones.contains(phone) }
}

/// One kept invalidation, as `invalidation.list` shows it.
public struct InvalidationRecord: Equatable, Sendable {
  public var invalidationID: String
  public var reason: String
  public var matchDescription: String
  public var invalidated: Int
  /// How many of its signatures were revalidated since.
  public var revalidated: Int
  public var at: Timestamp
  public init(
    invalidationID: String, reason: String, matchDescription: String, invalidated: Int, revalidated: Int,
    at: Timestamp
  ) {
    self.invalidationID = invalidationID
    self.reason = reason
    self.matchDescription = matchDescription
    self.invalidated = invalidated
    self.revalidated = revalidated
    self.at = at
  }
}

/// What `signature.revalidate` undoes: a whole invalidation, or some signatures.
public enum RevalidationTarget: Equatable, Sendable {
  case invalidation(String)
  case signatures([String])
}

public struct RevalidationOutcome: Equatable, Sendable {
  public var revalidated: Int
  public var count: Int
  public init(revalidated: Int, count: Int) {
    self.revalidated = revalidated
    self.count = count
  }
}

// MARK: Import

/// One validated row of an import: signed as by `sign`, but confirmed at once, at its own time,
/// with consent from explicit opt-in columns only.
public struct ImportedSigning: Equatable, Sendable {
  public var petitionID: String
  /// Names may be empty (other tools require only email and postal code).
  public var signer: Signer
  public var comment: String?
  public var source: String?
  public var signedAt: Timestamp
  /// Whether the row gave its own `signedAt`. A row without one is signed at the store's time
  /// of the call, and its consent is recorded at its signature's time: the new one's, or for a
  /// duplicate the existing one's, so the same file imported again records nothing new (dated
  /// "now", a re-run would add an event each time, newer than any change since).
  public var hasOwnTime: Bool
  /// Explicit opt-in columns: true grants, false withholds, absent says nothing. A grant on a
  /// suppressed channel is not recorded.
  public var optIns: [Channel: Bool]
  public init(
    petitionID: String, signer: Signer, comment: String?, source: String?, signedAt: Timestamp,
    hasOwnTime: Bool = true, optIns: [Channel: Bool]
  ) {
    self.petitionID = petitionID
    self.signer = signer
    self.comment = comment
    self.source = source
    self.signedAt = signedAt
    self.hasOwnTime = hasOwnTime
    self.optIns = optIns
  }

  /// The signature's time if this row makes a new one: its own, else the call's.
  public func signatureTime(calledAt time: Timestamp) -> Timestamp { hasOwnTime ? signedAt : time }
}

public enum ImportRowOutcome: Equatable, Sendable {
  case imported
  /// The person had already signed the petition (re-running an import adds nothing).
  case duplicate
}
