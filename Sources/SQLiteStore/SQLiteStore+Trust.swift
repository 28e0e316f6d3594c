import Petitions
import SQLite

// Fraud invalidation, erasure and anonymisation (contract v2). Every change of a signature's
// status or existence keeps the petition's counters and the count aggregates exact in the same
// transaction.
extension SQLiteStore {
  public func invalidate(_ invalidation: Invalidation, at time: Timestamp) throws(StoreError) -> InvalidationOutcome {
    let matching = MatchSQL(invalidation.match)
    if invalidation.dryRun {
      return try read(consistent: true) {
        let petition = try petitionRow(id: invalidation.petitionID)
        let select = try connection.cachedStatement("SELECT count(*) FROM signatures AS s WHERE \(matching.filter)")
        defer { select.reset() }
        try matching.bind(to: select, petitionKey: petition.key)
        try select.step()
        return InvalidationOutcome(invalidationID: nil, invalidated: select.int(at: 0), count: petition.petition.count)
      }
    }
    return try write {
      let petition = try petitionState(id: invalidation.petitionID)
      let record = try connection.cachedStatement(
        "INSERT INTO invalidations (petition, reason, match, at, invalidated) VALUES (?1, ?2, ?3, ?4, 0)")
      defer { record.reset() }
      try record.bind(petition.key, at: 1)
      try record.bind(invalidation.reason, at: 2)
      try record.bind(invalidation.matchDescription, at: 3)
      try record.bind(time.millisecondsSinceEpoch, at: 4)
      try record.execute()
      let recordID = connection.lastInsertedRowID

      // Each signature with the status it had, for revalidation.
      let members = try connection.cachedStatement(
        """
        INSERT INTO invalidated_signatures (invalidation, signature, prior_status)
        SELECT ?9, s.id, s.status FROM signatures AS s WHERE \(matching.filter)
        """)
      defer { members.reset() }
      try matching.bind(to: members, petitionKey: petition.key)
      try members.bind(recordID, at: 9)
      try members.execute()
      let invalidated = connection.changes

      // The confirmed ones leave the aggregates (grouped in SQL: there may be many).
      let confirmedRows = """
        SELECT s.signed_at, s.postal_code, s.country, s.source FROM invalidated_signatures AS i
        JOIN signatures AS s ON s.id = i.signature
        WHERE i.invalidation = ?1 AND i.prior_status = 'confirmed'
        """
      let counting = try connection.cachedStatement("SELECT count(*) FROM (\(confirmedRows))")
      defer { counting.reset() }
      try counting.bind(recordID, at: 1)
      try counting.step()
      let confirmed = counting.int(at: 0)
      counting.reset()
      // Those in the tail (see TallyTail) are counted from their rows, which say invalidated.
      tailTalliesExact = false
      if confirmed > 0 {
        try Tallies.apply(rows: confirmedRows + Self.inAggregates, petition: petition.key, delta: -1, to: connection) {
          statement throws(SQLiteError) in try statement.bind(recordID, at: 1)
        }
      }
      let update = try connection.cachedStatement(
        """
        UPDATE signatures SET status = 'invalidated'
        WHERE id IN (SELECT signature FROM invalidated_signatures WHERE invalidation = ?1)
        """)
      defer { update.reset() }
      try update.bind(recordID, at: 1)
      try update.execute()
      let total = try connection.cachedStatement("UPDATE invalidations SET invalidated = ?2 WHERE id = ?1")
      defer { total.reset() }
      try total.bind(recordID, at: 1)
      try total.bind(invalidated, at: 2)
      try total.execute()
      let count = try changeCounters(
        petitionKey: petition.key, confirmed: -confirmed, pending: -(invalidated - confirmed),
        invalidated: invalidated, at: time)
      return InvalidationOutcome(
        invalidationID: InvalidationID.make(recordID), invalidated: invalidated, count: count)
    }
  }

  public func invalidations(petitionID: String) throws(StoreError) -> [InvalidationRecord] {
    try read(consistent: true) {
      let petition = try petitionRow(id: petitionID)
      let select = try connection.cachedStatement(
        "SELECT id, reason, match, invalidated, revalidated, at FROM invalidations WHERE petition = ?1 ORDER BY id")
      defer { select.reset() }
      try select.bind(petition.key, at: 1)
      var records: [InvalidationRecord] = []
      while try select.step() {
        records.append(
          InvalidationRecord(
            invalidationID: InvalidationID.make(select.int64(at: 0)), reason: select.string(at: 1),
            matchDescription: select.string(at: 2), invalidated: select.int(at: 3), revalidated: select.int(at: 4),
            at: Timestamp(millisecondsSinceEpoch: select.int64(at: 5))))
      }
      return records
    }
  }

