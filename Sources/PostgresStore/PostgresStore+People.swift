import Petitions

extension PostgresStore {
  /// The canonical emails the subject names: the person, or every person who signed with the
  /// phone number (or has consent events for it).
  private func people(_ subject: PersonSubject) throws -> [String] {
    switch subject {
    case .canonicalEmail(let person):
      return [person]
    case .phone(let phone):
      let result = try connection.query(
        """
        SELECT person_key FROM signatures WHERE phone = $1 AND person_key IS NOT NULL
        UNION SELECT person_key FROM consent_events WHERE number = $1
        ORDER BY 1
        """, [phone])
      return (0..<result.rowCount).map { result.string($0, 0) }
    }
  }

  public func unsubscribe(_ unsubscription: Unsubscription, at time: Timestamp) throws(StoreError) {
    let channels = Channel.allCases.filter { unsubscription.channels.contains($0) }
    guard !channels.isEmpty else { return }
    try write {
      var hashes: [String?] = []
      let people = try people(unsubscription.subject)
      var phone: String?
      if case .phone(let number) = unsubscription.subject {
        phone = number
        for channel in channels where channel != .email {
          hashes.append(suppressionHash(channel, phone: number))
        }
      }
      for person in people {
        for channel in channels { hashes.append(suppressionHash(channel, email: person)) }
      }
      // Events only for people the store knows: an unknown email is kept only as keyed hashes.
      try connection.query(
        """
        SELECT record_consent(k.person, $2, false, $3, NULL, NULL, 'unsubscribe',
          coalesce($4, (SELECT phone FROM signatures WHERE person_key = k.person AND phone IS NOT NULL
                        ORDER BY signed_at DESC, id DESC LIMIT 1)), NULL)
        FROM unnest($1::text[]) AS k (person)
        WHERE EXISTS (SELECT 1 FROM signatures WHERE person_key = k.person)
          OR EXISTS (SELECT 1 FROM consent_events WHERE person_key = k.person)
        """,
        [Self.arrayLiteral(people), String(Self.bits(channels)), String(time.millisecondsSinceEpoch), phone])
      try connection.query(
        "INSERT INTO suppressions (hash) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
        [Self.arrayLiteral(hashes)])
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
          WHERE channel IN ('phone', 'sms') AND (number = $1 OR person_key IN (
            SELECT person_key FROM signatures WHERE phone = $1 AND person_key IS NOT NULL))
          ORDER BY at, id
          """, [phone])
      }
      return (0..<result.rowCount).compactMap { row in
        guard let channel = Channel(rawValue: result.string(row, 0)), let via = ConsentVia(rawValue: result.string(row, 5))
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
      let people = try people(subject)
      var hashes: [String?] = []
      if case .phone(let phone) = subject {
        for channel in Channel.allCases where channel != .email { hashes.append(suppressionHash(channel, phone: phone)) }
      }
      // The numbers of the people erased are suppressed too (they are about to be forgotten).
      let phones = try connection.query(
        "SELECT DISTINCT phone FROM signatures WHERE person_key = ANY ($1::text[]) AND phone IS NOT NULL",
        [Self.arrayLiteral(people)])
      for row in 0..<phones.rowCount {
        for channel in Channel.allCases where channel != .email {
          hashes.append(suppressionHash(channel, phone: phones.string(row, 0)))
        }
      }
      for person in people {
        for channel in Channel.allCases { hashes.append(suppressionHash(channel, email: person)) }
      }
      let erased = try connection.query(
        """
        UPDATE signatures SET person_key = NULL, email = '', first_name = '', last_name = '', phone = NULL,
          comment = NULL, token_hash = NULL, pending_opt_ins = 0, pending_notice = NULL, erased_at = $2
        WHERE person_key = ANY ($1::text[])
        """, [Self.arrayLiteral(people), String(time.millisecondsSinceEpoch)]
      ).affectedRows
      try connection.query(
        "DELETE FROM consent_events WHERE person_key = ANY ($1::text[])", [Self.arrayLiteral(people)])
      try connection.query(
        "INSERT INTO suppressions (hash) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
        [Self.arrayLiteral(hashes)])
      return erased
    }
  }
}
