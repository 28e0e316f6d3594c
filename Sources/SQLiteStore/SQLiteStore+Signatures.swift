import Crypto
import Petitions
import SQLite

extension SQLiteStore {
  public func sign(_ signing: Signing, at time: Timestamp, newToken: () -> ConfirmationToken) throws(StoreError)
    -> SignOutcome
  {
    try write(keepingCounters: true) {
      // Checks first: a closed or unknown petition writes nothing. Counts are read under the
      // write lock, so they are exact even with other processes signing.
      let petition = try petitionState(id: signing.petitionID)
      guard petition.isOpen else { throw StoreError.petitionClosed(signing.petitionID) }
      let personKey = signing.signer.canonicalEmail
      let signer = signing.signer
      let token = petition.needsConfirmation ? newToken() : nil

      // A new signature carries the person's consent now (every signature of theirs does).
      let new = NewSignatureRow(
        petitionKey: petition.key, signer: signer, comment: signing.comment, source: signing.source,
        signedAt: time.millisecondsSinceEpoch, status: token == nil ? .confirmed : .pending, tokenHash: token?.hash,
        pendingOptIns: token == nil ? 0 : OptInMask(signing.optIns).rawValue,
        pendingNotice: token == nil ? nil : signing.notice)
      // With opt-ins on a new confirmed signature, its row is written with the consent the
      // person will have after them (so recording them rewrites no row of a new person).
      let needsEventCheck = token == nil && !signing.optIns.isEmpty
      let (known, hasLaterEvent) = try consentProbe(personKey: personKey, eventsAfter: needsEventCheck ? time : nil)
      var consent = known ?? []
      let grantsAreNewest = needsEventCheck && !hasLaterEvent
      if grantsAreNewest { consent.formUnion(OptInMask(signing.optIns)) }
      if let rowID = try insertSignature(new, consent: consent) {
        let id = SignatureID.make(rowID: rowID)
        if let token {
          let count = try changeCounters(petitionKey: petition.key, pending: 1, at: time)
          return SignOutcome(
            signatureID: id, petitionID: signing.petitionID, isDuplicate: false, status: .pending, count: count,
            confirmToken: token.token)
        }
        // A new signature is in the tail (see TallyTail).
        tailTallies.add(
          petition: petition.key, signedAt: new.signedAt, postalCode: signer.postalCode, country: signer.country,
          source: signing.source, delta: 1)
        let count = try changeCounters(petitionKey: petition.key, confirmed: 1, at: time)
        if !signing.optIns.isEmpty {
          // Someone signing for the first time has no other row to give the consent to: the
          // new row was written with it.
          try recordGrants(
            signing.optIns, personKey: personKey, phone: signer.phone, petitionKey: petition.key,
            source: signing.source, notice: signing.notice, via: .sign, at: time, areNewest: grantsAreNewest,
            rowsHaveConsent: grantsAreNewest && known == nil)
        }
        return SignOutcome(signatureID: id, petitionID: signing.petitionID, isDuplicate: false, count: count)
      }

      // A duplicate keeps the first signature's data; an opt-in given now is fresh consent
      // (on a pending signature: recorded when it is confirmed).
      let existing = try existingSignature(petitionKey: petition.key, personKey: personKey)
      let id = SignatureID.make(rowID: existing.rowID)
      if existing.status == .pending, let token {
        let update = try connection.cachedStatement(
          """
          UPDATE signatures SET token_hash = ?2, pending_opt_ins = pending_opt_ins | ?3, pending_notice = ?4
          WHERE id = ?1
          """)
        defer { update.reset() }
        try update.bind(existing.rowID, at: 1)
        try update.bind(token.hash, at: 2)
        try update.bind(OptInMask(signing.optIns).rawValue, at: 3)
        // Each channel keeps the wording shown with its own opt-in (see PendingNotices).
        try update.bind(
          PendingNotices.merged(
            existing.pendingNotice, pending: existing.pendingOptIns.channels, adding: signing.optIns,
            notice: signing.notice),
          at: 4)
        try update.execute()
        return SignOutcome(
          signatureID: id, petitionID: signing.petitionID, isDuplicate: true, status: .pending,
          count: try currentCount(petitionKey: petition.key), confirmToken: token.token)
      }
      if !signing.optIns.isEmpty {
        try recordGrants(
          signing.optIns, personKey: personKey, phone: signer.phone, petitionKey: petition.key,
          source: signing.source, notice: signing.notice, via: .sign, at: time)
      }
      return SignOutcome(
        signatureID: id, petitionID: signing.petitionID, isDuplicate: true, status: existing.status,
        count: try currentCount(petitionKey: petition.key))
    }
  }

