import Petitions

extension PostgresStore {
  public func sign(_ signing: Signing, at time: Timestamp, newToken: () -> ConfirmationToken) throws(StoreError)
    -> SignOutcome
  {
    try write(tallied: true) {
      try knowPetition(signing.petitionID)
      let call = prepareSign(signing, at: time, newToken: newToken)
      let result = try connection.query(Self.signSQL, call.parameters)
      var confirmedBefore: [Int64: Int] = [:]
      return try signOutcome(result, call, at: time, confirmedBefore: &confirmedBefore)
    }
  }

  /// Signs of a write group, each answered exactly as `sign` alone would answer it. Runs of
  /// signs into petitions that take signatures without confirmation go as one set-based call
  /// (`sign_batch`); runs into petitions that confirm by email go in one round trip each batch
  /// (libpq's pipeline mode). Outside a group, or for a petition whose goal is not reached yet
  /// (its moment is recorded from the count each sign sees), the signs go one at a time.
  /// The petitions' transaction locks (those `sign_petition`, `sign_batch`, imports, status
  /// changes and `petition.close` take) in key order.
  public func lockPetitions(_ ids: [String]) throws(StoreError) {
    guard ids.count > 1 else { return }
    try write(tallied: true) {
      try connection.query(
        """
        SELECT pg_advisory_xact_lock(1886352498, s.pk::integer)
        FROM (SELECT pk FROM petitions WHERE id = ANY ($1::text[]) ORDER BY pk OFFSET 0) AS s
        """, [Self.arrayLiteral(ids)])
    }
  }

  public func signMany(_ signings: [Signing], at time: Timestamp, newToken: () -> ConfirmationToken)
    -> [Result<SignOutcome, StoreError>]
  {
    func one(_ signing: Signing) -> Result<SignOutcome, StoreError> {
      do throws(StoreError) { return .success(try sign(signing, at: time, newToken: newToken)) } catch {
        return .failure(error)
      }
    }
    guard isInsideWriteGroup, signings.count > 1 else { return signings.map(one) }
    do throws(StoreError) {
      try write(tallied: true) {
        let petitions = Set(signings.map(\.petitionID))
        for id in petitions { try knowPetition(id, refreshingGoal: true) }
        // Signs into several petitions take the petitions' locks in key order first: taken sign
        // by sign, in the order the signs came, two servers signing into a then b and b then a
        // waited for each other (PostgreSQL's deadlock error, the whole group -32000).
        let keys = petitions.compactMap { knownPetitions[$0]?.key }.sorted()
        if keys.count > 1 {
          try connection.query(
            "SELECT pg_advisory_xact_lock(1886352498, k::integer) FROM unnest($1::bigint[]) AS k",
            ["{" + keys.map(String.init).joined(separator: ",") + "}"])
        }
      }
    } catch {
      return signings.map { _ in .failure(error) }
    }
    var outcomes: [Result<SignOutcome, StoreError>] = []
    outcomes.reserveCapacity(signings.count)
    var start = 0
    while start < signings.count {
      let way = signingWay(signings[start].petitionID)
      let limit = way == .batched ? Self.signsPerBatch : Self.signsPerPipeline
      var end = start + 1
      while end < signings.count, end - start < limit, signingWay(signings[end].petitionID) == way { end += 1 }
      let run = Array(signings[start..<end])
      start = end
      if way == .alone || run.count < 2 {
        outcomes += run.map(one)
        continue
      }
      if way == .batched, let batched = signBatch(run, at: time) {
        outcomes += batched
        continue
      }
      outcomes += signPipelined(run, at: time, newToken: newToken)
    }
    return outcomes
  }

  /// How a sign into a petition can go with others of its write group.
  private enum SigningWay { case batched, pipelined, alone }

  private func signingWay(_ petitionID: String) -> SigningWay {
    guard let known = knownPetitions[petitionID], goalReached.contains(known.key) else { return .alone }
    return known.confirmation == ConfirmationMode.none ? .batched : .pipelined
  }