  public func revalidate(petitionID: String, _ target: RevalidationTarget, at time: Timestamp) throws(StoreError)
    -> RevalidationOutcome
  {
    try write {
      let petition = try petitionState(id: petitionID)
      if case .invalidation(let id) = target {
        guard let recordID = InvalidationID.rowID(id), try invalidationExists(recordID, petitionKey: petition.key)
        else { throw StoreError.invalidationNotFound(id) }
      }
      // A signature leaves `invalidated` only through here, which marks its membership: the
      // members not yet revalidated are exactly the signatures to restore.
      let targeted =
        switch target {
        case .invalidation: "i.invalidation = ?1"
        case .signatures: "i.signature IN (SELECT value FROM json_each(?1))"
        }
      // Anonymisation deleted the pending signatures; one invalidated while pending kept its row
      // (without data or token) and stays invalidated: as pending it could never be confirmed
      // nor deleted.
      let members =
        targeted + " AND (i.prior_status <> 'pending'"
        + " OR NOT EXISTS (SELECT 1 FROM petitions WHERE pk = ?2 AND anonymised_at IS NOT NULL))"
      let bindTarget = { (statement: Statement) throws(SQLiteError) in
        switch target {
        case .invalidation(let id): try statement.bind(InvalidationID.rowID(id) ?? 0, at: 1)
        case .signatures(let ids): try statement.bind(SignatureID.jsonArray(ids), at: 1)
        }
        try statement.bind(petition.key, at: 2)
      }
      let from = """
        FROM invalidated_signatures AS i JOIN signatures AS s ON s.id = i.signature
        WHERE \(members) AND i.revalidated = 0 AND s.status = 'invalidated' AND s.petition = ?2
        """
      // Each record's share, and how many were confirmed before; then everything set-wise.
      let select = try connection.cachedStatement(
        "SELECT i.invalidation, count(*), sum(i.prior_status = 'confirmed') \(from) GROUP BY i.invalidation")
      defer { select.reset() }
      try bindTarget(select)
      var revalidated = 0
      var confirmed = 0
      var perInvalidation: [Int64: Int] = [:]
      while try select.step() {
        perInvalidation[select.int64(at: 0)] = select.int(at: 1)
        revalidated += select.int(at: 1)
        confirmed += select.int(at: 2)
      }
      select.reset()
      tailTalliesExact = false
      if confirmed > 0 {
        try Tallies.apply(
          rows: "SELECT s.signed_at, s.postal_code, s.country, s.source \(from) AND i.prior_status = 'confirmed'"
            + Self.inAggregates,
          petition: petition.key, delta: 1, to: connection, binding: bindTarget)
      }
      let restore = try connection.cachedStatement(
        """
        UPDATE signatures SET status = i.prior_status FROM invalidated_signatures AS i
        WHERE i.signature = signatures.id AND \(members) AND i.revalidated = 0
          AND signatures.status = 'invalidated' AND signatures.petition = ?2
        """)
      defer { restore.reset() }
      try bindTarget(restore)
      try restore.execute()
      let mark = try connection.cachedStatement(
        """
        UPDATE invalidated_signatures AS i SET revalidated = 1
        WHERE \(members) AND i.revalidated = 0
          AND i.invalidation IN (SELECT id FROM invalidations WHERE petition = ?2)
        """)
      defer { mark.reset() }
      try bindTarget(mark)
      try mark.execute()
      let record = try connection.cachedStatement(
        "UPDATE invalidations SET revalidated = revalidated + ?2 WHERE id = ?1")
      defer { record.reset() }
      for (invalidation, count) in perInvalidation {
        try record.bind(invalidation, at: 1)
        try record.bind(count, at: 2)
        try record.execute()
        record.reset()
      }
      let count = try changeCounters(
        petitionKey: petition.key, confirmed: confirmed, pending: revalidated - confirmed,
        invalidated: -revalidated, at: time)
      return RevalidationOutcome(revalidated: revalidated, count: count)
    }
  }

