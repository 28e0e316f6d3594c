import Petitions

extension PostgresStore {
  static let personsWithPhone = """
    SELECT person_key FROM signatures WHERE phone = $1 AND person_key IS NOT NULL
    UNION SELECT person_key FROM consent_events WHERE number = $1
    """

  /// The people the store knows that the subject names: the person (if known), or every person
  /// with the phone number (on a signature or a consent event).
  private func people(_ subject: PersonSubject) throws -> [String] {
    switch subject {
    case .canonicalEmail(let person):
      let known = try connection.query(
        """
        SELECT EXISTS (SELECT 1 FROM signatures WHERE person_key = $1)
          OR EXISTS (SELECT 1 FROM consent_events WHERE person_key = $1)
        """, [person])
      return known.bool(0, 0) ? [person] : []
    case .phone(let phone):
      let result = try connection.query(Self.personsWithPhone + " ORDER BY 1", [phone])
      return (0..<result.rowCount).map { result.string($0, 0) }
    }
  }

  /// Adds suppression entries (hash, channel).
  private func suppress(_ entries: [(hash: String, channel: Channel)]) throws {
    // Each entry once: DO UPDATE refuses to touch one row twice in a statement.
    var seen = Set<String>()
    let entries = entries.filter { seen.insert($0.hash + " " + $0.channel.rawValue).inserted }
    guard !entries.isEmpty else { return }
    try connection.query(
      // An entry already there is written again: an unsubscribe then commits (and flushes the
      // WAL) for someone the store does not know as for someone it knows, so its time does not
      // tell them apart.
      """
      INSERT INTO suppressions (hash, channel) SELECT * FROM unnest($1::text[], $2::text[])
      ON CONFLICT (hash, channel) DO UPDATE SET channel = excluded.channel
      """,
      [Self.arrayLiteral(entries.map(\.hash)), Self.arrayLiteral(entries.map(\.channel.rawValue))])
  }

  /// An unsubscribe event per matching person and channel; the canonical email or phone (and
  /// each matching person's canonical email) suppressed on those channels, whether or not the
  /// store knows anyone.
  public func unsubscribe(_ unsubscription: Unsubscription, at time: Timestamp) throws(StoreError) {
    let channels = Channel.allCases.filter { unsubscription.channels.contains($0) }
    guard !channels.isEmpty else { return }
    try write {
      let people = try people(unsubscription.subject)
      var entries: [(hash: String, channel: Channel)] = []
      var number: String?
      switch unsubscription.subject {
      case .canonicalEmail(let person):
        entries += channels.map { (suppressionHash(email: person), $0) }
        // The person's phones too, on the phone and sms channels (the contract: their email
        // "and phone"): an import under another email with their number must not text them.
        let phones = try connection.query(
          "SELECT DISTINCT phone FROM signatures WHERE person_key = $1 AND phone IS NOT NULL", [person])
        for row in 0..<phones.rowCount {
          entries += channels.filter { $0 != .email }.map { (suppressionHash(phone: phones.string(row, 0)), $0) }
        }
        // Phone and sms events cover the number of the person's newest signature with one.
        if channels.contains(where: { $0 != .email }) {
          let phone = try connection.query(
            """
            SELECT phone FROM signatures WHERE person_key = $1 AND phone IS NOT NULL
            ORDER BY signed_at DESC, id DESC LIMIT 1
            """, [person])
          if phone.rowCount > 0 { number = phone.string(0, 0) }
        }
      case .phone(let phone):
        number = phone
        entries += channels.map { (suppressionHash(phone: phone), $0) }
        for person in people { entries += channels.map { (suppressionHash(email: person), $0) } }
      }
      try suppress(entries)
      guard !people.isEmpty else { return }
      try connection.query(
        """
        SELECT record_consent(k.person, $2, false, $3, NULL, NULL, 'unsubscribe', $4, NULL)
        FROM unnest($1::text[]) WITH ORDINALITY AS k (person, n) ORDER BY k.n
        """,
        [Self.arrayLiteral(people), String(Self.bits(channels)), String(time.millisecondsSinceEpoch), number])
      // Opt-ins waiting on a pending signature were given before this unsubscribe: confirming it
      // later must not subscribe the person again (only a sign after it may).
      try connection.query(
        """
        UPDATE signatures SET pending_opt_ins = pending_opt_ins & ~($2::smallint)
        WHERE person_key = ANY($1::text[]) AND pending_opt_ins & $2::smallint <> 0
        """, [Self.arrayLiteral(people), String(Self.bits(channels))])
    }
  }