  /// Signs into petitions without confirmation in one call of `sign_batch`; nil when a
  /// petition of the batch is no longer open (nothing was written: the caller goes on one at a
  /// time, so each sign gets its own answer).
  private func signBatch(_ batch: [Signing], at time: Timestamp) -> [Result<SignOutcome, StoreError>]? {
    do throws(StoreError) {
      return try write(tallied: true) { () throws -> [Result<SignOutcome, StoreError>]? in
        var keys: [String?] = []
        var columns = Array(repeating: [String?](), count: 9)
        for index in columns.indices { columns[index].reserveCapacity(batch.count) }
        keys.reserveCapacity(batch.count)
        // One consent event per sign and channel opted in to, and the suppression entries the
        // opt-ins lift.
        var events = Array(repeating: [String?](), count: 6)
        var lifted = Array(repeating: [String?](), count: 2)
        for signing in batch {
          let signer = signing.signer
          keys.append(knownPetitions[signing.petitionID].map { String($0.key) })
          columns[0].append(signer.canonicalEmail)
          columns[1].append(signer.email)
          columns[2].append(signer.firstName)
          columns[3].append(signer.lastName)
          columns[4].append(signer.postalCode)
          columns[5].append(signer.country)
          columns[6].append(signer.phone)
          columns[7].append(signing.comment)
          columns[8].append(signing.source)
          guard !signing.optIns.isEmpty else { continue }
          let emailHash = suppressionHash(email: signer.canonicalEmail)
          let phoneHash = signer.phone.map { suppressionHash(phone: $0) }
          for channel in Channel.allCases where signing.optIns.contains(channel) {
            events[0].append(signer.canonicalEmail)
            events[1].append(channel.rawValue)
            events[2].append(signing.petitionID)
            events[3].append(signing.source)
            events[4].append(channel == .email ? nil : signer.phone)
            events[5].append(signing.notice)
            for hash in [emailHash, phoneHash] {
              guard let hash else { continue }
              lifted[0].append(hash)
              lifted[1].append(channel.rawValue)
            }
          }
        }
        var parameters = [Self.arrayLiteral(keys)]
        parameters += columns.map { Self.arrayLiteral($0) }
        parameters.append(String(time.millisecondsSinceEpoch))
        parameters += events.map { Self.arrayLiteral($0) }
        parameters += lifted.map { Self.arrayLiteral($0) }
        let result = try connection.query(Self.signBatchSQL, parameters)
        guard result.rowCount > 0 else { return nil }
        // What the batch found: each petition's count before it, the signatures it added, and
        // (when some signs were not new) the signature every person of the batch has.
        struct Person: Hashable {
          var petition: Int64
          var key: String
        }
        var countBefore: [Int64: Int] = [:]
        var added: [Person: Int64] = [:]
        var existing: [Person: (id: Int64, status: String)] = [:]
        added.reserveCapacity(batch.count)
        for row in 0..<result.rowCount {
          let petition = result.int64(row, 2)
          switch result.int(row, 0) {
          case 2: countBefore[petition] = result.int(row, 1)
          case 0: added[Person(petition: petition, key: result.string(row, 3))] = result.int64(row, 1)
          default:
            existing[Person(petition: petition, key: result.string(row, 3))] = (
              result.int64(row, 1), result.string(row, 4)
            )
          }
        }
        signsSentInBatches += batch.count
        var outcomes: [Result<SignOutcome, StoreError>] = []
        outcomes.reserveCapacity(batch.count)
        for signing in batch {
          guard let petitionKey = knownPetitions[signing.petitionID]?.key else {
            outcomes.append(.failure(.unavailable("a signed petition was not in the batch")))
            continue
          }
          let person = Person(petition: petitionKey, key: signing.signer.canonicalEmail)
          // The first sign of a person added in this batch is new; a later one is its duplicate.
          let isNew =
            added.removeValue(forKey: person).map { id in
              existing[person] = (id, SignatureStatus.confirmed.rawValue)
              return true
            } ?? false
          guard let signature = existing[person], let status = SignatureStatus(rawValue: signature.status) else {
            outcomes.append(.failure(.unavailable("the store did not answer for a signature of the batch")))
            continue
          }
          if isNew {
            deltas.addConfirmed(
              petitionKey, signedAt: time, postalCode: signing.signer.postalCode, country: signing.signer.country,
              source: signing.source)
          }
          // The count after this sign: the counters before the batch and this transaction's
          // signatures not in them yet (this one included).
          outcomes.append(
            .success(
              SignOutcome(
                signatureID: SignatureID.make(rowID: signature.id), petitionID: signing.petitionID,
                isDuplicate: !isNew, status: status,
                count: countBefore[petitionKey, default: 0] + deltas.confirmed(petitionKey))))
        }
        return outcomes
      }
    } catch {
      return batch.map { _ in .failure(error) }
    }
  }

