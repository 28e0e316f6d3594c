import Petitions
import SQLite

/// copy-store on SQLite: a dump reads one snapshot (a read transaction), one row at a time; a
/// load is one IMMEDIATE transaction (a failed copy leaves the destination empty), after which
/// the counters, tallies and the consent cached on signatures are rebuilt from the rows.
extension SQLiteStore: CopyableStore {
  public func tally() throws(StoreError) -> StoreTally {
    try read(consistent: true) { try countRecords() }
  }

  /// The tally, read in the transaction that is open (or on its own).
  private func countRecords() throws -> StoreTally {
    let select = try connection.prepare(
      """
      SELECT (SELECT count(*) FROM petitions), (SELECT count(*) FROM signatures),
        (SELECT count(*) FROM consent_events), (SELECT count(*) FROM invalidations),
        (SELECT count(*) FROM invalidated_signatures), (SELECT count(*) FROM suppressions)
      """)
    _ = try select.step()
    var tally = StoreTally()
    tally.petitions = select.int(at: 0)
    tally.signatures = select.int(at: 1)
    tally.consentEvents = select.int(at: 2)
    tally.invalidations = select.int(at: 3)
    tally.invalidationMembers = select.int(at: 4)
    tally.suppressions = select.int(at: 5)
    return tally
  }

  private func allPetitions() throws -> [Petition] {
    let petitions = try connection.prepare("SELECT \(PetitionRow.columns) FROM petitions ORDER BY created_at, pk")
    var all: [Petition] = []
    while try petitions.step() { all.append(try PetitionRow(petitions).petition) }
    return all
  }

  public func dump(_ body: (StoredRecord) throws(StoreError) -> Void) throws(StoreError) {
    try read(consistent: true) {
      let key = try connection.prepare("SELECT value FROM meta WHERE name = 'suppression_key'")
      if try key.step() { try body(.suppressionKey(key.blob(at: 0))) }
      for petition in try allPetitions() { try body(.petition(petition)) }

      let signatures = try connection.prepare(
        """
        SELECT s.id, p.id, s.person_key, s.email, s.first_name, s.last_name, s.postal_code, s.country, s.phone,
          s.comment, s.source, s.signed_at, s.status, s.token_hash, s.pending_opt_ins, s.pending_notice
        FROM signatures AS s JOIN petitions AS p ON p.pk = s.petition ORDER BY s.id
        """)
      while try signatures.step() {
        let s = signatures
        try body(
          .signature(
            StoredSignature(
              signatureID: SignatureID.make(rowID: s.int64(at: 0)), petitionID: s.string(at: 1),
              personKey: s.optionalString(at: 2), email: s.optionalString(at: 3), firstName: s.optionalString(at: 4),
              lastName: s.optionalString(at: 5), postalCode: s.string(at: 6), country: s.string(at: 7),
              phone: s.optionalString(at: 8), comment: s.optionalString(at: 9), source: s.optionalString(at: 10),
              signedAt: Timestamp(millisecondsSinceEpoch: s.int64(at: 11)),
              status: SignatureStatus(rawValue: s.string(at: 12)) ?? .confirmed, tokenHash: s.optionalString(at: 13),
              pendingOptIns: OptInMask(rawValue: s.int64(at: 14)).channels, pendingNotice: s.optionalString(at: 15))))
      }

      let events = try connection.prepare(
        """
        SELECT e.person_key, e.channel, e.granted, e.at, p.id, e.source, e.via, e.number, e.notice
        FROM consent_events AS e LEFT JOIN petitions AS p ON p.pk = e.petition ORDER BY e.id
        """)
      while try events.step() {
        let e = events
        try body(
          .consentEvent(
            StoredConsentEvent(
              personKey: e.string(at: 0),
              event: ConsentEvent(
                channel: Channel(rawValue: e.string(at: 1)) ?? .email, granted: e.bool(at: 2),
                at: Timestamp(millisecondsSinceEpoch: e.int64(at: 3)), petitionID: e.optionalString(at: 4),
                source: e.optionalString(at: 5), via: ConsentVia(rawValue: e.string(at: 6)) ?? .sign,
                number: e.optionalString(at: 7), notice: e.optionalString(at: 8)))))
      }

      let invalidations = try connection.prepare(
        """
        SELECT i.id, p.id, i.reason, i.match, i.invalidated, i.revalidated, i.at
        FROM invalidations AS i JOIN petitions AS p ON p.pk = i.petition ORDER BY i.id
        """)
      while try invalidations.step() {
        let i = invalidations
        try body(
          .invalidation(
            StoredInvalidation(
              petitionID: i.string(at: 1),
              record: InvalidationRecord(
                invalidationID: InvalidationID.make(i.int64(at: 0)), reason: i.string(at: 2),
                matchDescription: i.string(at: 3), invalidated: i.int(at: 4), revalidated: i.int(at: 5),
                at: Timestamp(millisecondsSinceEpoch: i.int64(at: 6))))))
      }

      let members = try connection.prepare(
        "SELECT invalidation, signature, prior_status, revalidated FROM invalidated_signatures ORDER BY 1, 2")
      while try members.step() {
        try body(
          .invalidationMember(
            StoredInvalidationMember(
              invalidationID: InvalidationID.make(members.int64(at: 0)),
              signatureID: SignatureID.make(rowID: members.int64(at: 1)),
              priorStatus: SignatureStatus(rawValue: members.string(at: 2)) ?? .confirmed,
              revalidated: members.bool(at: 3))))
      }

      let suppressions = try connection.prepare("SELECT hash, channel FROM suppressions ORDER BY 1, 2")
      while try suppressions.step() {
        try body(
          .suppression(
            StoredSuppression(
              hash: suppressions.blob(at: 0), channel: Channel(rawValue: suppressions.string(at: 1)) ?? .email)))
      }
    }
  }

