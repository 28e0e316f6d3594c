import Petitions

// Placeholders for the methods of contract version 2 while the store is being extended: each
// fails as unavailable. Being replaced by the real implementations (issue 9).
extension SQLiteStore {
  public func confirm(tokenHash: String, at time: Timestamp) throws(StoreError) -> ConfirmOutcome {
    throw .unavailable("confirm is not implemented yet")
  }
  public func importSignature(_ row: ImportedSigning, at time: Timestamp) throws(StoreError) -> ImportRowOutcome {
    throw .unavailable("import is not implemented yet")
  }
  public func consentHistory(_ subject: PersonSubject) throws(StoreError) -> [ConsentEvent] {
    throw .unavailable("consent.history is not implemented yet")
  }
  public func invalidate(_ invalidation: Invalidation, at time: Timestamp) throws(StoreError) -> InvalidationOutcome {
    throw .unavailable("signature.invalidate is not implemented yet")
  }
  public func invalidations(petitionID: String) throws(StoreError) -> [InvalidationRecord] {
    throw .unavailable("invalidation.list is not implemented yet")
  }
  public func revalidate(petitionID: String, _ target: RevalidationTarget, at time: Timestamp) throws(StoreError)
    -> RevalidationOutcome
  {
    throw .unavailable("signature.revalidate is not implemented yet")
  }
  public func erase(_ subject: PersonSubject, at time: Timestamp) throws(StoreError) -> Int {
    throw .unavailable("person.erase is not implemented yet")
  }
  public func anonymisePetition(id: String, at time: Timestamp) throws(StoreError) -> Petition {
    throw .unavailable("petition.anonymise is not implemented yet")
  }
}