  public func confirm(tokenHash: String, at time: Timestamp) throws(StoreError) -> ConfirmOutcome {
    try write(keepingCounters: true) {
      let select = try connection.cachedStatement(
        """
        SELECT s.id, s.status, s.petition, p.id, p.status = 'open', p.closed_at, s.signed_at, s.person_key,
          s.postal_code, s.country, s.source, s.phone, s.pending_opt_ins, s.pending_notice
        FROM signatures AS s JOIN petitions AS p ON p.pk = s.petition
        WHERE s.token_hash = ?1
        """)
      defer { select.reset() }
      try select.bind(tokenHash, at: 1)
      guard try select.step() else { throw StoreError.tokenUnknown }
      let rowID = select.int64(at: 0)
      let status = SignatureStatus(rawValue: select.string(at: 1)) ?? .pending
      let petitionKey = select.int64(at: 2)
      let petitionID = select.string(at: 3)
      let outcome = { (status: SignatureStatus, count: Int) in
        ConfirmOutcome(
          signatureID: SignatureID.make(rowID: rowID), petitionID: petitionID, status: status, count: count)
      }
      // Confirmed already (the same token again), or invalidated meanwhile: answered as it is.
      guard status == .pending else {
        select.reset()
        return outcome(status, try currentCount(petitionKey: petitionKey))
      }
      let isOpen = select.bool(at: 4)
      let closedAt = select.optionalInt64(at: 5)
      let signedAt = select.int64(at: 6)
      // A pending signature was made while the petition was open (sign refuses a closed one),
      // even when its time equals the close's to the millisecond.
      if !isOpen, let closedAt, time.millisecondsSinceEpoch - closedAt > confirmationGraceMilliseconds {
        throw StoreError.petitionClosed(petitionID)
      }
      let personKey = select.optionalString(at: 7)
      let postalCode = select.string(at: 8)
      let country = select.string(at: 9)
      let source = select.optionalString(at: 10)
      let phone = select.optionalString(at: 11)
      let optIns = OptInMask(rawValue: select.int64(at: 12)).channels
      let notice = select.optionalString(at: 13)
      select.reset()

      let update = try connection.cachedStatement(
        "UPDATE signatures SET status = 'confirmed', pending_opt_ins = 0, pending_notice = NULL WHERE id = ?1")
      defer { update.reset() }
      try update.bind(rowID, at: 1)
      try update.execute()
      try countChange(
        rowID: rowID, petition: petitionKey, signedAt: signedAt, postalCode: postalCode, country: country,
        source: source)
      let count = try changeCounters(petitionKey: petitionKey, confirmed: 1, pending: -1, at: time)
      if let personKey, !optIns.isEmpty {
        // One group of grants per wording shown (see PendingNotices).
        for group in PendingNotices.groups(optIns, in: notice) {
          try recordGrants(
            group.channels, personKey: personKey, phone: phone, petitionKey: petitionKey, source: source,
            notice: group.notice, via: .confirm, at: time)
        }
      }
      return outcome(.confirmed, count)
    }
  }

