import Petitions

extension PostgresStore {
  public func count(_ query: CountQuery) throws(StoreError) -> CountResult {
    if query.grouping == nil && query.window.since == nil && query.window.until == nil {
      // O(1) in the number of signatures: one counter row per writing connection.
      return try read {
        let result = try connection.query(
          "SELECT confirmed_count(pk), goal FROM petitions WHERE id = $1", [query.petitionID])
        guard result.rowCount == 1 else { throw StoreError.petitionNotFound(query.petitionID) }
        return CountResult(
          petitionID: query.petitionID, total: result.int(0, 0), goal: result.optionalInt64(0, 1).map { Int($0) },
          groups: nil)
      }
    }
    // One snapshot: the total and the groups agree even while other processes sign.
    return try read(consistent: true) {
      let petition = try petitionRow(id: query.petitionID)
      let key = String(petition.key)
      let hasWindow = query.window.since != nil || query.window.until != nil
      let since = query.window.since.map { String($0.millisecondsSinceEpoch) }
      let until = query.window.until.map { String($0.millisecondsSinceEpoch) }
      let windowFilter = """
        petition = $1 AND status = 'confirmed' AND ($2::bigint IS NULL OR signed_at >= $2)
          AND ($3::bigint IS NULL OR signed_at < $3)
        """
      let total =
        hasWindow
        ? try connection.query("SELECT count(*) FROM signatures WHERE \(windowFilter)", [key, since, until]).int(0, 0)
        : petition.petition.count
      var groups: [(key: String, count: Int)]?
      if let grouping = query.grouping {
        let result: PGResult
        if !hasWindow {
          // From the maintained aggregates: as many rows as keys (times writing connections).
          result = try connection.query(
            """
            SELECT key, sum(n)::bigint FROM group_counts WHERE petition = $1 AND dimension = $2
            GROUP BY key HAVING sum(n) <> 0
            """, [key, String(Self.dimension(grouping))])
        } else {
          let expression =
            switch grouping {
            case .day: "day_number(signed_at)::text"
            case .postalCode: "postal_code"
            case .country: "country"
            case .source: "coalesce(source, '')"
            }
          result = try connection.query(
            "SELECT \(expression) AS key, count(*) FROM signatures WHERE \(windowFilter) GROUP BY 1",
            [key, since, until])
        }
        var rows: [(key: String, count: Int)] = (0..<result.rowCount).map { row in
          let text = result.string(row, 0)
          let key =
            grouping == .day
            ? RFC3339.day(Timestamp(millisecondsSinceEpoch: (Int64(text) ?? 0) * 86_400_000)) : text
          return (key: key, count: result.int(row, 1))
        }
        // Byte order of the UTF-8 keys, as the SQLite store sorts them.
        rows.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        groups = rows
      }
      return CountResult(petitionID: query.petitionID, total: total, goal: petition.petition.goal, groups: groups)
    }
  }

  static func dimension(_ grouping: CountGrouping) -> Int {
    switch grouping {
    case .day: 0
    case .postalCode: 1
    case .country: 2
    case .source: 3
    }
  }

  public func exportRows(_ query: ExportQuery, _ body: (ExportRow) -> Bool) throws(StoreError) {
    try exportRowViews(query) { view in body(ExportRow(view)) }
  }

  /// Streams through a server-side cursor, fetched in chunks: memory holds one chunk at a time
  /// whatever the size of the export, and the rows are read in place from libpq's buffers.
  public func exportRowViews(_ query: ExportQuery, _ body: (any ExportRowView) -> Bool) throws(StoreError) {
    try read(consistent: true) {
      let petition = try petitionRow(id: query.petitionID)
      guard petition.petition.anonymisedAt == nil else { throw StoreError.petitionAnonymised(query.petitionID) }
      guard let parameters = exportParameters(query, petitionKey: petition.key) else { return }
      try connection.queryOnce(
        "DECLARE export_rows NO SCROLL CURSOR FOR \(ExportSQL.select(query.audience))", parameters)
      let isContacts = query.audience == .contacts
      fetching: while true {
        let chunk = try connection.execute("FETCH 2000 FROM export_rows")
        let rows = chunk.rowCount
        for row in 0..<rows {
          guard body(PostgresExportRow(result: chunk, row: row, isContacts: isContacts)) else { break fetching }
        }
        if rows < 2000 { break }
      }
      try connection.execute("CLOSE export_rows")
    }
  }