  public func load(
    from produce: ((StoredRecord) throws(StoreError) -> Void) throws(StoreError) -> Void,
    check: (StoreTally, [Petition]) throws(StoreError) -> Void
  ) throws(StoreError) {
    do throws(SQLiteError) {
      try connection.beginTransaction(.immediate)
    } catch {
      throw unavailable(error)
    }
    do {
      if let refusal = try countRecords().refusal { throw StoreError.unavailable(refusal) }
      var petitionKeys: [String: Int64] = [:]
      try produce { record throws(StoreError) in
        do {
          try loadRecord(record, petitionKeys: &petitionKeys)
        } catch {
          throw storeError(error)
        }
      }
      try rebuildDerivedState()
      try check(try countRecords(), try allPetitions())
      try connection.commit()
      petitionsInGroup.removeAll()
      suppressionKeyCache = nil
    } catch {
      connection.rollbackIfInsideTransaction()
      suppressionKeyCache = nil
      throw storeError(error)
    }
  }

  private func loadRecord(_ record: StoredRecord, petitionKeys: inout [String: Int64]) throws {
    switch record {
    case .suppressionKey(let key):
      let update = try connection.cachedStatement(
        "INSERT INTO meta (name, value) VALUES ('suppression_key', ?1) ON CONFLICT (name) DO UPDATE SET value = ?1")
      defer { update.reset() }
      try update.bind(blob: key, at: 1)
      try update.execute()
    case .petition(let petition):
      let insert = try connection.cachedStatement(
        """
        INSERT INTO petitions (id, title, target, body, goal, status, created_at, closed_at, confirmation,
          goal_reached_at, anonymised_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        """)
      defer { insert.reset() }
      try insert.bind(petition.id, at: 1)
      try insert.bind(petition.title, at: 2)
      try insert.bind(petition.target, at: 3)
      try insert.bind(petition.body, at: 4)
      try insert.bind(petition.goal, at: 5)
      try insert.bind(petition.status.rawValue, at: 6)
      try insert.bind(petition.createdAt.millisecondsSinceEpoch, at: 7)
      try insert.bind(petition.closedAt?.millisecondsSinceEpoch, at: 8)
      try insert.bind(petition.confirmation.rawValue, at: 9)
      try insert.bind(petition.goalReachedAt?.millisecondsSinceEpoch, at: 10)
      try insert.bind(petition.anonymisedAt?.millisecondsSinceEpoch, at: 11)
      try insert.execute()
      petitionKeys[petition.id] = connection.lastInsertedRowID
    case .signature(let signature):
      guard let rowID = Self.rowID(signatureID: signature.signatureID),
        let petition = petitionKeys[signature.petitionID]
      else { throw StoreError.unavailable("a signature of the source has an unknown id or petition") }
      let insert = try connection.cachedStatement(
        """
        INSERT INTO signatures (id, petition, person_key, email, first_name, last_name, postal_code, country, phone,
          comment, source, signed_at, status, token_hash, pending_opt_ins, pending_notice)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
        """)
      defer { insert.reset() }
      try insert.bind(rowID, at: 1)
      try insert.bind(petition, at: 2)
      try insert.bind(signature.personKey, at: 3)
      try insert.bind(signature.email, at: 4)
      try insert.bind(signature.firstName, at: 5)
      try insert.bind(signature.lastName, at: 6)
      try insert.bind(signature.postalCode, at: 7)
      try insert.bind(signature.country, at: 8)
      try insert.bind(signature.phone, at: 9)
      try insert.bind(signature.comment, at: 10)
      try insert.bind(signature.source, at: 11)
      try insert.bind(signature.signedAt.millisecondsSinceEpoch, at: 12)
      try insert.bind(signature.status.rawValue, at: 13)
      try insert.bind(signature.tokenHash, at: 14)
      try insert.bind(OptInMask(signature.pendingOptIns).rawValue, at: 15)
      try insert.bind(signature.pendingNotice, at: 16)
      try insert.execute()
    case .consentEvent(let stored):
      let event = stored.event
      let insert = try connection.cachedStatement(
        """
        INSERT INTO consent_events (person_key, channel, granted, at, petition, source, via, number, notice)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
        """)
      defer { insert.reset() }
      try insert.bind(stored.personKey, at: 1)
      try insert.bind(event.channel.rawValue, at: 2)
      try insert.bind(event.granted, at: 3)
      try insert.bind(event.at.millisecondsSinceEpoch, at: 4)
      try insert.bind(event.petitionID.flatMap { petitionKeys[$0] }, at: 5)
      try insert.bind(event.source, at: 6)
      try insert.bind(event.via.rawValue, at: 7)
      try insert.bind(event.number, at: 8)
      try insert.bind(event.notice, at: 9)
      try insert.execute()
    case .invalidation(let stored):
      guard let id = InvalidationID.rowID(stored.record.invalidationID), let petition = petitionKeys[stored.petitionID]
      else { throw StoreError.unavailable("an invalidation of the source has an unknown id or petition") }
      let insert = try connection.cachedStatement(
        """
        INSERT INTO invalidations (id, petition, reason, match, at, invalidated, revalidated)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
        """)
      defer { insert.reset() }
      try insert.bind(id, at: 1)
      try insert.bind(petition, at: 2)
      try insert.bind(stored.record.reason, at: 3)
      try insert.bind(stored.record.matchDescription, at: 4)
      try insert.bind(stored.record.at.millisecondsSinceEpoch, at: 5)
      try insert.bind(stored.record.invalidated, at: 6)
      try insert.bind(stored.record.revalidated, at: 7)
      try insert.execute()
    case .invalidationMember(let member):
      guard let id = InvalidationID.rowID(member.invalidationID),
        let rowID = Self.rowID(signatureID: member.signatureID)
      else { throw StoreError.unavailable("an invalidation record of the source has an unknown id") }
      let insert = try connection.cachedStatement(
        "INSERT INTO invalidated_signatures (invalidation, signature, prior_status, revalidated) VALUES (?1, ?2, ?3, ?4)"
      )
      defer { insert.reset() }
      try insert.bind(id, at: 1)
      try insert.bind(rowID, at: 2)
      try insert.bind(member.priorStatus.rawValue, at: 3)
      try insert.bind(member.revalidated, at: 4)
      try insert.execute()
    case .suppression(let entry):
      let insert = try connection.cachedStatement(
        "INSERT INTO suppressions (hash, channel) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
      defer { insert.reset() }
      try insert.bind(blob: entry.hash, at: 1)
      try insert.bind(entry.channel.rawValue, at: 2)
      try insert.execute()
    }
  }

  /// Counters, tallies and the consent cached on signatures, from the rows loaded.
  private func rebuildDerivedState() throws {
    let day = "(signed_at - (signed_at % 86400000 + 86400000) % 86400000) / 86400000"
    let hour = "(signed_at - (signed_at % 3600000 + 3600000) % 3600000) / 3600000"
    let confirmed = "FROM signatures WHERE status = 'confirmed'"
    let newest = { (channel: String) in
      """
      coalesce((SELECT e.granted FROM consent_events AS e WHERE e.person_key = signatures.person_key
        AND e.channel = '\(channel)' ORDER BY e.at DESC, e.id DESC LIMIT 1), 0)
      """
    }
    try connection.execute(
      """
      UPDATE petitions SET
        signature_count = (SELECT count(*) FROM signatures AS s WHERE s.petition = pk AND s.status = 'confirmed'),
        pending_count = (SELECT count(*) FROM signatures AS s WHERE s.petition = pk AND s.status = 'pending'),
        invalidated_count = (SELECT count(*) FROM signatures AS s WHERE s.petition = pk AND s.status = 'invalidated');
      DELETE FROM tallies;
      DELETE FROM hourly_tallies;
      INSERT INTO tallies SELECT petition, 0, \(day) AS k, count(*) \(confirmed) GROUP BY petition, k;
      INSERT INTO tallies SELECT petition, 1, postal_code, count(*) \(confirmed) GROUP BY petition, postal_code;
      INSERT INTO tallies SELECT petition, 2, country, count(*) \(confirmed) GROUP BY petition, country;
      INSERT INTO tallies SELECT petition, 3, coalesce(source, '') AS k, count(*) \(confirmed) GROUP BY petition, k;
      INSERT INTO hourly_tallies SELECT petition, 0, \(hour) AS h, '', count(*) \(confirmed) GROUP BY petition, h;
      INSERT INTO hourly_tallies
        SELECT petition, 1, \(hour) AS h, postal_code, count(*) \(confirmed) GROUP BY petition, h, postal_code;
      INSERT INTO hourly_tallies
        SELECT petition, 2, \(hour) AS h, country, count(*) \(confirmed) GROUP BY petition, h, country;
      INSERT INTO hourly_tallies
        SELECT petition, 3, \(hour) AS h, coalesce(source, '') AS k, count(*) \(confirmed) GROUP BY petition, h, k;
      INSERT INTO meta (name, value) SELECT 'tally_watermark', coalesce(max(id), 0) FROM signatures WHERE true
      ON CONFLICT (name) DO UPDATE SET value = excluded.value;
      UPDATE signatures SET email_ok = \(newest("email")), phone_ok = \(newest("phone")), sms_ok = \(newest("sms"))
      WHERE person_key IS NOT NULL;
      """)
  }

  /// The row id of a signature id this store makes, nil for anything else.
  static func rowID(signatureID id: String) -> Int64? {
    guard id.hasPrefix(SignatureID.prefix), id.utf8.count == SignatureID.prefix.utf8.count + SignatureID.width,
      let value = Int64(id.dropFirst(SignatureID.prefix.count), radix: 36), SignatureID.make(rowID: value) == id
    else { return nil }
    return value
  }
}