  public func importSignature(_ row: ImportedSigning, at time: Timestamp) throws(StoreError) -> ImportRowOutcome {
    try write(keepingCounters: true) {
      let petition = try petitionState(id: row.petitionID)
      guard petition.isOpen else { throw StoreError.petitionClosed(row.petitionID) }
      let signer = row.signer
      let personKey = signer.canonicalEmail
      let new = NewSignatureRow(
        petitionKey: petition.key, signer: signer, comment: row.comment, source: row.source,
        signedAt: row.signatureTime(calledAt: time).millisecondsSinceEpoch, status: .confirmed, tokenHash: nil,
        pendingOptIns: 0, pendingNotice: nil)
      let outcome: ImportRowOutcome
      // Consent is recorded at the row's time; without one, at its signature's (see hasOwnTime).
      var eventTime = Timestamp(millisecondsSinceEpoch: new.signedAt)
      if try insertSignature(new, consent: try consentProbe(personKey: personKey, eventsAfter: nil).known ?? []) != nil
      {
        tailTallies.add(
          petition: petition.key, signedAt: new.signedAt, postalCode: signer.postalCode, country: signer.country,
          source: row.source, delta: 1)
        try changeCounters(petitionKey: petition.key, confirmed: 1, at: time)
        outcome = .imported
      } else {
        outcome = .duplicate
        if !row.hasOwnTime {
          eventTime = try existingSignature(petitionKey: petition.key, personKey: personKey).signedAt
        }
      }
      // Consent only from explicit columns, at the row's time; never a grant on a suppressed
      // channel; an event already recorded (the same import run again) is not recorded twice.
      var recorded = false
      for channel in Channel.allCases {
        guard let granted = row.optIns[channel] else { continue }
        if granted, try isSuppressed(channel, personKey: personKey, phone: signer.phone) { continue }
        let event = ConsentEvent(
          channel: channel, granted: granted, at: eventTime, petitionID: nil, source: row.source, via: .import,
          number: channel == .email ? nil : signer.phone, notice: nil)
        if try hasEvent(event, personKey: personKey, petitionKey: petition.key) { continue }
        try insertEvent(event, personKey: personKey, petitionKey: petition.key)
        recorded = true
      }
      if recorded { try recomputeConsent(personKey: personKey) }
      return outcome
    }
  }

  /// Records an unsubscribe event per matching person and channel, and suppresses the canonical
  /// email or phone (and each matching person's canonical email) on those channels, whether or
  /// not the store knows anyone.
  public func unsubscribe(_ unsubscription: Unsubscription, at time: Timestamp) throws(StoreError) {
    try write {
      let channels = Channel.allCases.filter(unsubscription.channels.contains)
      let people = try persons(unsubscription.subject)
      let number: String?
      switch unsubscription.subject {
      case .canonicalEmail(let personKey):
        number = try newestPhone(personKey: personKey)
        for channel in channels { try suppress(suppressionHash(email: personKey), channel) }
        // The person's phones too, on the phone and sms channels (the contract: their email
        // "and phone"): an import under another email with their number must not text them.
        for phone in try phones(personKey: personKey) {
          for channel in channels where channel != .email { try suppress(suppressionHash(phone: phone), channel) }
        }
      case .phone(let phone):
        number = phone
        for channel in channels { try suppress(suppressionHash(phone: phone), channel) }
      }
      for personKey in people {
        for channel in channels {
          if case .phone = unsubscription.subject { try suppress(suppressionHash(email: personKey), channel) }
          try insertEvent(
            ConsentEvent(
              channel: channel, granted: false, at: time, petitionID: nil, source: nil, via: .unsubscribe,
              number: channel == .email ? nil : number, notice: nil),
            personKey: personKey, petitionKey: nil)
        }
        try recomputeConsent(personKey: personKey)
        // Opt-ins waiting on a pending signature were given before this unsubscribe: confirming
        // it later must not subscribe the person again (only a sign after it may).
        let dropPending = try connection.cachedStatement(
          """
          UPDATE signatures SET pending_opt_ins = pending_opt_ins & ~?2
          WHERE person_key = ?1 AND pending_opt_ins & ?2 <> 0
          """)
        defer { dropPending.reset() }
        try dropPending.bind(personKey, at: 1)
        try dropPending.bind(OptInMask(Set(channels)).rawValue, at: 2)
        try dropPending.execute()
      }
    }
  }