  /// Signs into petitions that confirm by email, in one round trip per batch.
  private func signPipelined(_ batch: [Signing], at time: Timestamp, newToken: () -> ConfirmationToken)
    -> [Result<SignOutcome, StoreError>]
  {
    do throws(StoreError) {
      return try write(tallied: true) {
        let calls = batch.map { prepareSign($0, at: time, newToken: newToken) }
        let results = try connection.pipelined(Self.signSQL, calls.map(\.parameters))
        var confirmedBefore: [Int64: Int] = [:]
        return zip(results, calls).map { result, call in
          do { return .success(try signOutcome(result, call, at: time, confirmedBefore: &confirmedBefore)) } catch {
            return .failure(storeError(error))
          }
        }
      }
    } catch {
      return batch.map { _ in .failure(error) }
    }
  }

  /// Signs sent in one pipeline: their answers (~100 bytes each) must fit in the socket buffers
  /// until they are read.
  static let signsPerPipeline = 256

  /// Signs in one `sign_batch` call: its arrays are one statement's parameters.
  static let signsPerBatch = 2_000

  static let signBatchSQL = """
    SELECT kind, sign_id, sign_petition, sign_person, sign_status
    FROM sign_batch(
      $1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
      $10::text[], $11, $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
      $19::text[])
    """

  static let signSQL = """
    SELECT code, signature, status, total, token_used, petition_key
    FROM sign_petition($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
    """

  /// A sign about to be sent: its parameters and what its answer needs.
  struct PreparedSign {
    var signing: Signing
    var token: ConfirmationToken?
    var parameters: [String?]
  }

  /// Remembers the petition's key and confirmation mode (fixed at creation; a petition not found
  /// is looked up again next time), and whether its goal is still to be reached (once reached,
  /// it stays reached).
  func knowPetition(_ id: String, refreshingGoal: Bool = false) throws {
    if let known = knownPetitions[id], !refreshingGoal || goalReached.contains(known.key) { return }
    let row = try connection.query(
      "SELECT pk, confirmation, goal IS NULL OR goal_reached_at IS NOT NULL FROM petitions WHERE id = $1", [id])
    guard row.rowCount == 1, let confirmation = ConfirmationMode(rawValue: row.string(0, 1)) else { return }
    let key = row.int64(0, 0)
    knownPetitions[id] = (key, confirmation)
    if row.bool(0, 2) { goalReached.insert(key) }
  }

  private func isPipelinable(_ petitionID: String) -> Bool {
    guard let known = knownPetitions[petitionID] else { return false }
    return goalReached.contains(known.key)
  }

