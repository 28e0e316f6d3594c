import Petitions

/// Anonymisation deleted the petition's pending signatures; one that was invalidated while
/// pending kept its row (without its data or token) and must not come back as pending: it
/// could never be confirmed nor deleted. Such members stay invalidated.
extension PetitionStore {
  static func notPendingOfAnonymised(_ priorStatus: String, petition: String) -> String {
    "(\(priorStatus) <> 'pending' OR NOT EXISTS (SELECT 1 FROM petitions WHERE pk = \(petition) AND anonymised_at IS NOT NULL))"
  }
}

extension PostgresStore {
  static let invalidationPrefix = "inv_"

  public func invalidate(_ invalidation: Invalidation, at time: Timestamp) throws(StoreError) -> InvalidationOutcome {
    let match = invalidation.match
    let rowIDs: [String?]? = match.signatureIDs.map { ids in ids.compactMap { SignatureID.rowID($0).map { String($0) } }
    }
    let parameters: [String?] = [
      invalidation.petitionID,
      rowIDs.map { Self.arrayLiteral($0) }, match.canonicalEmail, match.phone, match.postalCode, match.source,
      match.window.since.map { String($0.millisecondsSinceEpoch) },
      match.window.until.map { String($0.millisecondsSinceEpoch) },
    ]
    let matching = """
      FROM signatures AS s
      WHERE s.petition = $1 AND s.status IN ('pending', 'confirmed')
        AND ($2::bigint[] IS NULL OR s.id = ANY ($2::bigint[]))
        AND ($3::text IS NULL OR s.person_key = $3)
        AND ($4::text IS NULL OR s.phone = $4)
        AND ($5::text IS NULL OR s.postal_code = $5)
        AND ($6::text IS NULL OR s.source = $6)
        AND ($7::bigint IS NULL OR s.signed_at >= $7)
        AND ($8::bigint IS NULL OR s.signed_at < $8)
      """
    if invalidation.dryRun {
      return try read(consistent: true) {
        let key = try petitionRow(id: invalidation.petitionID)
        var values = parameters
        values[0] = String(key.key)
        let counted = try connection.query("SELECT count(*) \(matching)", values).int(0, 0)
        return InvalidationOutcome(invalidationID: nil, invalidated: counted, count: key.petition.count)
      }
    }
    return try write {
      let key = try petitionRow(id: invalidation.petitionID).key
      var values = parameters
      values[0] = String(key)
      let record = try connection.query(
        "INSERT INTO invalidations (petition, reason, match, invalidated, at) VALUES ($1, $2, $3, 0, $4) RETURNING id",
        [String(key), invalidation.reason, invalidation.matchDescription, String(time.millisecondsSinceEpoch)]
      ).string(0, 0)
      values.append(record)
      let changed = try connection.query(
        """
        WITH chosen AS (SELECT s.id, s.status \(matching) FOR UPDATE OF s),
        kept AS (
          INSERT INTO invalidated_signatures (invalidation, signature, prior_status)
          SELECT $9, id, status FROM chosen RETURNING signature)
        UPDATE signatures SET status = 'invalidated' WHERE id IN (SELECT signature FROM kept)
        """, values
      ).affectedRows
      try connection.query("UPDATE invalidations SET invalidated = $2 WHERE id = $1", [record, String(changed)])
      let count = try connection.query("SELECT confirmed_count($1)", [String(key)]).int(0, 0)
      return InvalidationOutcome(
        invalidationID: Self.invalidationPrefix + record, invalidated: changed, count: count)
    }
  }

  public func invalidations(petitionID: String) throws(StoreError) -> [InvalidationRecord] {
    try read(consistent: true) {
      let key = try petitionRow(id: petitionID).key
      let result = try connection.query(
        """
        SELECT i.id, i.reason, i.match, i.invalidated, i.at, i.revalidated
        FROM invalidations AS i WHERE i.petition = $1 ORDER BY i.at, i.id
        """, [String(key)])
      return (0..<result.rowCount).map { row in
        InvalidationRecord(
          invalidationID: Self.invalidationPrefix + result.string(row, 0), reason: result.string(row, 1),
          matchDescription: result.string(row, 2), invalidated: result.int(row, 3), revalidated: result.int(row, 5),
          at: Timestamp(millisecondsSinceEpoch: result.int64(row, 4)))
      }
    }
  }

  public func revalidate(petitionID: String, _ target: RevalidationTarget, at time: Timestamp) throws(StoreError)
    -> RevalidationOutcome
  {
    try write {
      let key = String(try petitionRow(id: petitionID).key)
      // The members to undo: each signature's newest invalidation not yet undone, while the
      // signature is still invalidated.
      let members: String
      var parameters: [String?] = [key]
      switch target {
      case .invalidation(let id):
        guard id.hasPrefix(Self.invalidationPrefix), let number = Int64(id.dropFirst(Self.invalidationPrefix.count)),
          try connection.query("SELECT 1 FROM invalidations WHERE id = $1 AND petition = $2", [String(number), key])
            .rowCount == 1
        else { throw StoreError.invalidationNotFound(id) }
        parameters.append(String(number))
        members = "m.invalidation = $2"
      case .signatures(let ids):
        let rowIDs = ids.compactMap { SignatureID.rowID($0).map { String($0) } }
        parameters.append(Self.arrayLiteral(rowIDs))
        members = "m.signature = ANY ($2::bigint[])"
      }
      let changed = try connection.query(
        """
        WITH undone AS (
          UPDATE invalidated_signatures AS m SET revalidated = true
          FROM signatures AS s
          WHERE \(members) AND NOT m.revalidated AND s.id = m.signature AND s.petition = $1
            AND s.status = 'invalidated' AND \(Self.notPendingOfAnonymised("m.prior_status", petition: "$1"))
          RETURNING m.invalidation, m.signature, m.prior_status),
        restored AS (
          UPDATE signatures AS s SET status = u.prior_status FROM undone AS u WHERE s.id = u.signature RETURNING s.id),
        tallied AS (
          UPDATE invalidations AS i SET revalidated = i.revalidated + u.n
          FROM (SELECT invalidation, count(*) AS n FROM undone GROUP BY invalidation) AS u
          WHERE i.id = u.invalidation)
        SELECT count(*) FROM restored
        """, parameters
      ).int(0, 0)
      let count = try connection.query("SELECT note_goal($1, $2)", [key, String(time.millisecondsSinceEpoch)]).int(0, 0)
      return RevalidationOutcome(revalidated: changed, count: count)
    }
  }
}