  /// Every phone of the person's signatures.
  private func phones(personKey: String) throws -> [String] {
    let select = try connection.cachedStatement(
      "SELECT DISTINCT phone FROM signatures WHERE person_key = ?1 AND phone IS NOT NULL")
    defer { select.reset() }
    try select.bind(personKey, at: 1)
    var found: [String] = []
    while try select.step() { found.append(select.string(at: 0)) }
    return found
  }

  /// The phone of the person's newest signature that has one: the number a phone or sms
  /// unsubscribe by email covers (nil for someone who never gave one).
  private func newestPhone(personKey: String) throws -> String? {
    let select = try connection.cachedStatement(
      """
      SELECT phone FROM signatures WHERE person_key = ?1 AND phone IS NOT NULL ORDER BY signed_at DESC, id DESC LIMIT 1
      """)
    defer { select.reset() }
    try select.bind(personKey, at: 1)
    return try select.step() ? select.optionalString(at: 0) : nil
  }

  public func consentHistory(_ subject: PersonSubject) throws(StoreError) -> [ConsentEvent] {
    try read(consistent: true) {
      let columns = "e.channel, e.granted, e.at, p.id, e.source, e.via, e.number, e.notice"
      let select: Statement
      switch subject {
      case .canonicalEmail(let personKey):
        select = try connection.cachedStatement(
          """
          SELECT \(columns) FROM consent_events AS e LEFT JOIN petitions AS p ON p.pk = e.petition
          WHERE e.person_key = ?1 ORDER BY e.at, e.id
          """)
        try select.bind(personKey, at: 1)
      case .phone(let phone):
        select = try connection.cachedStatement(
          """
          SELECT \(columns) FROM consent_events AS e LEFT JOIN petitions AS p ON p.pk = e.petition
          WHERE e.channel IN ('phone', 'sms') AND e.person_key IN (\(Self.personsWithPhone))
          ORDER BY e.at, e.id
          """)
        try select.bind(phone, at: 1)
      }
      defer { select.reset() }
      var events: [ConsentEvent] = []
      while try select.step() {
        events.append(
          ConsentEvent(
            channel: Channel(rawValue: select.string(at: 0)) ?? .email, granted: select.bool(at: 1),
            at: Timestamp(millisecondsSinceEpoch: select.int64(at: 2)), petitionID: select.optionalString(at: 3),
            source: select.optionalString(at: 4), via: ConsentVia(rawValue: select.string(at: 5)) ?? .sign,
            number: select.optionalString(at: 6), notice: select.optionalString(at: 7)))
      }
      return events
    }
  }

  // MARK: Signature rows

  /// Persons (canonical emails) with a phone: on a signature of theirs, or on a consent event.
  static let personsWithPhone = """
    SELECT person_key FROM signatures WHERE phone = ?1 AND person_key IS NOT NULL
    UNION SELECT person_key FROM consent_events WHERE number = ?1
    """

  /// The persons the store knows that a subject names: the canonical email, or everyone with
  /// the phone. (Nothing is stored about someone the store does not know.)
  func persons(_ subject: PersonSubject) throws -> [String] {
    switch subject {
    case .canonicalEmail(let personKey):
      let select = try connection.cachedStatement(
        """
        SELECT EXISTS (SELECT 1 FROM signatures WHERE person_key = ?1)
          OR EXISTS (SELECT 1 FROM consent_events WHERE person_key = ?1)
        """)
      defer { select.reset() }
      try select.bind(personKey, at: 1)
      try select.step()
      return select.bool(at: 0) ? [personKey] : []
    case .phone(let phone):
      let select = try connection.cachedStatement(Self.personsWithPhone + " ORDER BY 1")
      defer { select.reset() }
      try select.bind(phone, at: 1)
      var people: [String] = []
      while try select.step() { people.append(select.string(at: 0)) }
      return people
    }
  }

