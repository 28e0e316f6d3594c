/// Why a store operation failed.
public enum StoreError: Error, Equatable, Sendable {
  case petitionNotFound(String)
  case petitionAlreadyExists(String)
  case petitionClosed(String)
  /// `confirm` with a token the store does not know (never given, or replaced by a newer one).
  case tokenUnknown
  /// Anonymising needs a closed petition.
  case petitionOpen(String)
  /// An anonymised petition's signatures can no longer be exported.
  case petitionAnonymised(String)
  /// `signature.revalidate` of an invalidation the petition does not have.
  case invalidationNotFound(String)
  /// The write group was abandoned because its `stopIf` said so (a cancelled request) while it
  /// waited for a store another process holds locked. Nothing was written.
  case interrupted
  /// The write group was rolled back because PostgreSQL broke a deadlock with another process's
  /// transaction by failing this one (or found a serialization conflict): nothing was written,
  /// and running the group again may succeed. Answered like `unavailable` when not run again.
  case conflicted(String)
  /// The store cannot be used now (locked past its timeout, disk full, read-only, I/O error,
  /// database unreachable). Nothing of the failed operation or write group was written, except
  /// when a database connection was lost during the commit (the outcome is then unknown; every
  /// write is idempotent, so retrying is safe).
  case unavailable(String)
}

/// Where petitions and signatures live. The domain owns this protocol; SQLite is the embedded
/// default and other stores (PostgreSQL) implement the same.
///
/// Writes are grouped: the server calls `performWriteGroup` with a body that runs several
/// operations, and the group is committed durably (fsynced) once, when the body returns.
/// An operation that fails with a domain error (`petitionNotFound`, `petitionClosed`,
/// `petitionAlreadyExists`) has written nothing and does not affect the others in the group.
/// If the commit itself fails, `performWriteGroup` throws `unavailable` and nothing of the group
/// is written. Operations called outside a group commit on their own.
///
/// A store is used from one thread at a time.
public protocol PetitionStore: AnyObject {
  /// Runs `body` as one write group. While the group waits for a store another process holds
  /// locked, `shouldStop` is consulted; when it answers true the wait ends at once with
  /// `interrupted` and nothing of the group is written.
  func performWriteGroup(stopIf shouldStop: () -> Bool, _ body: () -> Void) throws(StoreError)
  /// Inside a write group, before its operations: takes what the group's writes into these
  /// petitions will wait for, in one order every process uses, so two groups of different
  /// processes never wait for each other in a cycle. Unknown ids are skipped.
  func lockPetitions(_ ids: [String]) throws(StoreError)

  func createPetition(_ new: NewPetition, at time: Timestamp) throws(StoreError) -> Petition
  func petition(id: String) throws(StoreError) -> Petition
  /// Ordered by createdAt (then id).
  func petitions(status: PetitionStatus?) throws(StoreError) -> [Petition]
  /// Closing a closed petition returns it unchanged.
  func closePetition(id: String, at time: Timestamp) throws(StoreError) -> Petition

  /// One signature per canonical email per petition (erased signatures no longer count as the
  /// person's); a duplicate returns the first signature's id and status and records any opt-in
  /// given now as fresh consent (on a pending signature: when it is confirmed). On a petition
  /// with `confirmation: .email` a new signature is pending and `newToken` is called for its
  /// token (the store keeps only the hash); a duplicate of a pending signature gets a new token
  /// and the old one stops working. An explicit opt-in lifts the suppression of its channel.
  func sign(_ signing: Signing, at time: Timestamp, newToken: () -> ConfirmationToken) throws(StoreError)
    -> SignOutcome
  /// Several signs, in order, each with its own outcome exactly as `sign` would give it one at
  /// a time (a later one sees the earlier ones: the same person twice is a duplicate). For a
  /// store where each statement is a round trip, this is where a write group's signs share one.
  func signMany(_ signings: [Signing], at time: Timestamp, newToken: () -> ConfirmationToken)
    -> [Result<SignOutcome, StoreError>]
  /// Confirms the pending signature whose token hashes to `tokenHash`; again with the same token
  /// answers the same. `tokenUnknown`; `petitionClosed` when it closed more than 24 hours ago.
  func confirm(tokenHash: String, at time: Timestamp) throws(StoreError) -> ConfirmOutcome
  /// Signs one imported row, confirmed, at the row's own time; consent events via `import` for
  /// its explicit opt-in columns, except grants on a suppressed channel.
  func importSignature(_ row: ImportedSigning, at time: Timestamp) throws(StoreError) -> ImportRowOutcome
  /// Several imported rows, in order, each with its outcome exactly as `importSignature` would
  /// give it one at a time; ends with the first failure (the rows after it are not tried).
  func importMany(_ rows: [ImportedSigning], at time: Timestamp) -> [Result<ImportRowOutcome, StoreError>]