  public func erase(_ subject: PersonSubject, at time: Timestamp) throws(StoreError) -> Int {
    try write {
      truncateWALAfterCommit = true
      var erased = 0
      // Suppressed even when the store does not know them (the answer reveals nothing).
      let subjectHash =
        switch subject {
        case .canonicalEmail(let personKey): try suppressionHash(email: personKey)
        case .phone(let phone): try suppressionHash(phone: phone)
        }
      for channel in Channel.allCases { try suppress(subjectHash, channel) }
      var identity = ErasedIdentity()
      switch subject {
      case .canonicalEmail(let personKey): identity.personKeys.insert(personKey)
      case .phone(let phone): identity.phones.insert(phone)
      }
      for personKey in try persons(subject) {
        // Their phones, to suppress and to scrub from invalidation records.
        let select = try connection.cachedStatement(
          "SELECT DISTINCT phone FROM signatures WHERE person_key = ?1 AND phone IS NOT NULL")
        defer { select.reset() }
        try select.bind(personKey, at: 1)
        var phones: Set<String> = []
        while try select.step() { phones.insert(select.string(at: 0)) }
        select.reset()
        identity.personKeys.insert(personKey)
        identity.phones.formUnion(phones)
        for channel in Channel.allCases {
          try suppress(suppressionHash(email: personKey), channel)
          for phone in phones { try suppress(suppressionHash(phone: phone), channel) }
        }
        let events = try connection.cachedStatement("DELETE FROM consent_events WHERE person_key = ?1")
        defer { events.reset() }
        try events.bind(personKey, at: 1)
        try events.execute()
        let update = try connection.cachedStatement(
          "UPDATE signatures SET \(Self.erasedColumns) WHERE person_key = ?1")
        defer { update.reset() }
        try update.bind(personKey, at: 1)
        try update.execute()
        erased += connection.changes
      }
      try scrubInvalidations(naming: identity)
      return erased
    }
  }

  /// Rewrites the email or phone of kept invalidation matches that name an erased person
  /// (compared as the match compared them: email by canonical form, phone in E.164) to
  /// `ErasedIdentity.marker`. Invalidations are few; those matching by email or phone are read.
  private func scrubInvalidations(naming identity: ErasedIdentity) throws(SQLiteError) {
    let select = try connection.cachedStatement(
      """
      SELECT id, json_extract(match, '$.email'), json_extract(match, '$.phone') FROM invalidations
      WHERE json_type(match, '$.email') = 'text' OR json_type(match, '$.phone') = 'text'
      """)
    defer { select.reset() }
    var scrubbed: [(id: Int64, field: String)] = []
    while try select.step() {
      let id = select.int64(at: 0)
      if let email = select.optionalString(at: 1), identity.names(email: email) { scrubbed.append((id, "$.email")) }
      if let phone = select.optionalString(at: 2), identity.names(phone: phone) { scrubbed.append((id, "$.phone")) }
    }
    select.reset()
    let update = try connection.cachedStatement(
      "UPDATE invalidations SET match = json_set(match, ?2, ?3) WHERE id = ?1")
    defer { update.reset() }
    for (id, field) in scrubbed {
      try update.bind(id, at: 1)
      try update.bind(field, at: 2)
      try update.bind(ErasedIdentity.marker, at: 3)
      try update.execute()
      update.reset()
    }
  }

  public func anonymisePetition(id: String, at time: Timestamp) throws(StoreError) -> Petition {
    try write {
      truncateWALAfterCommit = true
      petitionsInGroup[id] = nil
      let petition = try petitionRow(id: id)
      guard petition.petition.status == .closed else { throw StoreError.petitionOpen(id) }
      guard petition.petition.anonymisedAt == nil else { return petition.petition }
      func run(_ sql: String) throws {
        let statement = try connection.cachedStatement(sql)
        defer { statement.reset() }
        try statement.bind(petition.key, at: 1)
        try statement.execute()
      }
      // Consent gathered through the petition goes, and its people's consent is recomputed
      // from what remains. Every event recorded through a petition (sign, confirm, import)
      // belongs to someone with a signature on it, kept while the event is (erasure removes
      // both), so the petition's signers, pending ones included, lead to the events through
      // the person index: no index by petition to keep up on every sign, and no scan of
      // everyone's history.
      let select = try connection.cachedStatement(
        """
        SELECT DISTINCT s.person_key FROM signatures AS s
        WHERE s.petition = ?1 AND s.person_key IS NOT NULL
          AND EXISTS (SELECT 1 FROM consent_events AS e WHERE e.person_key = s.person_key AND e.petition = ?1)
        """)
      defer { select.reset() }
      try select.bind(petition.key, at: 1)
      var people: [String] = []
      while try select.step() { people.append(select.string(at: 0)) }
      select.reset()
      let deleteEvents = try connection.cachedStatement(
        "DELETE FROM consent_events WHERE person_key = ?1 AND petition = ?2")
      defer { deleteEvents.reset() }
      for personKey in people {
        try deleteEvents.bind(personKey, at: 1)
        try deleteEvents.bind(petition.key, at: 2)
        try deleteEvents.execute()
        deleteEvents.reset()
      }
      // Pending signatures go (they were never counted).
      try run(
        """
        DELETE FROM invalidated_signatures
        WHERE signature IN (SELECT id FROM signatures WHERE petition = ?1 AND status = 'pending')
        """)
      try SignatureIDFloor.keepAbove(pendingOf: petition.key, in: connection)
      try run("DELETE FROM signatures WHERE petition = ?1 AND status = 'pending'")
      signatureIDFloor = nil
      // Token hashes stay (they say nothing of anyone): confirming again answers as before.
      try run("UPDATE signatures SET \(Self.erasedColumns) WHERE petition = ?1")
      // The petition's invalidation records forget the emails and phones they matched by.
      for field in ["email", "phone"] {
        try run(
          """
          UPDATE invalidations SET match = json_set(match, '$.\(field)', '\(ErasedIdentity.marker)')
          WHERE petition = ?1 AND json_type(match, '$.\(field)') = 'text'
          """)
      }
      for personKey in people { try recomputeConsent(personKey: personKey) }
      let update = try connection.cachedStatement(
        "UPDATE petitions SET anonymised_at = ?2, pending_count = 0 WHERE pk = ?1")
      defer { update.reset() }
      try update.bind(petition.key, at: 1)
      try update.bind(time.millisecondsSinceEpoch, at: 2)
      try update.execute()
      return try petitionRow(id: id).petition
    }
  }

