/// What `petition-rpc copy-store` moves from one store to another: every record as it is
/// stored, ids, times, statuses and token hashes included, and the suppression list's secret
/// (so suppression keeps working). Streaming: a store dumps one record at a time and loads one
/// record at a time, so memory stays flat whatever the size.

/// A signature as stored. Erased and anonymised signatures have no person key, email, names,
/// phone or comment.
public struct StoredSignature: Equatable, Sendable {
  /// The public id (`sig_...`); copies keep it.
  public var signatureID: String
  public var petitionID: String
  public var personKey: String?
  public var email: String?
  public var firstName: String?
  public var lastName: String?
  public var postalCode: String
  public var country: String
  public var phone: String?
  public var comment: String?
  public var source: String?
  public var signedAt: Timestamp
  public var status: SignatureStatus
  public var tokenHash: String?
  /// Opt-ins to record when a pending signature is confirmed.
  public var pendingOptIns: Set<Channel>
  public var pendingNotice: String?

  public init(
    signatureID: String, petitionID: String, personKey: String?, email: String?, firstName: String?,
    lastName: String?, postalCode: String, country: String, phone: String?, comment: String?, source: String?,
    signedAt: Timestamp, status: SignatureStatus, tokenHash: String?, pendingOptIns: Set<Channel>,
    pendingNotice: String?
  ) {
    self.signatureID = signatureID
    self.petitionID = petitionID
    self.personKey = personKey
    self.email = email
    self.firstName = firstName
    self.lastName = lastName
    self.postalCode = postalCode
    self.country = country
    self.phone = phone
    self.comment = comment
    self.source = source
    self.signedAt = signedAt
    self.status = status
    self.tokenHash = tokenHash
    self.pendingOptIns = pendingOptIns
    self.pendingNotice = pendingNotice
  }
}

/// One consent event and whose it is (in store order: among equal times, the later one wins).
public struct StoredConsentEvent: Equatable, Sendable {
  public var personKey: String
  public var event: ConsentEvent
  public init(personKey: String, event: ConsentEvent) {
    self.personKey = personKey
    self.event = event
  }
}

public struct StoredInvalidation: Equatable, Sendable {
  public var petitionID: String
  public var record: InvalidationRecord
  public init(petitionID: String, record: InvalidationRecord) {
    self.petitionID = petitionID
    self.record = record
  }
}

/// A signature set aside by an invalidation, with the status it had before.
public struct StoredInvalidationMember: Equatable, Sendable {
  public var invalidationID: String
  public var signatureID: String
  public var priorStatus: SignatureStatus
  public var revalidated: Bool
  public init(invalidationID: String, signatureID: String, priorStatus: SignatureStatus, revalidated: Bool) {
    self.invalidationID = invalidationID
    self.signatureID = signatureID
    self.priorStatus = priorStatus
    self.revalidated = revalidated
  }
}

/// A suppression entry: the keyed hash of a canonical email or phone number, and the channel.
public struct StoredSuppression: Equatable, Sendable {
  public var hash: [UInt8]
  public var channel: Channel
  public init(hash: [UInt8], channel: Channel) {
    self.hash = hash
    self.channel = channel
  }
}

/// Records in the order a dump gives them and a load takes them.
public enum StoredRecord: Equatable, Sendable {
  /// The key of the suppression list's hashes (first).
  case suppressionKey([UInt8])
  /// Petitions in creation order; their counts are the source's, for the final check.
  case petition(Petition)
  /// Signatures in id order.
  case signature(StoredSignature)
  case consentEvent(StoredConsentEvent)
  case invalidation(StoredInvalidation)
  case invalidationMember(StoredInvalidationMember)
  case suppression(StoredSuppression)
}

/// How many records of each kind a store holds (progress and the final check of a copy).
public struct StoreTally: Equatable, Sendable, CustomStringConvertible {
  public var petitions = 0
  public var signatures = 0
  public var consentEvents = 0
  public var invalidations = 0
  public var invalidationMembers = 0
  public var suppressions = 0
  public init() {}

  public var total: Int { petitions + signatures + consentEvents + invalidations + invalidationMembers + suppressions }

  public var description: String {
    "\(petitions) petitions, \(signatures) signatures, \(consentEvents) consent events, "
      + "\(invalidations) invalidations (\(invalidationMembers) signatures), \(suppressions) suppression entries"
  }
}

/// A store that can be copied whole to another (`petition-rpc copy-store`).
public protocol CopyableStore: PetitionStore {
  func tally() throws(StoreError) -> StoreTally
  /// Streams every record in `StoredRecord` order, from one snapshot of the store.
  func dump(_ body: (StoredRecord) throws(StoreError) -> Void) throws(StoreError)
  /// Loads every record `produce` gives (in `StoredRecord` order, e.g. another store's `dump`)
  /// into this store, then brings counts and derived state up to date, all in one transaction.
  /// Before it commits, `check` gets what the store now holds (its tally and its petitions with
  /// their counts, read inside the transaction); if `check` throws, nothing is left. Refused
  /// (`unavailable`, nothing written) when the store already holds petitions, consent events or
  /// suppression entries: the copy brings the source's secret, under which the destination's
  /// own suppression entries would no longer match anyone.
  func load(
    from produce: ((StoredRecord) throws(StoreError) -> Void) throws(StoreError) -> Void,
    check: (StoreTally, [Petition]) throws(StoreError) -> Void
  ) throws(StoreError)
}

extension StoreTally {
  /// Counts one record of a dump.
  public mutating func count(_ record: StoredRecord) {
    switch record {
    case .suppressionKey: break
    case .petition: petitions += 1
    case .signature: signatures += 1
    case .consentEvent: consentEvents += 1
    case .invalidation: invalidations += 1
    case .invalidationMember: invalidationMembers += 1
    case .suppression: suppressions += 1
    }
  }

  /// Why a destination cannot take a copy (nil: it is empty).
  public var refusal: String? {
    guard petitions > 0 || consentEvents > 0 || suppressions > 0 else { return nil }
    return "the destination already holds \(petitions) petitions, \(consentEvents) consent events and "
      + "\(suppressions) suppression entries: copy-store needs an empty store"
  }
}