  /// Person-level consent: an event per matching person and channel, and the canonical email
  /// (or phone) put on the suppression list, whether or not the store knows the person.
  func unsubscribe(_ unsubscription: Unsubscription, at time: Timestamp) throws(StoreError)
  /// Every remaining consent event of the person (for a phone: the phone and sms events of every
  /// person with that number), oldest first.
  func consentHistory(_ subject: PersonSubject) throws(StoreError) -> [ConsentEvent]

  /// Sets aside the matching pending and confirmed signatures of a petition (or only counts
  /// them, in a dry run, writing nothing).
  func invalidate(_ invalidation: Invalidation, at time: Timestamp) throws(StoreError) -> InvalidationOutcome
  /// Oldest first.
  func invalidations(petitionID: String) throws(StoreError) -> [InvalidationRecord]
  /// Each signature returns to the status it had before it was invalidated.
  func revalidate(petitionID: String, _ target: RevalidationTarget, at time: Timestamp) throws(StoreError)
    -> RevalidationOutcome

  /// Erases every signature of the person (or of every person with the phone): email, names,
  /// phone and comment gone, consent events deleted, the person suppressed. Returns how many
  /// signatures were erased.
  func erase(_ subject: PersonSubject, at time: Timestamp) throws(StoreError) -> Int
  /// For a closed petition (`petitionOpen` otherwise): signer data gone, the consent events
  /// recorded through it deleted, pending signatures deleted; counts and groups stay exact.
  func anonymisePetition(id: String, at time: Timestamp) throws(StoreError) -> Petition

  /// Counts confirmed signatures only, from aggregates kept exact inside every write: instant at
  /// any size (`total` is O(1)), a window's cost growing only with the rows in its edge buckets.
  func count(_ query: CountQuery) throws(StoreError) -> CountResult
  /// Streams the confirmed, not erased signatures ordered by (signedAt, signatureID) with memory
  /// that does not grow with the number of rows (`petitionAnonymised` for an anonymised
  /// petition). `body` returns false to stop early (cancellation).
  func exportRows(_ query: ExportQuery, _ body: (ExportRow) -> Bool) throws(StoreError)
  /// The same rows as `exportRows`, read in place (no strings made): for large exports.
  func exportRowViews(_ query: ExportQuery, _ body: (any ExportRowView) -> Bool) throws(StoreError)
  /// Number of rows an export would yield (for progress reports).
  func exportRowCount(_ query: ExportQuery) throws(StoreError) -> Int
}

extension PetitionStore {
  /// One `sign` after another (an embedded store has no round trips to save).
  public func signMany(_ signings: [Signing], at time: Timestamp, newToken: () -> ConfirmationToken)
    -> [Result<SignOutcome, StoreError>]
  {
    signings.map { signing in
      do throws(StoreError) {
        return .success(try sign(signing, at: time, newToken: newToken))
      } catch {
        return .failure(error)
      }
    }
  }

  /// One `importSignature` after another, up to the first failure.
  public func importMany(_ rows: [ImportedSigning], at time: Timestamp) -> [Result<ImportRowOutcome, StoreError>] {
    var outcomes: [Result<ImportRowOutcome, StoreError>] = []
    outcomes.reserveCapacity(rows.count)
    for row in rows {
      do throws(StoreError) {
        outcomes.append(.success(try importSignature(row, at: time)))
      } catch {
        outcomes.append(.failure(error))
        break
      }
    }
    return outcomes
  }

  public func performWriteGroup(_ body: () -> Void) throws(StoreError) {
    try performWriteGroup(stopIf: { false }, body)
  }

  /// Nothing to do for a store with one writer at a time (SQLite).
  public func lockPetitions(_ ids: [String]) throws(StoreError) {}

  /// A store without an in-place reader serves views over owned rows.
  public func exportRowViews(_ query: ExportQuery, _ body: (any ExportRowView) -> Bool) throws(StoreError) {
    try exportRows(query) { row in body(row) }
  }
}
