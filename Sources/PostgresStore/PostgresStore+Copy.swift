import Petitions

/// copy-store on PostgreSQL. A dump reads one snapshot through server-side cursors fetched in
/// chunks; a load is one transaction (a failed copy leaves the destination empty, so it can be
/// run again), inserting chunks of rows as arrays (`unnest`), with the counting triggers off
/// and the counters rebuilt from the rows at the end.
extension PostgresStore: CopyableStore {
  static let copyChunk = 2000

  public func tally() throws(StoreError) -> StoreTally {
    try read(consistent: true) { try countRecords() }
  }

  /// The tally, read in the transaction that is open (or on its own).
  private func countRecords() throws -> StoreTally {
    let result = try connection.query(
      """
      SELECT (SELECT count(*) FROM petitions), (SELECT count(*) FROM signatures),
        (SELECT count(*) FROM consent_events), (SELECT count(*) FROM invalidations),
        (SELECT count(*) FROM invalidated_signatures), (SELECT count(*) FROM suppressions)
      """)
    var tally = StoreTally()
    tally.petitions = result.int(0, 0)
    tally.signatures = result.int(0, 1)
    tally.consentEvents = result.int(0, 2)
    tally.invalidations = result.int(0, 3)
    tally.invalidationMembers = result.int(0, 4)
    tally.suppressions = result.int(0, 5)
    return tally
  }

  private func allPetitions() throws -> [Petition] {
    let petitions = try connection.query(
      "SELECT \(Self.petitionColumns) FROM \(Self.petitionFrom) ORDER BY p.created_at, p.pk")
    var all: [Petition] = []
    for row in 0..<petitions.rowCount { all.append(try Self.petition(petitions, row).petition) }
    return all
  }

  public func dump(_ body: (StoredRecord) throws(StoreError) -> Void) throws(StoreError) {
    try read(consistent: true) {
      try body(.suppressionKey(secret))
      for petition in try allPetitions() { try body(.petition(petition)) }

      try stream(
        """
        SELECT s.id, p.id, s.person_key, s.email, s.first_name, s.last_name, s.postal_code, s.country, s.phone,
          s.comment, s.source, s.signed_at, s.status, s.token_hash, s.pending_opt_ins, s.pending_notice
        FROM signatures AS s JOIN petitions AS p ON p.pk = s.petition ORDER BY s.id
        """
      ) { result, row throws(StoreError) in
        try body(
          .signature(
            StoredSignature(
              signatureID: SignatureID.make(rowID: result.int64(row, 0)), petitionID: result.string(row, 1),
              personKey: result.optionalString(row, 2), email: result.optionalString(row, 3),
              firstName: result.optionalString(row, 4), lastName: result.optionalString(row, 5),
              postalCode: result.string(row, 6), country: result.string(row, 7), phone: result.optionalString(row, 8),
              comment: result.optionalString(row, 9), source: result.optionalString(row, 10),
              signedAt: Timestamp(millisecondsSinceEpoch: result.int64(row, 11)),
              status: SignatureStatus(rawValue: result.string(row, 12)) ?? .confirmed,
              tokenHash: result.optionalString(row, 13), pendingOptIns: Set(Self.channels(bits: result.int(row, 14))),
              pendingNotice: result.optionalString(row, 15))))
      }
      try stream(
        "SELECT person_key, channel, granted, at, petition, source, via, number, notice FROM consent_events ORDER BY id"
      ) { result, row throws(StoreError) in
        try body(
          .consentEvent(
            StoredConsentEvent(
              personKey: result.string(row, 0),
              event: ConsentEvent(
                channel: Channel(rawValue: result.string(row, 1)) ?? .email, granted: result.bool(row, 2),
                at: Timestamp(millisecondsSinceEpoch: result.int64(row, 3)), petitionID: result.optionalString(row, 4),
                source: result.optionalString(row, 5), via: ConsentVia(rawValue: result.string(row, 6)) ?? .sign,
                number: result.optionalString(row, 7), notice: result.optionalString(row, 8)))))
      }
      try stream(
        """
        SELECT i.id, p.id, i.reason, i.match, i.invalidated, i.revalidated, i.at
        FROM invalidations AS i JOIN petitions AS p ON p.pk = i.petition ORDER BY i.id
        """
      ) { result, row throws(StoreError) in
        try body(
          .invalidation(
            StoredInvalidation(
              petitionID: result.string(row, 1),
              record: InvalidationRecord(
                invalidationID: Self.invalidationPrefix + result.string(row, 0), reason: result.string(row, 2),
                matchDescription: result.string(row, 3), invalidated: result.int(row, 4),
                revalidated: result.int(row, 5), at: Timestamp(millisecondsSinceEpoch: result.int64(row, 6))))))
      }
      try stream(
        "SELECT invalidation, signature, prior_status, revalidated FROM invalidated_signatures ORDER BY 1, 2"
      ) { result, row throws(StoreError) in
        try body(
          .invalidationMember(
            StoredInvalidationMember(
              invalidationID: Self.invalidationPrefix + result.string(row, 0),
              signatureID: SignatureID.make(rowID: result.int64(row, 1)),
              priorStatus: SignatureStatus(rawValue: result.string(row, 2)) ?? .confirmed,
              revalidated: result.bool(row, 3))))
      }
      try stream("SELECT hash, channel FROM suppressions ORDER BY 1, 2") { result, row throws(StoreError) in
        try body(
          .suppression(
            StoredSuppression(
              hash: Self.bytes(fromHex: result.string(row, 0)),
              channel: Channel(rawValue: result.string(row, 1)) ?? .email
            )))
      }
    }
  }