  /// The parameters of `sign_petition` for one sign; `extra` is this transaction's confirmed
  /// signatures not yet in the counters (a pipelined batch adds its own in `signOutcome`).
  private func prepareSign(_ signing: Signing, at time: Timestamp, newToken: () -> ConfirmationToken)
    -> PreparedSign
  {
    let known = knownPetitions[signing.petitionID]
    // A token is made only for a petition that confirms by email; the function uses it for a
    // new pending signature or a pending duplicate.
    let token: ConfirmationToken? = known?.confirmation == .email ? newToken() : nil
    let signer = signing.signer
    let optIns = Self.bits(signing.optIns)
    // The suppression entries an opt-in lifts (hashed only when there is an opt-in).
    let emailHash = optIns == 0 ? nil : suppressionHash(email: signer.canonicalEmail)
    let phoneHash = optIns == 0 ? nil : signer.phone.map { suppressionHash(phone: $0) }
    let extra = known.map { deltas.confirmed($0.key) } ?? 0
    return PreparedSign(
      signing: signing, token: token,
      parameters: [
        signing.petitionID, signer.canonicalEmail, signer.email, signer.firstName, signer.lastName,
        signer.postalCode, signer.country, signer.phone, signing.comment, signing.source,
        String(time.millisecondsSinceEpoch), String(optIns), signing.notice, token?.hash, emailHash, phoneHash,
        String(extra),
      ])
  }

  /// Reads `sign_petition`'s answer, adds a new signature to `deltas`, and answers the count
  /// with the earlier confirmed signatures of the same batch (`confirmedBefore`, per petition).
  private func signOutcome(
    _ result: PGResult, _ call: PreparedSign, at time: Timestamp, confirmedBefore: inout [Int64: Int]
  ) throws -> SignOutcome {
    let signing = call.signing
    let code = result.int(0, 0)
    switch code {
    case 2: throw StoreError.petitionNotFound(signing.petitionID)
    case 3: throw StoreError.petitionClosed(signing.petitionID)
    default: break
    }
    guard let status = SignatureStatus(rawValue: result.string(0, 2)) else {
      throw StoreError.unavailable("the store holds a signature with an unknown status")
    }
    let petitionKey = result.int64(0, 5)
    let count = result.int(0, 3) + confirmedBefore[petitionKey, default: 0]
    if code == 0 {
      if status == .pending {
        deltas.addPending(petitionKey)
      } else {
        confirmedBefore[petitionKey, default: 0] += 1
        deltas.addConfirmed(
          petitionKey, signedAt: time, postalCode: signing.signer.postalCode, country: signing.signer.country,
          source: signing.source)
      }
    }
    return SignOutcome(
      signatureID: SignatureID.make(rowID: result.int64(0, 1)), petitionID: signing.petitionID,
      isDuplicate: code == 1, status: status, count: count,
      confirmToken: result.bool(0, 4) ? call.token?.token : nil)
  }

  public func confirm(tokenHash: String, at time: Timestamp) throws(StoreError) -> ConfirmOutcome {
    try write {
      let found = try connection.query(
        """
        SELECT s.id, s.status, s.person_key, s.phone, s.source, s.pending_opt_ins, s.pending_notice, p.id, p.pk,
          p.closed_at
        FROM signatures AS s JOIN petitions AS p ON p.pk = s.petition
        WHERE s.token_hash = $1 FOR UPDATE OF s
        """, [tokenHash])
      guard found.rowCount == 1 else { throw StoreError.tokenUnknown }
      let signatureKey = found.string(0, 0)
      let petitionID = found.string(0, 7)
      let petitionKey = found.string(0, 8)
      let signatureID = SignatureID.make(rowID: found.int64(0, 0))
      guard found.string(0, 1) == "pending" else {
        let status = SignatureStatus(rawValue: found.string(0, 1)) ?? .confirmed
        let count = try connection.query("SELECT confirmed_count($1)", [petitionKey]).int(0, 0)
        return ConfirmOutcome(signatureID: signatureID, petitionID: petitionID, status: status, count: count)
      }
      if let closedAt = found.optionalInt64(0, 9),
        time.millisecondsSinceEpoch > closedAt + confirmationGraceMilliseconds
      {
        throw StoreError.petitionClosed(petitionID)
      }
      try connection.query(
        "UPDATE signatures SET status = 'confirmed', pending_opt_ins = 0, pending_notice = NULL WHERE id = $1",
        [signatureKey])
      let bits = found.int(0, 5)
      if bits != 0, let person = found.optionalString(0, 2) {
        let phone = found.optionalString(0, 3)
        // One group of grants per wording shown (see PendingNotices).
        for group in PendingNotices.groups(Set(Self.channels(bits: bits)), in: found.optionalString(0, 6)) {
          try connection.query(
            "SELECT record_consent($1, $2, true, $3, $4, $5, 'confirm', $6, $7)",
            [
              person, String(Self.bits(group.channels)), String(time.millisecondsSinceEpoch), petitionID,
              found.optionalString(0, 4), phone, group.notice,
            ])
        }
        try connection.query(
          "SELECT lift_suppression($1, $2, $3)",
          [String(bits), suppressionHash(email: person), phone.map { suppressionHash(phone: $0) }])
      }
      let count = try connection.query(
        "SELECT note_goal($1, $2)", [petitionKey, String(time.millisecondsSinceEpoch)]
      ).int(0, 0)
      return ConfirmOutcome(signatureID: signatureID, petitionID: petitionID, status: .confirmed, count: count)
    }
  }