  public func consentHistory(_ subject: PersonSubject) throws(StoreError) -> [ConsentEvent] {
    try read {
      let columns = "channel, granted, at, petition, source, via, number, notice"
      let result: PGResult
      switch subject {
      case .canonicalEmail(let person):
        result = try connection.query(
          "SELECT \(columns) FROM consent_events WHERE person_key = $1 ORDER BY at, id", [person])
      case .phone(let phone):
        result = try connection.query(
          """
          SELECT \(columns) FROM consent_events
          WHERE channel IN ('phone', 'sms') AND person_key IN (\(Self.personsWithPhone))
          ORDER BY at, id
          """, [phone])
      }
      return (0..<result.rowCount).compactMap { row in
        guard let channel = Channel(rawValue: result.string(row, 0)),
          let via = ConsentVia(rawValue: result.string(row, 5))
        else { return nil }
        return ConsentEvent(
          channel: channel, granted: result.bool(row, 1), at: Timestamp(millisecondsSinceEpoch: result.int64(row, 2)),
          petitionID: result.optionalString(row, 3), source: result.optionalString(row, 4), via: via,
          number: result.optionalString(row, 6), notice: result.optionalString(row, 7))
      }
    }
  }

  public func erase(_ subject: PersonSubject, at time: Timestamp) throws(StoreError) -> Int {
    try write {
      // Suppressed even when the store does not know them (the answer reveals nothing).
      var entries: [(hash: String, channel: Channel)] = []
      switch subject {
      case .canonicalEmail(let person): entries += Channel.allCases.map { (suppressionHash(email: person), $0) }
      case .phone(let phone): entries += Channel.allCases.map { (suppressionHash(phone: phone), $0) }
      }
      var identity = ErasedIdentity()
      switch subject {
      case .canonicalEmail(let person): identity.personKeys.insert(person)
      case .phone(let phone): identity.phones.insert(phone)
      }
      let people = try people(subject)
      var erased = 0
      for person in people {
        // Their phones, to suppress and to scrub from invalidation records.
        let known = try connection.query(
          "SELECT DISTINCT phone FROM signatures WHERE person_key = $1 AND phone IS NOT NULL", [person])
        var phones: Set<String> = []
        for row in 0..<known.rowCount { phones.insert(known.string(row, 0)) }
        identity.personKeys.insert(person)
        identity.phones.formUnion(phones)
        entries += Channel.allCases.map { (suppressionHash(email: person), $0) }
        for phone in phones.sorted() { entries += Channel.allCases.map { (suppressionHash(phone: phone), $0) } }
        try connection.query("DELETE FROM consent_events WHERE person_key = $1", [person])
        erased += try connection.query(
          """
          UPDATE signatures SET person_key = NULL, email = NULL, first_name = NULL, last_name = NULL, phone = NULL,
            comment = NULL, pending_opt_ins = 0, pending_notice = NULL
          WHERE person_key = $1
          """, [person]
        ).affectedRows
      }
      try scrubInvalidations(naming: identity)
      try suppress(entries)
      return erased
    }
  }

  /// Rewrites the email or phone of kept invalidation matches that name an erased person
  /// (email by canonical form, phone in E.164, as the match compared them) to
  /// `ErasedIdentity.marker`. Invalidations are few; those matching by email or phone are read.
  private func scrubInvalidations(naming identity: ErasedIdentity) throws {
    let candidates = try connection.query(
      """
      SELECT id, match::jsonb ->> 'email', match::jsonb ->> 'phone' FROM invalidations
      WHERE match::jsonb ? 'email' OR match::jsonb ? 'phone'
      """)
    for row in 0..<candidates.rowCount {
      let id = candidates.string(row, 0)
      if let email = candidates.optionalString(row, 1), identity.names(email: email) {
        try connection.query(
          "UPDATE invalidations SET match = jsonb_set(match::jsonb, '{email}', to_jsonb($2::text))::text WHERE id = $1::bigint",
          [id, ErasedIdentity.marker])
      }
      if let phone = candidates.optionalString(row, 2), identity.names(phone: phone) {
        try connection.query(
          "UPDATE invalidations SET match = jsonb_set(match::jsonb, '{phone}', to_jsonb($2::text))::text WHERE id = $1::bigint",
          [id, ErasedIdentity.marker])
      }
    }
  }
}