  /// Runs `sql` through a cursor, `copyChunk` rows at a time (inside the caller's transaction).
  private func stream(_ sql: String, _ row: (PGResult, Int) throws(StoreError) -> Void) throws {
    try connection.execute("DECLARE copy_rows NO SCROLL CURSOR FOR " + sql)
    while true {
      let chunk = try connection.execute("FETCH \(Self.copyChunk) FROM copy_rows")
      for index in 0..<chunk.rowCount { try row(chunk, index) }
      if chunk.rowCount < Self.copyChunk { break }
    }
    try connection.execute("CLOSE copy_rows")
  }

  // MARK: Load

  public func load(
    from produce: ((StoredRecord) throws(StoreError) -> Void) throws(StoreError) -> Void,
    check: (StoreTally, [Petition]) throws(StoreError) -> Void
  ) throws(StoreError) {
    try beginLoad()
    do throws(StoreError) {
      try produce { record throws(StoreError) in try load(record) }
    } catch {
      connection.rollbackQuietly()
      loader = nil
      throw error
    }
    try finishLoad(check: check)
  }

  func beginLoad() throws(StoreError) {
    try ensureConnected()
    var refusal: String?
    do {
      try connection.execute("BEGIN")
      // The whole load is one transaction; other processes wait rather than see half a copy.
      try connection.execute(
        "LOCK TABLE petitions, signatures, consent_events, suppressions IN EXCLUSIVE MODE")
      refusal = try countRecords().refusal
      if refusal == nil { try connection.execute("ALTER TABLE signatures DISABLE TRIGGER USER") }
    } catch {
      connection.rollbackQuietly()
      throw storeError(error)
    }
    if let refusal {
      connection.rollbackQuietly()
      throw .unavailable(refusal.replacing("the destination", with: "the destination \(location)"))
    }
    loader = Loader()
  }

  func load(_ record: StoredRecord) throws(StoreError) {
    guard loader != nil else { throw .unavailable("load without beginLoad") }
    do {
      try loadRecord(record)
    } catch {
      connection.rollbackQuietly()
      loader = nil
      throw storeError(error)
    }
  }