  /// Inserts the signature unless the person already signed this petition. Returns the new
  /// row id, or nil for a duplicate.
  private func insertSignature(_ new: NewSignatureRow, consent: OptInMask) throws -> Int64? {
    // Where the tail stood before this transaction's first new signature (see TallyTail).
    _ = try currentTallyTail()
    // SQLite gives a new row the largest row id plus one; past a floor (the ids of deleted
    // signatures that were the newest), the id is given explicitly.
    let floor = try currentSignatureIDFloor()
    let insert = try connection.cachedStatement(
      floor == 0
        ? """
        INSERT INTO signatures (
          petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source, signed_at,
          email_ok, phone_ok, sms_ok, status, token_hash, pending_opt_ins, pending_notice)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
        ON CONFLICT (person_key, petition) DO NOTHING
        """
        : """
        INSERT INTO signatures (
          petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source, signed_at,
          email_ok, phone_ok, sms_ok, status, token_hash, pending_opt_ins, pending_notice, id)
        VALUES (
          ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
          max(?19, coalesce((SELECT max(id) FROM signatures), 0)) + 1)
        ON CONFLICT (person_key, petition) DO NOTHING
        """)
    defer { insert.reset() }
    if floor != 0 { try insert.bind(floor, at: 19) }
    let signer = new.signer
    try insert.bind(new.petitionKey, at: 1)
    try insert.bind(signer.canonicalEmail, at: 2)
    try insert.bind(signer.email, at: 3)
    try insert.bind(signer.firstName, at: 4)
    try insert.bind(signer.lastName, at: 5)
    try insert.bind(signer.postalCode, at: 6)
    try insert.bind(signer.country, at: 7)
    try insert.bind(signer.phone, at: 8)
    try insert.bind(new.comment, at: 9)
    try insert.bind(new.source, at: 10)
    try insert.bind(new.signedAt, at: 11)
    try insert.bind(consent.contains(.email), at: 12)
    try insert.bind(consent.contains(.phone), at: 13)
    try insert.bind(consent.contains(.sms), at: 14)
    try insert.bind(new.status.rawValue, at: 15)
    try insert.bind(new.tokenHash, at: 16)
    try insert.bind(new.pendingOptIns, at: 17)
    try insert.bind(new.pendingNotice, at: 18)
    try insert.execute()
    return connection.changes == 1 ? connection.lastInsertedRowID : nil
  }

  /// `meta.signature_id_floor` (0 when there is none), read once per transaction: the
  /// transaction holds the write lock, so no other process changes it meanwhile.
  private func currentSignatureIDFloor() throws -> Int64 {
    if let signatureIDFloor { return signatureIDFloor }
    let select = try connection.cachedStatement("SELECT value FROM meta WHERE name = 'signature_id_floor'")
    defer { select.reset() }
    let floor = try select.step() ? select.int64(at: 0) : 0
    signatureIDFloor = floor
    return floor
  }

  private func existingSignature(petitionKey: Int64, personKey: String) throws -> (
    rowID: Int64, status: SignatureStatus, signedAt: Timestamp, pendingOptIns: OptInMask, pendingNotice: String?
  ) {
    let select = try connection.cachedStatement(
      """
      SELECT id, status, signed_at, pending_opt_ins, pending_notice FROM signatures
      WHERE person_key = ?2 AND petition = ?1
      """)
    defer { select.reset() }
    try select.bind(petitionKey, at: 1)
    try select.bind(personKey, at: 2)
    guard try select.step(), let status = SignatureStatus(rawValue: select.string(at: 1)) else {
      throw StoreError.unavailable("the store lost track of a signature it reported as existing")
    }
    return (
      select.int64(at: 0), status, Timestamp(millisecondsSinceEpoch: select.int64(at: 2)),
      OptInMask(rawValue: select.int64(at: 3)), select.optionalString(at: 4)
    )
  }

  // MARK: Consent

