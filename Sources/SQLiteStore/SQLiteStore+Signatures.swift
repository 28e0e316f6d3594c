import Petitions
import SQLite

extension SQLiteStore {
  public func sign(_ signing: Signing, at time: Timestamp, newToken: () -> ConfirmationToken) throws(StoreError)
    -> SignOutcome
  {
    try write {
      // Checks first: a closed or unknown petition writes nothing. The count is read under the
      // write lock, so it is exact even with other processes signing.
      let petition: (key: Int64, isOpen: Bool, count: Int)
      if isInsideWriteGroup, let remembered = petitionsInGroup[signing.petitionID] {
        petition = remembered
      } else {
        petition = try petitionForSigning(id: signing.petitionID)
        if isInsideWriteGroup { petitionsInGroup[signing.petitionID] = petition }
      }
      guard petition.isOpen else { throw StoreError.petitionClosed(signing.petitionID) }

      // The person's consent now (every signature of theirs carries it), with today's opt-ins.
      let personKey = signing.signer.canonicalEmail
      let current = try consent(personKey: personKey)
      let consentNow = (current ?? []).union(signing.optIns)

      let signatureRowID: Int64
      let count: Int
      let isDuplicate: Bool
      if let newRowID = try insertSignature(signing, consent: consentNow, petitionKey: petition.key, at: time) {
        let increment = try connection.cachedStatement(
          "UPDATE petitions SET signature_count = signature_count + 1 WHERE pk = ?1")
        defer { increment.reset() }
        try increment.bind(petition.key, at: 1)
        try increment.execute()
        (signatureRowID, count, isDuplicate) = (newRowID, petition.count + 1, false)
        if isInsideWriteGroup { petitionsInGroup[signing.petitionID]?.count = count }
      } else {
        let existing = try existingSignatureRowID(petitionKey: petition.key, personKey: signing.signer.canonicalEmail)
        (signatureRowID, count, isDuplicate) = (existing, petition.count, true)
      }
      // A duplicate keeps the first signature's data, but an opt-in given now is fresh consent,
      // for the person: on all of their other signatures too.
      if let current, consentNow != current {
        try recordOptIns(signing.optIns, personKey: personKey)
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
    // Consent lives on the person's signatures: someone who never signed has none to withdraw,
    // and nothing about them is stored.
    let setClause = """
      UPDATE signatures SET
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
  private func insertSignature(
    _ signing: Signing, consent: Set<Channel>, petitionKey: Int64, at time: Timestamp
  ) throws -> Int64? {
    let insert = try connection.cachedStatement(
      """
      INSERT INTO signatures (
        petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source, signed_at,
        email_ok, phone_ok, sms_ok)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
      ON CONFLICT (person_key, petition) DO NOTHING
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
    try insert.bind(consent.contains(.email), at: 12)
    try insert.bind(consent.contains(.phone), at: 13)
    try insert.bind(consent.contains(.sms), at: 14)
    try insert.execute()
    return connection.changes == 1 ? connection.lastInsertedRowID : nil
  }

  private func existingSignatureRowID(petitionKey: Int64, personKey: String) throws -> Int64 {
    let select = try connection.cachedStatement(
      "SELECT id FROM signatures WHERE person_key = ?2 AND petition = ?1")
    defer { select.reset() }
    try select.bind(petitionKey, at: 1)
    try select.bind(personKey, at: 2)
    guard try select.step() else {
      throw StoreError.unavailable("the store lost track of a signature it reported as existing")
    }
    return select.int64(at: 0)
  }

  /// The person's consent now, from any of their signatures (all carry the same); nil when the
  /// person has not signed anything yet.
  private func consent(personKey: String) throws -> Set<Channel>? {
    let select = try connection.cachedStatement(
      "SELECT email_ok, phone_ok, sms_ok FROM signatures WHERE person_key = ?1 LIMIT 1")
    defer { select.reset() }
    try select.bind(personKey, at: 1)
    guard try select.step() else { return nil }
    var channels: Set<Channel> = []
    if select.bool(at: 0) { channels.insert(.email) }
    if select.bool(at: 1) { channels.insert(.phone) }
    if select.bool(at: 2) { channels.insert(.sms) }
    return channels
  }

  /// Subscribes the person to `channels` on all of their signatures; other channels keep their
  /// state.
  private func recordOptIns(_ channels: Set<Channel>, personKey: String) throws {
    let update = try connection.cachedStatement(
      """
      UPDATE signatures SET
        email_ok = max(email_ok, ?2), phone_ok = max(phone_ok, ?3), sms_ok = max(sms_ok, ?4)
      WHERE person_key = ?1
      """)
    defer { update.reset() }
    try update.bind(personKey, at: 1)
    try update.bind(channels.contains(.email), at: 2)
    try update.bind(channels.contains(.phone), at: 3)
    try update.bind(channels.contains(.sms), at: 4)
    try update.execute()
  }
}