  private func loadRecord(_ record: StoredRecord) throws {
    switch record {
    case .suppressionKey(let key):
      try connection.query("UPDATE store_secret SET secret = $1", [Self.hex(key)])
      secret = key
    case .petition(let petition):
      let key = try connection.query(
        """
        INSERT INTO petitions (id, title, target, body, goal, status, confirmation, created_at, closed_at,
          goal_reached_at, anonymised_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING pk
        """,
        [
          petition.id, petition.title, petition.target, petition.body, petition.goal.map { String($0) },
          petition.status.rawValue, petition.confirmation.rawValue, String(petition.createdAt.millisecondsSinceEpoch),
          petition.closedAt.map { String($0.millisecondsSinceEpoch) },
          petition.goalReachedAt.map { String($0.millisecondsSinceEpoch) },
          petition.anonymisedAt.map { String($0.millisecondsSinceEpoch) },
        ]
      ).int64(0, 0)
      loader?.petitionKeys[petition.id] = key
    case .signature(let signature):
      guard let rowID = SignatureID.rowID(signature.signatureID),
        let petitionKey = loader?.petitionKeys[signature.petitionID]
      else { throw StoreError.unavailable("a signature of the source has an unknown id or petition") }
      loader?.signatures.append([
        String(rowID), String(petitionKey), signature.personKey, signature.email, signature.firstName,
        signature.lastName, signature.postalCode, signature.country, signature.phone, signature.comment,
        signature.source, String(signature.signedAt.millisecondsSinceEpoch), signature.status.rawValue,
        signature.tokenHash, String(Self.bits(signature.pendingOptIns)), signature.pendingNotice,
      ])
      if (loader?.signatures.count ?? 0) >= Self.copyChunk { try flushSignatures() }
    case .consentEvent(let stored):
      try flushSignatures()
      let event = stored.event
      loader?.events.append([
        stored.personKey, event.channel.rawValue, event.granted ? "t" : "f", String(event.at.millisecondsSinceEpoch),
        event.petitionID, event.source, event.via.rawValue, event.number, event.notice,
      ])
      if (loader?.events.count ?? 0) >= Self.copyChunk { try flushEvents() }
    case .invalidation(let stored):
      try flushSignatures()
      try flushEvents()
      guard let petitionKey = loader?.petitionKeys[stored.petitionID],
        let number = Int64(stored.record.invalidationID.dropFirst(Self.invalidationPrefix.count))
      else { throw StoreError.unavailable("an invalidation of the source has an unknown id or petition") }
      let record = stored.record
      try connection.query(
        "INSERT INTO invalidations (id, petition, reason, match, invalidated, revalidated, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
          String(number), String(petitionKey), record.reason, record.matchDescription, String(record.invalidated),
          String(record.revalidated), String(record.at.millisecondsSinceEpoch),
        ])
    case .invalidationMember(let member):
      guard let number = Int64(member.invalidationID.dropFirst(Self.invalidationPrefix.count)),
        let rowID = SignatureID.rowID(member.signatureID)
      else { throw StoreError.unavailable("an invalidation record of the source has an unknown id") }
      loader?.members.append([
        String(number), String(rowID), member.priorStatus.rawValue, member.revalidated ? "t" : "f",
      ])
      if (loader?.members.count ?? 0) >= Self.copyChunk { try flushMembers() }
    case .suppression(let entry):
      try flushSignatures()
      try flushEvents()
      try flushMembers()
      loader?.suppressions.append([Self.hex(entry.hash), entry.channel.rawValue])
      if (loader?.suppressions.count ?? 0) >= Self.copyChunk { try flushSuppressions() }
    }
  }

  func finishLoad(check: (StoreTally, [Petition]) throws(StoreError) -> Void) throws(StoreError) {
    guard loader != nil else { throw .unavailable("finishLoad without beginLoad") }
    do {
      try flushSignatures()
      try flushEvents()
      try flushMembers()
      try flushSuppressions()
      try connection.execute(
        """
        INSERT INTO counters (petition, slot, confirmed, pending, invalidated)
        SELECT petition, 0, count(*) FILTER (WHERE status = 'confirmed'), count(*) FILTER (WHERE status = 'pending'),
          count(*) FILTER (WHERE status = 'invalidated')
        FROM signatures GROUP BY petition;
        INSERT INTO group_counts (petition, dimension, key, slot, n)
        SELECT petition, 0, day_number(signed_at)::text, 0, count(*) FROM signatures WHERE status = 'confirmed' GROUP BY 1, 3
        UNION ALL SELECT petition, 1, postal_code, 0, count(*) FROM signatures WHERE status = 'confirmed' GROUP BY 1, 3
        UNION ALL SELECT petition, 2, country, 0, count(*) FROM signatures WHERE status = 'confirmed' GROUP BY 1, 3
        UNION ALL SELECT petition, 3, coalesce(source, ''), 0, count(*) FROM signatures WHERE status = 'confirmed'
          GROUP BY 1, 3;
        SELECT hourly_counts_from_rows();
        ALTER TABLE signatures ENABLE TRIGGER USER;
        SELECT setval(pg_get_serial_sequence('petitions', 'pk'), coalesce((SELECT max(pk) FROM petitions), 0) + 1, false);
        SELECT setval(pg_get_serial_sequence('signatures', 'id'), coalesce((SELECT max(id) FROM signatures), 0) + 1, false);
        SELECT setval(pg_get_serial_sequence('consent_events', 'id'), coalesce((SELECT max(id) FROM consent_events), 0) + 1, false);
        SELECT setval(pg_get_serial_sequence('invalidations', 'id'), coalesce((SELECT max(id) FROM invalidations), 0) + 1, false);
        ANALYZE petitions, signatures, counters, group_counts, hourly_counts, consent_events, suppressions,
          invalidations, invalidated_signatures;
        """)
      try check(try countRecords(), try allPetitions())
      try connection.execute("COMMIT")
      loader = nil
    } catch {
      connection.rollbackQuietly()
      loader = nil
      throw storeError(error)
    }
  }

  private func flushSignatures() throws {
    guard let rows = loader?.signatures, !rows.isEmpty else { return }
    loader?.signatures.removeAll(keepingCapacity: true)
    try insertColumns(
      """
      INSERT INTO signatures (id, petition, person_key, email, first_name, last_name, postal_code, country, phone,
        comment, source, signed_at, status, token_hash, pending_opt_ins, pending_notice)
      SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[], $14::text[], $15::smallint[],
        $16::text[])
      """, rows, columns: 16)
  }

  private func flushEvents() throws {
    guard let rows = loader?.events, !rows.isEmpty else { return }
    loader?.events.removeAll(keepingCapacity: true)
    // unnest keeps the array order, and ids are given in it: the order of equal times stays.
    try insertColumns(
      """
      INSERT INTO consent_events (person_key, channel, granted, at, petition, source, via, number, notice)
      SELECT a, b, c, d, e, f, g, h, i
      FROM unnest($1::text[], $2::text[], $3::boolean[], $4::bigint[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[]) WITH ORDINALITY AS u (a, b, c, d, e, f, g, h, i, n) ORDER BY n
      """, rows, columns: 9)
  }

  private func flushMembers() throws {
    guard let rows = loader?.members, !rows.isEmpty else { return }
    loader?.members.removeAll(keepingCapacity: true)
    try insertColumns(
      """
      INSERT INTO invalidated_signatures (invalidation, signature, prior_status, revalidated)
      SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::boolean[])
      """, rows, columns: 4)
  }

  private func flushSuppressions() throws {
    guard let rows = loader?.suppressions, !rows.isEmpty else { return }
    loader?.suppressions.removeAll(keepingCapacity: true)
    try insertColumns(
      "INSERT INTO suppressions (hash, channel) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
      rows, columns: 2)
  }

  /// Runs an `unnest` insert with one array parameter per column.
  private func insertColumns(_ sql: String, _ rows: [[String?]], columns: Int) throws {
    var parameters: [String?] = []
    parameters.reserveCapacity(columns)
    for column in 0..<columns {
      parameters.append(Self.arrayLiteral(rows.map { $0[column] }))
    }
    try connection.query(sql, parameters)
  }
}

/// What a load in progress holds: petition keys by id, and rows waiting to be inserted.
struct Loader {
  var petitionKeys: [String: Int64] = [:]
  var signatures: [[String?]] = []
  var events: [[String?]] = []
  var members: [[String?]] = []
  var suppressions: [[String?]] = []
}