  /// The person's consent now, as cached on any of their signatures (all carry the same; nil
  /// when they have none), and, when `eventsAfter` is given, whether any consent event of theirs
  /// is dated after it. One statement: a sign with an opt-in asks both.
  private func consentProbe(personKey: String, eventsAfter time: Timestamp?) throws -> (
    known: OptInMask?, hasLaterEvent: Bool
  ) {
    let select = try connection.cachedStatement(
      time == nil
        ? "SELECT email_ok | (phone_ok << 1) | (sms_ok << 2), 0 FROM signatures WHERE person_key = ?1 LIMIT 1"
        : """
        SELECT (SELECT email_ok | (phone_ok << 1) | (sms_ok << 2) FROM signatures WHERE person_key = ?1 LIMIT 1),
          EXISTS (SELECT 1 FROM consent_events WHERE person_key = ?1 AND at > ?2)
        """)
    defer { select.reset() }
    try select.bind(personKey, at: 1)
    if let time { try select.bind(time.millisecondsSinceEpoch, at: 2) }
    guard try select.step(), !select.isNull(at: 0) else {
      // No signature: for the first form no row at all; the second always has one.
      return (nil, time != nil && !select.isNull(at: 1) && select.int(at: 1) == 1)
    }
    return (OptInMask(rawValue: select.int64(at: 0)), select.int(at: 1) == 1)
  }

  /// Records a granting event per channel (an explicit opt-in) and lifts the channel's
  /// suppression of the person's email and phone. `areNewest`: whether the caller already
  /// knows that no event of the person is dated after `time`; `rowsHaveConsent`: whether every
  /// signature of the person already carries the channels (their only one was just written
  /// with them).
  private func recordGrants(
    _ channels: Set<Channel>, personKey: String, phone: String?, petitionKey: Int64, source: String?,
    notice: String?, via: ConsentVia, at time: Timestamp, areNewest: Bool? = nil, rowsHaveConsent: Bool = false
  ) throws {
    for channel in Channel.allCases where channels.contains(channel) {
      try insertEvent(
        ConsentEvent(
          channel: channel, granted: true, at: time, petitionID: nil, source: source, via: via,
          number: channel == .email ? nil : phone, notice: notice),
        personKey: personKey, petitionKey: petitionKey)
    }
    try liftSuppression(channels, personKey: personKey, phone: phone)
    // Recorded last and dated `time`, these grants are the person's newest events for their
    // channels unless one is dated later (an import of future-dated rows, another process's
    // clock): then the consent is recomputed from all the events.
    if try areNewest ?? !hasEvent(of: personKey, after: time) {
      if !rowsHaveConsent { try addConsent(channels, personKey: personKey) }
    } else {
      try recomputeConsent(personKey: personKey)
    }
  }

  private func hasEvent(of personKey: String, after time: Timestamp) throws -> Bool {
    let select = try connection.cachedStatement(
      "SELECT EXISTS (SELECT 1 FROM consent_events WHERE person_key = ?1 AND at > ?2)")
    defer { select.reset() }
    try select.bind(personKey, at: 1)
    try select.bind(time.millisecondsSinceEpoch, at: 2)
    _ = try select.step()
    return select.int(at: 0) == 1
  }

  /// The person's signatures gain `channels` (rows that have them already are not rewritten).
  private func addConsent(_ channels: Set<Channel>, personKey: String) throws {
    let update = try connection.cachedStatement(
      """
      UPDATE signatures SET email_ok = email_ok OR ?2, phone_ok = phone_ok OR ?3, sms_ok = sms_ok OR ?4
      WHERE person_key = ?1 AND ((?2 AND NOT email_ok) OR (?3 AND NOT phone_ok) OR (?4 AND NOT sms_ok))
      """)
    defer { update.reset() }
    try update.bind(personKey, at: 1)
    try update.bind(channels.contains(.email), at: 2)
    try update.bind(channels.contains(.phone), at: 3)
    try update.bind(channels.contains(.sms), at: 4)
    try update.execute()
  }