  public func exportRowCount(_ query: ExportQuery) throws(StoreError) -> Int {
    try read(consistent: true) {
      let petition = try petitionRow(id: query.petitionID)
      guard petition.petition.anonymisedAt == nil else { throw StoreError.petitionAnonymised(query.petitionID) }
      guard let parameters = exportParameters(query, petitionKey: petition.key) else { return 0 }
      return try connection.query("SELECT count(*) FROM (\(ExportSQL.select(query.audience))) AS rows", parameters)
        .int(0, 0)
    }
  }

  /// $1 petition, $2 $3 window, $4 $5 first (signed_at, id) to include, $6 limit; nil when no
  /// row can follow the position.
  private func exportParameters(_ query: ExportQuery, petitionKey: Int64) -> [String?]? {
    var firstTime = Int64.min
    var firstRowID = Int64.min
    if let after = query.after {
      if let rowID = SignatureID.firstRowID(after: after.signatureID) {
        (firstTime, firstRowID) = (after.signedAt.millisecondsSinceEpoch, rowID)
      } else if after.signedAt.millisecondsSinceEpoch < .max {
        (firstTime, firstRowID) = (after.signedAt.millisecondsSinceEpoch + 1, .min)
      } else {
        return nil
      }
    }
    let lowest = max(query.window.since?.millisecondsSinceEpoch ?? .min, firstTime)
    let end = query.window.until?.millisecondsSinceEpoch ?? .max
    return [
      String(petitionKey), String(lowest), String(end), String(firstTime), String(firstRowID),
      query.limit.map { String(max(0, $0)) },
    ]
  }
}

enum ExportSQL {
  private static let columns = """
    s.id, s.first_name, s.last_name, s.postal_code, s.country, s.comment, s.source, s.signed_at
    """
  private static let filter = """
    s.petition = $1 AND s.status = 'confirmed' AND s.email IS NOT NULL AND s.signed_at >= $2 AND s.signed_at < $3
      AND (s.signed_at, s.id) >= ($4::bigint, $5::bigint)
    """

  private static func consent(_ channel: String) -> String {
    """
    coalesce((SELECT e.granted FROM consent_events AS e WHERE e.person_key = s.person_key AND e.channel = '\(channel)'
      ORDER BY e.at DESC, e.id DESC LIMIT 1), false)
    """
  }

  /// Rows of an export, ordered by (signed_at, id).
  static func select(_ audience: ExportAudience) -> String {
    switch audience {
    case .delivery:
      return "SELECT \(columns) FROM signatures AS s WHERE \(filter) ORDER BY s.signed_at, s.id LIMIT $6::bigint"
    case .contacts:
      // Phone and SMS consent only count on a row that has a phone to call or text.
      return """
        SELECT * FROM (
          SELECT \(columns), s.email, s.phone, \(consent("email")) AS ok_email,
            s.phone IS NOT NULL AND \(consent("phone")) AS ok_phone,
            s.phone IS NOT NULL AND \(consent("sms")) AS ok_sms
          FROM signatures AS s WHERE \(filter) ORDER BY s.signed_at, s.id) AS c
        WHERE ok_email OR ok_phone OR ok_sms ORDER BY signed_at, id LIMIT $6::bigint
        """
    }
  }
}

/// One row of a fetched chunk, read in place. Columns: 0 id, 1 first name, 2 last name,
/// 3 postal code, 4 country, 5 comment, 6 source, 7 signed at, then for contacts 8 email,
/// 9 phone, 10-12 consent.
struct PostgresExportRow: ExportRowView {
  let result: PGResult
  let row: Int
  let isContacts: Bool

  var signedAt: Timestamp { Timestamp(millisecondsSinceEpoch: result.int64(row, 7)) }
  var optInEmail: Bool { isContacts && result.bool(row, 10) }
  var optInPhone: Bool { isContacts && result.bool(row, 11) }
  var optInSms: Bool { isContacts && result.bool(row, 12) }

  func withText<Result>(_ field: ExportTextField, _ body: (UnsafeBufferPointer<UInt8>?) -> Result) -> Result {
    let column: Int
    switch field {
    case .signatureID:
      var id = SignatureID.make(rowID: result.int64(row, 0))
      return id.withUTF8 { body($0) }
    case .firstName: column = 1
    case .lastName: column = 2
    case .postalCode: column = 3
    case .country: column = 4
    case .comment:
      guard !isContacts else { return body(nil) }
      column = 5
    case .source:
      guard isContacts else { return body(nil) }
      column = 6
    case .email:
      guard isContacts else { return body(nil) }
      column = 8
    case .phone:
      guard isContacts else { return body(nil) }
      column = 9
    }
    return result.withBytes(row, column, body)
  }
}