  /// What erasing a signature sets: signer data gone; postal code, country, time, source and
  /// status stay (the counts and groups).
  /// The condition on `s` (a signature) of being counted in the aggregates, not in the tail.
  static let inAggregates = " AND s.id <= coalesce((SELECT value FROM meta WHERE name = 'tally_watermark'), 0)"

  static let erasedColumns = """
    person_key = NULL, email = NULL, first_name = NULL, last_name = NULL, phone = NULL, comment = NULL,
    email_ok = 0, phone_ok = 0, sms_ok = 0, pending_opt_ins = 0, pending_notice = NULL
    """

  private func invalidationExists(_ recordID: Int64, petitionKey: Int64) throws -> Bool {
    let select = try connection.cachedStatement("SELECT 1 FROM invalidations WHERE id = ?1 AND petition = ?2")
    defer { select.reset() }
    try select.bind(recordID, at: 1)
    try select.bind(petitionKey, at: 2)
    return try select.step()
  }
}

/// Invalidation ids: "inv_" and the record's row id.
enum InvalidationID {
  static func make(_ rowID: Int64) -> String { "inv_\(rowID)" }
  static func rowID(_ id: String) -> Int64? {
    guard id.hasPrefix("inv_") else { return nil }
    return Int64(id.dropFirst(4))
  }
}

/// The conditions of an invalidation's match as SQL on `signatures AS s`, only those given
/// (so each can use its index). Parameters: ?1 petition, ?2 ids (JSON array), ?3 person key,
/// ?4 phone, ?5 postal code, ?6 source, ?7 ?8 window.
struct MatchSQL {
  let match: InvalidationMatch
  let filter: String

  init(_ match: InvalidationMatch) {
    self.match = match
    var conditions = ["s.petition = ?1", "s.status IN ('confirmed', 'pending')"]
    if match.signatureIDs != nil { conditions.append("s.id IN (SELECT value FROM json_each(?2))") }
    if match.canonicalEmail != nil { conditions.append("s.person_key = ?3") }
    if match.phone != nil { conditions.append("s.phone = ?4") }
    if match.postalCode != nil { conditions.append("s.postal_code = ?5") }
    if match.source != nil { conditions.append("s.source = ?6") }
    if match.window.since != nil || match.window.until != nil {
      conditions.append("s.signed_at >= ?7 AND s.signed_at < ?8")
    }
    filter = conditions.joined(separator: " AND ")
  }

  func bind(to statement: Statement, petitionKey: Int64) throws(SQLiteError) {
    try statement.bind(petitionKey, at: 1)
    if let ids = match.signatureIDs { try statement.bind(SignatureID.jsonArray(ids), at: 2) }
    if let email = match.canonicalEmail { try statement.bind(email, at: 3) }
    if let phone = match.phone { try statement.bind(phone, at: 4) }
    if let postalCode = match.postalCode { try statement.bind(postalCode, at: 5) }
    if let source = match.source { try statement.bind(source, at: 6) }
    if match.window.since != nil || match.window.until != nil {
      let window = WindowBounds(match.window)
      try statement.bind(window.lowest, at: 7)
      try statement.bind(window.end, at: 8)
    }
  }
}