  /// Inserts an event (its `petitionID` is ignored: `petitionKey` is stored).
  private func insertEvent(_ event: ConsentEvent, personKey: String, petitionKey: Int64?) throws {
    let insert = try connection.cachedStatement(
      """
      INSERT INTO consent_events (person_key, channel, granted, at, petition, source, via, number, notice)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
      """)
    defer { insert.reset() }
    try insert.bind(personKey, at: 1)
    try insert.bind(event.channel.rawValue, at: 2)
    try insert.bind(event.granted, at: 3)
    try insert.bind(event.at.millisecondsSinceEpoch, at: 4)
    try insert.bind(petitionKey, at: 5)
    try insert.bind(event.source, at: 6)
    try insert.bind(event.via.rawValue, at: 7)
    try insert.bind(event.number, at: 8)
    try insert.bind(event.notice, at: 9)
    try insert.execute()
  }

  private func hasEvent(_ event: ConsentEvent, personKey: String, petitionKey: Int64?) throws -> Bool {
    let select = try connection.cachedStatement(
      """
      SELECT 1 FROM consent_events
      WHERE person_key = ?1 AND channel = ?2 AND at = ?4 AND granted = ?3 AND petition IS ?5 AND source IS ?6
        AND via = ?7 AND number IS ?8 AND notice IS ?9
      LIMIT 1
      """)
    defer { select.reset() }
    try select.bind(personKey, at: 1)
    try select.bind(event.channel.rawValue, at: 2)
    try select.bind(event.granted, at: 3)
    try select.bind(event.at.millisecondsSinceEpoch, at: 4)
    try select.bind(petitionKey, at: 5)
    try select.bind(event.source, at: 6)
    try select.bind(event.via.rawValue, at: 7)
    try select.bind(event.number, at: 8)
    try select.bind(event.notice, at: 9)
    return try select.step()
  }

  /// The person's newest event per channel (a constant: built once, not on every call).
  private static let newestConsent: String = {
    let newest = "SELECT granted FROM consent_events WHERE person_key = ?1 AND channel = "
    let order = " ORDER BY at DESC, id DESC LIMIT 1"
    return """
      SELECT coalesce((\(newest)'email'\(order)), 0), coalesce((\(newest)'phone'\(order)), 0),
        coalesce((\(newest)'sms'\(order)), 0)
      """
  }()

  /// Sets the consent cached on the person's signatures to their newest remaining event per
  /// channel (by time; among equal times the one recorded last).
  func recomputeConsent(personKey: String) throws {
    let select = try connection.cachedStatement(Self.newestConsent)
    defer { select.reset() }
    try select.bind(personKey, at: 1)
    try select.step()
    let (email, phone, sms) = (select.int64(at: 0), select.int64(at: 1), select.int64(at: 2))
    select.reset()
    let update = try connection.cachedStatement(
      """
      UPDATE signatures SET email_ok = ?2, phone_ok = ?3, sms_ok = ?4
      WHERE person_key = ?1 AND (email_ok != ?2 OR phone_ok != ?3 OR sms_ok != ?4)
      """)
    defer { update.reset() }
    try update.bind(personKey, at: 1)
    try update.bind(email, at: 2)
    try update.bind(phone, at: 3)
    try update.bind(sms, at: 4)
    try update.execute()
  }

  // MARK: Suppression

  /// The HMAC under the store's suppression key, prepared once (read from the store the first
  /// time it is needed).
  private var suppressionHMAC: HMACSHA256 {
    get throws {
      if let suppressionKeyCache { return suppressionKeyCache }
      let select = try connection.cachedStatement("SELECT value FROM meta WHERE name = 'suppression_key'")
      defer { select.reset() }
      guard try select.step() else { throw StoreError.unavailable("the store has no suppression key") }
      let hmac = HMACSHA256(key: select.blob(at: 0))
      suppressionKeyCache = hmac
      return hmac
    }
  }

  func suppressionHash(email canonicalEmail: String) throws -> [UInt8] {
    try suppressionHMAC.authenticate(Array(("email:" + canonicalEmail).utf8))
  }

  func suppressionHash(phone: String) throws -> [UInt8] {
    try suppressionHMAC.authenticate(Array(("phone:" + phone).utf8))
  }