  public func importSignature(_ row: ImportedSigning, at time: Timestamp) throws(StoreError) -> ImportRowOutcome {
    try write(tallied: true) {
      let signer = row.signer
      var grants = 0
      var withholds = 0
      for (channel, granted) in row.optIns {
        if granted { grants |= Self.bits([channel]) } else { withholds |= Self.bits([channel]) }
      }
      let emailHash = grants == 0 ? nil : suppressionHash(email: signer.canonicalEmail)
      let phoneHash = grants == 0 ? nil : signer.phone.map { suppressionHash(phone: $0) }
      let extra = knownPetitions[row.petitionID].map { deltas.confirmed($0.key) } ?? 0
      let result = try connection.query(
        "SELECT code, petition_key FROM import_signature($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        [
          row.petitionID, signer.canonicalEmail, signer.email, signer.firstName, signer.lastName, signer.postalCode,
          signer.country, signer.phone, row.comment, row.source,
          row.hasOwnTime ? String(row.signedAt.millisecondsSinceEpoch) : nil,
          String(grants), String(withholds), emailHash, phoneHash, String(time.millisecondsSinceEpoch), String(extra),
        ])
      switch result.int(0, 0) {
      case 0:
        let petitionKey = result.int64(0, 1)
        if knownPetitions[row.petitionID] == nil {
          // First import into this petition in this process: its key is known now, and any
          // earlier tallies of it are under that key already.
          let mode = try connection.query("SELECT confirmation FROM petitions WHERE pk = $1", [String(petitionKey)])
          if mode.rowCount == 1, let confirmation = ConfirmationMode(rawValue: mode.string(0, 0)) {
            knownPetitions[row.petitionID] = (petitionKey, confirmation)
          }
        }
        deltas.addConfirmed(
          petitionKey, signedAt: row.signatureTime(calledAt: time), postalCode: signer.postalCode,
          country: signer.country, source: row.source)
        return .imported
      case 1: return .duplicate
      case 2: throw StoreError.petitionNotFound(row.petitionID)
      default: throw StoreError.petitionClosed(row.petitionID)
      }
    }
  }
}

extension PostgresStore {
  /// Imported rows in one `import_batch` call per run of rows into one petition (up to
  /// `signsPerBatch`), each answered as `importSignature` would answer it.
  public func importMany(_ rows: [ImportedSigning], at time: Timestamp) -> [Result<ImportRowOutcome, StoreError>] {
    var outcomes: [Result<ImportRowOutcome, StoreError>] = []
    outcomes.reserveCapacity(rows.count)
    var start = 0
    while start < rows.count {
      var end = start + 1
      while end < rows.count, end - start < Self.signsPerBatch, rows[end].petitionID == rows[start].petitionID {
        end += 1
      }
      let run = Array(rows[start..<end])
      start = end
      do throws(StoreError) {
        outcomes += try write(tallied: true) { try importBatch(run, at: time) }
      } catch {
        outcomes.append(.failure(error))
        return outcomes
      }
    }
    return outcomes
  }

