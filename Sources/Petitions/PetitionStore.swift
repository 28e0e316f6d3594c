/// Why a store operation failed.
public enum StoreError: Error, Equatable, Sendable {
  case petitionNotFound(String)
  case petitionAlreadyExists(String)
  case petitionClosed(String)
  /// The store cannot be used now (locked past its timeout, disk full, read-only, I/O error).
  /// Nothing of the failed operation or write group was written.
  case unavailable(String)
  /// A write group stopped waiting for the store because its `stopIf` said so (the requests
  /// were cancelled). Nothing of the group was written.
  case interrupted
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
  func performWriteGroup(_ body: () -> Void) throws(StoreError)
  func performWriteGroup(stopIf shouldStop: () -> Bool, _ body: () -> Void) throws(StoreError)

  func createPetition(_ new: NewPetition, at time: Timestamp) throws(StoreError) -> Petition
  func petition(id: String) throws(StoreError) -> Petition
  /// Ordered by createdAt (then id).
  func petitions(status: PetitionStatus?) throws(StoreError) -> [Petition]
  /// Closing a closed petition returns it unchanged.
  func closePetition(id: String, at time: Timestamp) throws(StoreError) -> Petition

  /// One signature per canonical email per petition; a duplicate returns the first signature's
  /// id and records any opt-in given now as fresh consent.
  func sign(_ signing: Signing, at time: Timestamp) throws(StoreError) -> SignOutcome
  /// Person-level consent: the unsubscribe is applied to every matching person and channel.
  func unsubscribe(_ unsubscription: Unsubscription, at time: Timestamp) throws(StoreError)

  /// `total` is O(1) in the number of signatures when there is no window.
  func count(_ query: CountQuery) throws(StoreError) -> CountResult
  /// Streams rows ordered by (signedAt, signatureID) with memory that does not grow with the
  /// number of rows. `body` returns false to stop early (cancellation).
  func exportRows(_ query: ExportQuery, _ body: (ExportRow) -> Bool) throws(StoreError)
  /// The same rows as `exportRows`, read in place (no strings made): for large exports.
  func exportRowViews(_ query: ExportQuery, _ body: (any ExportRowView) -> Bool) throws(StoreError)
  /// Number of rows an export would yield (for progress reports).
  func exportRowCount(_ query: ExportQuery) throws(StoreError) -> Int
}

extension PetitionStore {
  /// A write group that gives up waiting for a store another process holds locked as soon as
  /// `shouldStop` returns true, throwing `interrupted` (nothing written). Stores that never wait
  /// ignore `shouldStop`.
  public func performWriteGroup(stopIf shouldStop: () -> Bool, _ body: () -> Void) throws(StoreError) {
    try performWriteGroup(body)
  }

  /// A store without an in-place reader serves views over owned rows.
  public func exportRowViews(_ query: ExportQuery, _ body: (any ExportRowView) -> Bool) throws(StoreError) {
    try exportRows(query) { row in body(row) }
  }
}
