/// Values of the petition domain. They are plain data: rules that make them live in `Rules`,
/// persistence behind `PetitionStore`.

/// Milliseconds since the Unix epoch, UTC. Rendered as RFC 3339 with milliseconds.
public struct Timestamp: Hashable, Comparable, Sendable {
  public var millisecondsSinceEpoch: Int64
  public init(millisecondsSinceEpoch: Int64) { self.millisecondsSinceEpoch = millisecondsSinceEpoch }
  public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
    lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
  }
}

public enum PetitionStatus: String, Sendable, CaseIterable {
  case open, closed
}

/// Whether a petition counts a signature at once or only once its owner confirmed it.
public enum ConfirmationMode: String, Sendable, CaseIterable {
  /// Every valid signature counts at once.
  case none
  /// A new signature is `pending` until its confirmation token comes back through `confirm`.
  case email
}

/// Where a signature stands. Only confirmed signatures are counted, grouped and exported.
public enum SignatureStatus: String, Sendable, CaseIterable {
  case confirmed, pending, invalidated
}

public struct Petition: Equatable, Sendable {
  public var id: String
  public var title: String
  public var target: String
  public var body: String
  public var goal: Int?
  public var status: PetitionStatus
  public var confirmation: ConfirmationMode
  public var createdAt: Timestamp
  public var closedAt: Timestamp?
  /// When `count` first reached `goal`; it stays if the count falls again.
  public var goalReachedAt: Timestamp?
  public var anonymisedAt: Timestamp?
  /// Confirmed signatures.
  public var count: Int
  /// Signatures waiting for their owner's confirmation.
  public var pending: Int
  /// Signatures set aside as fraud.
  public var invalidated: Int

  public init(
    id: String, title: String, target: String, body: String, goal: Int?, status: PetitionStatus,
    confirmation: ConfirmationMode = .none, createdAt: Timestamp, closedAt: Timestamp?,
    goalReachedAt: Timestamp? = nil, anonymisedAt: Timestamp? = nil, count: Int, pending: Int = 0,
    invalidated: Int = 0
  ) {
    self.id = id
    self.title = title
    self.target = target
    self.body = body
    self.goal = goal
    self.status = status
    self.confirmation = confirmation
    self.createdAt = createdAt
    self.closedAt = closedAt
    self.goalReachedAt = goalReachedAt
    self.anonymisedAt = anonymisedAt
    self.count = count
    self.pending = pending
    self.invalidated = invalidated
  }
}

/// What `petition.create` asks for, already validated.
public struct NewPetition: Equatable, Sendable {
  public var id: String
  public var title: String
  public var target: String
  public var body: String
  public var goal: Int?
  public var confirmation: ConfirmationMode
  public init(
    id: String, title: String, target: String, body: String, goal: Int?, confirmation: ConfirmationMode = .none
  ) {
    self.id = id
    self.title = title
    self.target = target
    self.body = body
    self.goal = goal
    self.confirmation = confirmation
  }
}

/// A contact channel a signer may consent to.
public enum Channel: String, Sendable, CaseIterable, Comparable {
  case email, phone, sms
  public static func < (lhs: Channel, rhs: Channel) -> Bool {
    allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
  }
}

/// A validated signer: text trimmed and in NFC, email as given (trimmed), `canonicalEmail` the
/// dedup key, phone in E.164.
public struct Signer: Equatable, Sendable {
  public var email: String
  public var canonicalEmail: String
  public var firstName: String
  public var lastName: String
  public var postalCode: String
  public var country: String
  public var phone: String?
  public init(
    email: String, canonicalEmail: String, firstName: String, lastName: String, postalCode: String,
    country: String, phone: String?
  ) {
    self.email = email
    self.canonicalEmail = canonicalEmail
    self.firstName = firstName
    self.lastName = lastName
    self.postalCode = postalCode
    self.country = country
    self.phone = phone
  }
}

/// A validated `sign` request.
public struct Signing: Equatable, Sendable {
  public var petitionID: String
  public var signer: Signer
  public var comment: String?
  /// Channels the signer explicitly opted in to now (`true` in `optIn`).
  public var optIns: Set<Channel>
  public var source: String?
  /// The caller's identifier of the consent wording shown (`optIn.notice`).
  public var notice: String?
  public init(
    petitionID: String, signer: Signer, comment: String?, optIns: Set<Channel>, source: String?,
    notice: String? = nil
  ) {
    self.petitionID = petitionID
    self.signer = signer
    self.comment = comment
    self.optIns = optIns
    self.source = source
    self.notice = notice
  }
}