  func suppress(_ hash: [UInt8], _ channel: Channel) throws {
    let insert = try connection.cachedStatement(
      // An entry already there is written again: an unsubscribe then commits (and syncs) as
      // much for someone the store does not know as for someone it knows, so its time does not
      // tell them apart.
      """
      INSERT INTO suppressions (hash, channel) VALUES (?1, ?2)
      ON CONFLICT (hash, channel) DO UPDATE SET channel = excluded.channel
      """)
    defer { insert.reset() }
    try insert.bind(blob: hash, at: 1)
    try insert.bind(channel.rawValue, at: 2)
    try insert.execute()
    suppressionsExist = true
  }

  /// Lifts the suppression of `channels` for the person's email and phone. Nothing to hash or
  /// delete while the list is empty (most stores, most of the time); the write transaction
  /// holds the store's write lock, so no other process adds an entry meanwhile.
  private func liftSuppression(_ channels: Set<Channel>, personKey: String, phone: String?) throws {
    guard !channels.isEmpty, try hasSuppressions() else { return }
    // One statement per hash: `hash IN (?1, ?2)` would build a lookup table on every run.
    let delete = try connection.cachedStatement("DELETE FROM suppressions WHERE hash = ?1 AND channel = ?2")
    defer { delete.reset() }
    let hashes = [try suppressionHash(email: personKey)] + (try phone.map { [try suppressionHash(phone: $0)] } ?? [])
    for channel in Channel.allCases where channels.contains(channel) {
      for hash in hashes {
        try delete.bind(blob: hash, at: 1)
        try delete.bind(channel.rawValue, at: 2)
        try delete.execute()
        delete.reset()
      }
    }
  }

  private func isSuppressed(_ channel: Channel, personKey: String, phone: String?) throws -> Bool {
    guard try hasSuppressions() else { return false }
    let select = try connection.cachedStatement("SELECT 1 FROM suppressions WHERE hash = ?1 AND channel = ?2")
    defer { select.reset() }
    // The email channel belongs to the email alone: a phone suppressed by someone's erasure
    // does not stop another person who shares it from being emailed.
    let phoneHash = channel == .email ? nil : try phone.map { try suppressionHash(phone: $0) }
    for hash in [try suppressionHash(email: personKey)] + (phoneHash.map { [$0] } ?? []) {
      try select.bind(blob: hash, at: 1)
      try select.bind(channel.rawValue, at: 2)
      if try select.step() { return true }
      select.reset()
    }
    return false
  }

  /// Asked by every sign with an opt-in; read once per write transaction (see
  /// `suppressionsExist`), set by `suppress`. Lifting entries leaves it true: then the next
  /// lookups only find nothing.
  private func hasSuppressions() throws -> Bool {
    if let suppressionsExist { return suppressionsExist }
    let select = try connection.cachedStatement("SELECT EXISTS (SELECT 1 FROM suppressions)")
    defer { select.reset() }
    _ = try select.step()
    let exist = select.int(at: 0) == 1
    if connection.isInsideTransaction { suppressionsExist = exist }
    return exist
  }
}

/// A signature about to be inserted.
struct NewSignatureRow {
  var petitionKey: Int64
  var signer: Signer
  var comment: String?
  var source: String?
  var signedAt: Int64
  var status: SignatureStatus
  var tokenHash: String?
  var pendingOptIns: Int64
  var pendingNotice: String?
}

/// Channels as bits, for the opt-ins a pending signature will record when confirmed.
struct OptInMask: OptionSet {
  var rawValue: Int64
  static let email = OptInMask(rawValue: 1)
  static let phone = OptInMask(rawValue: 2)
  static let sms = OptInMask(rawValue: 4)

  init(rawValue: Int64) { self.rawValue = rawValue }

  init(_ channels: Set<Channel>) {
    rawValue = 0
    if channels.contains(.email) { insert(.email) }
    if channels.contains(.phone) { insert(.phone) }
    if channels.contains(.sms) { insert(.sms) }
  }

  var channels: Set<Channel> {
    var channels: Set<Channel> = []
    if contains(.email) { channels.insert(.email) }
    if contains(.phone) { channels.insert(.phone) }
    if contains(.sms) { channels.insert(.sms) }
    return channels
  }
}