  /// One `import_batch` call for rows of one petition.
  private func importBatch(_ batch: [ImportedSigning], at time: Timestamp) throws -> [Result<
    ImportRowOutcome, StoreError
  >] {
    let petitionID = batch[0].petitionID
    var columns = Array(repeating: [String?](), count: 10)
    for index in columns.indices { columns[index].reserveCapacity(batch.count) }
    // One consent event per row and opt-in column given (its 1-based place in the batch), with
    // the hashes a grant is checked against.
    var events = Array(repeating: [String?](), count: 5)
    for (index, row) in batch.enumerated() {
      let signer = row.signer
      columns[0].append(signer.canonicalEmail)
      columns[1].append(signer.email)
      columns[2].append(signer.firstName)
      columns[3].append(signer.lastName)
      columns[4].append(signer.postalCode)
      columns[5].append(signer.country)
      columns[6].append(signer.phone)
      columns[7].append(row.comment)
      columns[8].append(row.source)
      // NULL: signed at the call's time, consent at the signature's (see ImportedSigning.hasOwnTime).
      columns[9].append(row.hasOwnTime ? String(row.signedAt.millisecondsSinceEpoch) : nil)
      guard !row.optIns.isEmpty else { continue }
      let grants = row.optIns.values.contains(true)
      let emailHash = grants ? suppressionHash(email: signer.canonicalEmail) : nil
      let phoneHash = grants ? signer.phone.map { suppressionHash(phone: $0) } : nil
      for channel in Channel.allCases {
        guard let granted = row.optIns[channel] else { continue }
        events[0].append(String(index + 1))
        events[1].append(channel.rawValue)
        events[2].append(granted ? "t" : "f")
        events[3].append(granted ? emailHash : nil)
        // The email channel belongs to the email alone (see is_suppressed, migration 11).
        events[4].append(granted && channel != .email ? phoneHash : nil)
      }
    }
    let extra = knownPetitions[petitionID].map { deltas.confirmed($0.key) } ?? 0
    let parameters: [String?] =
      [petitionID, String(time.millisecondsSinceEpoch), String(extra)] + columns.map { Self.arrayLiteral($0) }
      + events.map { Self.arrayLiteral($0) }
    let result = try connection.query(Self.importBatchSQL, parameters)
    if result.rowCount == 1, result.int(0, 0) != 0 {
      let failure: StoreError =
        result.int(0, 0) == 2 ? .petitionNotFound(petitionID) : .petitionClosed(petitionID)
      return [.failure(failure)]
    }
    var added = Set<String>()
    var petitionKey: Int64?
    for row in 0..<result.rowCount {
      petitionKey = result.int64(row, 1)
      added.insert(result.string(row, 2))
    }
    if let petitionKey, knownPetitions[petitionID] == nil {
      // First import into this petition in this process: its key is known now.
      let mode = try connection.query("SELECT confirmation FROM petitions WHERE pk = $1", [String(petitionKey)])
      if mode.rowCount == 1, let confirmation = ConfirmationMode(rawValue: mode.string(0, 0)) {
        knownPetitions[petitionID] = (petitionKey, confirmation)
      }
    }
    return batch.map { row in
      // The first row of a person added by this batch is new; a later one is its duplicate.
      guard let petitionKey, added.remove(row.signer.canonicalEmail) != nil else { return .success(.duplicate) }
      deltas.addConfirmed(
        petitionKey, signedAt: row.signatureTime(calledAt: time), postalCode: row.signer.postalCode,
        country: row.signer.country, source: row.source)
      return .success(.imported)
    }
  }

  static let importBatchSQL = """
    SELECT out_kind, out_petition, out_person
    FROM import_batch(
      $1, $2, $3, $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
      $12::text[], $13::bigint[], $14::bigint[], $15::text[], $16::boolean[], $17::text[], $18::text[])
    """
}