public struct SignOutcome: Equatable, Sendable {
  public var signatureID: String
  public var petitionID: String
  public var isDuplicate: Bool
  /// The signature's status (of the first signature, for a duplicate).
  public var status: SignatureStatus
  /// The petition's count of confirmed signatures after this sign.
  public var count: Int
  /// Given only when the signature is pending: the token to mail to the signer (never stored).
  public var confirmToken: String?
  public init(
    signatureID: String, petitionID: String, isDuplicate: Bool, status: SignatureStatus = .confirmed, count: Int,
    confirmToken: String? = nil
  ) {
    self.signatureID = signatureID
    self.petitionID = petitionID
    self.isDuplicate = isDuplicate
    self.status = status
    self.count = count
    self.confirmToken = confirmToken
  }
}

public enum CountGrouping: String, Sendable, CaseIterable {
  case day, postalCode, country, source
}

/// A half-open window on signedAt: `since` inclusive, `until` exclusive.
public struct TimeWindow: Equatable, Sendable {
  public var since: Timestamp?
  public var until: Timestamp?
  public init(since: Timestamp? = nil, until: Timestamp? = nil) {
    self.since = since
    self.until = until
  }
}

public struct CountQuery: Equatable, Sendable {
  public var petitionID: String
  public var grouping: CountGrouping?
  public var window: TimeWindow
  public init(petitionID: String, grouping: CountGrouping?, window: TimeWindow) {
    self.petitionID = petitionID
    self.grouping = grouping
    self.window = window
  }
}

public struct CountResult: Equatable, Sendable {
  public var petitionID: String
  public var total: Int
  public var goal: Int?
  /// Present only when a grouping was asked for; sorted by key.
  public var groups: [(key: String, count: Int)]?
  public init(petitionID: String, total: Int, goal: Int?, groups: [(key: String, count: Int)]?) {
    self.petitionID = petitionID
    self.total = total
    self.goal = goal
    self.groups = groups
  }
  public static func == (lhs: CountResult, rhs: CountResult) -> Bool {
    lhs.petitionID == rhs.petitionID && lhs.total == rhs.total && lhs.goal == rhs.goal
      && lhs.groups?.map(\.key) == rhs.groups?.map(\.key) && lhs.groups?.map(\.count) == rhs.groups?.map(\.count)
  }
}

public enum ExportAudience: String, Sendable, CaseIterable {
  /// For the petition's target: never contact details.
  case delivery
  /// For outreach: only people with a channel they may be contacted on now.
  case contacts
}

/// Where an export page starts: after the row with this (signedAt, signatureID).
public struct ExportPosition: Equatable, Sendable {
  public var signedAt: Timestamp
  public var signatureID: String
  public init(signedAt: Timestamp, signatureID: String) {
    self.signedAt = signedAt
    self.signatureID = signatureID
  }
}

public struct ExportQuery: Equatable, Sendable {
  public var petitionID: String
  public var audience: ExportAudience
  public var window: TimeWindow
  /// Rows strictly after this position; nil starts at the first row.
  public var after: ExportPosition?
  /// At most this many rows; nil for all.
  public var limit: Int?
  public init(petitionID: String, audience: ExportAudience, window: TimeWindow, after: ExportPosition?, limit: Int?) {
    self.petitionID = petitionID
    self.audience = audience
    self.window = window
    self.after = after
    self.limit = limit
  }
}

/// One exported signature. For `delivery` the contact fields are nil and must not be written.
public struct ExportRow: Equatable, Sendable {
  public var signatureID: String
  public var email: String?
  public var firstName: String
  public var lastName: String
  public var postalCode: String
  public var country: String
  public var phone: String?
  public var comment: String?
  /// The person's consent now, per channel (contacts only).
  public var optInEmail: Bool
  public var optInPhone: Bool
  public var optInSms: Bool
  public var source: String?
  public var signedAt: Timestamp
  public init(
    signatureID: String, email: String?, firstName: String, lastName: String, postalCode: String,
    country: String, phone: String?, comment: String?, optInEmail: Bool, optInPhone: Bool, optInSms: Bool,
    source: String?, signedAt: Timestamp
  ) {
    self.signatureID = signatureID
    self.email = email
    self.firstName = firstName
    self.lastName = lastName
    self.postalCode = postalCode
    self.country = country
    self.phone = phone
    self.comment = comment
    self.optInEmail = optInEmail
    self.optInPhone = optInPhone
    self.optInSms = optInSms
    self.source = source
    self.signedAt = signedAt
  }
}

/// Whom an unsubscribe applies to.
public enum UnsubscribeSubject: Equatable, Sendable {
  /// A person, by canonical email.
  case canonicalEmail(String)
  /// Every person whose phone is this E.164 number.
  case phone(String)
}

public struct Unsubscription: Equatable, Sendable {
  public var subject: UnsubscribeSubject
  /// In the order email, phone, sms.
  public var channels: [Channel]
  public init(subject: UnsubscribeSubject, channels: [Channel]) {
    self.subject = subject
    self.channels = channels
  }
}
