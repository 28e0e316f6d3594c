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

      var confirmed = 0
      let select = try connection.cachedStatement(
        """
        SELECT s.signed_at, s.postal_code, s.country, s.source FROM invalidated_signatures AS i
        JOIN signatures AS s ON s.id = i.signature
        WHERE i.invalidation = ?1 AND i.prior_status = 'confirmed'
        """)
      defer { select.reset() }
      try select.bind(recordID, at: 1)
      while try select.step() {
        confirmed += 1
        tallies.add(
          petition: petition.key, signedAt: select.int64(at: 0), postalCode: select.string(at: 1),
          country: select.string(at: 2), source: select.optionalString(at: 3), delta: -1)
      }
      select.reset()
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
      let select: Statement
      let columns = """
        SELECT i.invalidation, i.signature, i.prior_status, s.signed_at, s.postal_code, s.country, s.source
        FROM invalidated_signatures AS i JOIN signatures AS s ON s.id = i.signature
        """
      switch target {
      case .invalidation(let id):
        guard let recordID = InvalidationID.rowID(id), try invalidationExists(recordID, petitionKey: petition.key)
        else { throw StoreError.invalidationNotFound(id) }
        select = try connection.cachedStatement(
          columns + " WHERE i.invalidation = ?1 AND i.revalidated = 0 AND s.status = 'invalidated' AND s.petition = ?2")
        try select.bind(recordID, at: 1)
      case .signatures(let ids):
        select = try connection.cachedStatement(
          columns
            + """
             WHERE i.signature IN (SELECT value FROM json_each(?1)) AND i.revalidated = 0
              AND s.status = 'invalidated' AND s.petition = ?2
            """)
        try select.bind(SignatureID.jsonArray(ids), at: 1)
      }
      defer { select.reset() }
      try select.bind(petition.key, at: 2)
      var members: [(invalidation: Int64, signature: Int64, prior: SignatureStatus)] = []
      var confirmed = 0
      while try select.step() {
        let prior = SignatureStatus(rawValue: select.string(at: 2)) ?? .confirmed
        members.append((select.int64(at: 0), select.int64(at: 1), prior))
        if prior == .confirmed {
          confirmed += 1
          tallies.add(
            petition: petition.key, signedAt: select.int64(at: 3), postalCode: select.string(at: 4),
            country: select.string(at: 5), source: select.optionalString(at: 6), delta: 1)
        }
      }
      select.reset()
      let restore = try connection.cachedStatement("UPDATE signatures SET status = ?2 WHERE id = ?1")
      let mark = try connection.cachedStatement(
        "UPDATE invalidated_signatures SET revalidated = 1 WHERE invalidation = ?1 AND signature = ?2")
      let tally = try connection.cachedStatement(
        "UPDATE invalidations SET revalidated = revalidated + 1 WHERE id = ?1")
      defer {
        restore.reset()
        mark.reset()
        tally.reset()
      }
      for member in members {
        try restore.bind(member.signature, at: 1)
        try restore.bind(member.prior.rawValue, at: 2)
        try restore.execute()
        restore.reset()
        try mark.bind(member.invalidation, at: 1)
        try mark.bind(member.signature, at: 2)
        try mark.execute()
        mark.reset()
        try tally.bind(member.invalidation, at: 1)
        try tally.execute()
        tally.reset()
      }
      let count = try changeCounters(
        petitionKey: petition.key, confirmed: confirmed, pending: members.count - confirmed,
        invalidated: -members.count, at: time)
      return RevalidationOutcome(revalidated: members.count, count: count)
    }
  }

  public func erase(_ subject: PersonSubject, at time: Timestamp) throws(StoreError) -> Int {
    try write {
      var erased = 0
      if case .phone(let phone) = subject {
        for channel in Channel.allCases { try suppress(suppressionHash(phone: phone), channel) }
      }
      for personKey in try persons(subject) {
        // What identifies them, to suppress (phones) and to scrub from invalidation records.
        let select = try connection.cachedStatement(
          "SELECT DISTINCT email, phone FROM signatures WHERE person_key = ?1")
        defer { select.reset() }
        try select.bind(personKey, at: 1)
        var texts: Set<String> = [personKey]
        var phones: Set<String> = []
        while try select.step() {
          texts.insert(select.string(at: 0))
          if let phone = select.optionalString(at: 1) { phones.insert(phone) }
        }
        select.reset()
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
        let scrub = try connection.cachedStatement(
          "UPDATE invalidations SET match = replace(match, ?1, 'erased') WHERE instr(match, ?1) > 0")
        defer { scrub.reset() }
        for text in texts.union(phones) where !text.isEmpty {
          try scrub.bind(text, at: 1)
          try scrub.execute()
          scrub.reset()
        }
      }
      return erased
    }
  }

  public func anonymisePetition(id: String, at time: Timestamp) throws(StoreError) -> Petition {
    try write {
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
      // Pending signatures go (they were never counted).
      try run(
        """
        DELETE FROM invalidated_signatures
        WHERE signature IN (SELECT id FROM signatures WHERE petition = ?1 AND status = 'pending')
        """)
      try run("DELETE FROM signatures WHERE petition = ?1 AND status = 'pending'")
      // Consent gathered through the petition goes, and its people's consent is recomputed
      // from what remains.
      let select = try connection.cachedStatement(
        "SELECT DISTINCT person_key FROM consent_events WHERE petition = ?1")
      defer { select.reset() }
      try select.bind(petition.key, at: 1)
      var people: [String] = []
      while try select.step() { people.append(select.string(at: 0)) }
      select.reset()
      try run("DELETE FROM consent_events WHERE petition = ?1")
      try run("UPDATE signatures SET \(Self.erasedColumns), token_hash = NULL WHERE petition = ?1")
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
