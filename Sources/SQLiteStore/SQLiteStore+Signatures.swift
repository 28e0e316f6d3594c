import Petitions
import SQLite

extension SQLiteStore {
  public func sign(_ signing: Signing, at time: Timestamp) throws(StoreError) -> SignOutcome {
    try write {
      // Checks first: a closed or unknown petition writes nothing. The count is read under the
      // write lock, so it is exact even with other processes signing.
      let petition = try petitionForSigning(id: signing.petitionID)
      guard petition.isOpen else { throw StoreError.petitionClosed(signing.petitionID) }

      let signatureRowID: Int64
      let count: Int
      let isDuplicate: Bool
      if let newRowID = try insertSignature(signing, petitionKey: petition.key, at: time) {
        let increment = try connection.cachedStatement(
          "UPDATE petitions SET signature_count = signature_count + 1 WHERE pk = ?1")
        defer { increment.reset() }
        try increment.bind(petition.key, at: 1)
        try increment.execute()
        (signatureRowID, count, isDuplicate) = (newRowID, petition.count + 1, false)
      } else {
        let existing = try existingSignatureRowID(petitionKey: petition.key, personKey: signing.signer.canonicalEmail)
        (signatureRowID, count, isDuplicate) = (existing, petition.count, true)
      }
      // A duplicate keeps the first signature's data, but an opt-in given now is fresh consent.
      if !signing.optIns.isEmpty {
        try recordOptIns(signing.optIns, personKey: signing.signer.canonicalEmail)
      }
      return SignOutcome(
        signatureID: SignatureID.make(rowID: signatureRowID), petitionID: signing.petitionID,
        isDuplicate: isDuplicate, count: count)
    }
  }

  /// `time` is not stored: writes are applied in lock order, so the current state per channel is
  /// all that "the newest opt-in or unsubscribe wins" needs.
  public func unsubscribe(_ unsubscription: Unsubscription, at time: Timestamp) throws(StoreError) {
    let channels = Set(unsubscription.channels)
    // Only people with a row in `people` have ever opted in; anyone else has no consent to
    // withdraw, and nothing about them is stored.
    let setClause = """
      UPDATE people SET
        email_ok = CASE WHEN ?2 THEN 0 ELSE email_ok END,
        phone_ok = CASE WHEN ?3 THEN 0 ELSE phone_ok END,
        sms_ok = CASE WHEN ?4 THEN 0 ELSE sms_ok END
      """
    try write {
      let update: Statement
      switch unsubscription.subject {
      case .canonicalEmail(let personKey):
        update = try connection.cachedStatement(setClause + " WHERE person_key = ?1")
        try update.bind(personKey, at: 1)
      case .phone(let phone):
        update = try connection.cachedStatement(
          setClause + " WHERE person_key IN (SELECT person_key FROM signatures WHERE phone = ?1)")
        try update.bind(phone, at: 1)
      }
      defer { update.reset() }
      try update.bind(channels.contains(.email), at: 2)
      try update.bind(channels.contains(.phone), at: 3)
      try update.bind(channels.contains(.sms), at: 4)
      try update.execute()
    }
  }

  /// What a sign needs of its petition; not the whole row, whose body may be long.
  private func petitionForSigning(id: String) throws -> (key: Int64, isOpen: Bool, count: Int) {
    let select = try connection.cachedStatement(
      "SELECT pk, status = 'open', signature_count FROM petitions WHERE id = ?1")
    defer { select.reset() }
    try select.bind(id, at: 1)
    guard try select.step() else { throw StoreError.petitionNotFound(id) }
    return (select.int64(at: 0), select.bool(at: 1), select.int(at: 2))
  }

  /// Inserts the signature unless the person already signed this petition. Returns the new
  /// row id, or nil for a duplicate.
  private func insertSignature(_ signing: Signing, petitionKey: Int64, at time: Timestamp) throws -> Int64? {
    let insert = try connection.cachedStatement(
      """
      INSERT INTO signatures (
        petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source, signed_at)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
      ON CONFLICT (petition, person_key) DO NOTHING
      """)
    defer { insert.reset() }
    let signer = signing.signer
    try insert.bind(petitionKey, at: 1)
    try insert.bind(signer.canonicalEmail, at: 2)
    try insert.bind(signer.email, at: 3)
    try insert.bind(signer.firstName, at: 4)
    try insert.bind(signer.lastName, at: 5)
    try insert.bind(signer.postalCode, at: 6)
    try insert.bind(signer.country, at: 7)
    try insert.bind(signer.phone, at: 8)
    try insert.bind(signing.comment, at: 9)
    try insert.bind(signing.source, at: 10)
    try insert.bind(time.millisecondsSinceEpoch, at: 11)
    try insert.execute()
    return connection.changes == 1 ? connection.lastInsertedRowID : nil
  }

  private func existingSignatureRowID(petitionKey: Int64, personKey: String) throws -> Int64 {
    let select = try connection.cachedStatement(
      "SELECT id FROM signatures WHERE petition = ?1 AND person_key = ?2")
    defer { select.reset() }
    try select.bind(petitionKey, at: 1)
    try select.bind(personKey, at: 2)
    guard try select.step() else {
      throw StoreError.unavailable("the store lost track of a signature it reported as existing")
    }
    return select.int64(at: 0)
  }

  /// Subscribes the person to `channels`; other channels keep their state.
  private func recordOptIns(_ channels: Set<Channel>, personKey: String) throws {
    let upsert = try connection.cachedStatement(
      """
      INSERT INTO people (person_key, email_ok, phone_ok, sms_ok) VALUES (?1, ?2, ?3, ?4)
      ON CONFLICT (person_key) DO UPDATE SET
        email_ok = max(email_ok, excluded.email_ok),
        phone_ok = max(phone_ok, excluded.phone_ok),
        sms_ok = max(sms_ok, excluded.sms_ok)
      """)
    defer { upsert.reset() }
    try upsert.bind(personKey, at: 1)
    try upsert.bind(channels.contains(.email), at: 2)
    try upsert.bind(channels.contains(.phone), at: 3)
    try upsert.bind(channels.contains(.sms), at: 4)
    try upsert.execute()
  }
}
