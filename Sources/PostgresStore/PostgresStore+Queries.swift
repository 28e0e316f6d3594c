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
      let window = query.window.since != nil || query.window.until != nil ? WindowHours(query.window) : nil
      let total = try window.map { try windowTotal(petitionKey: key, $0) } ?? petition.petition.count
      var groups: [(key: String, count: Int)]?
      if let grouping = query.grouping {
        var counts: [String: Int] = [:]
        if let window {
          counts = try windowGroups(petitionKey: key, grouping, window)
        } else {
          // From the maintained aggregates: as many rows as keys (times writing connections).
          let result = try connection.query(
            """
            SELECT key, sum(n)::bigint FROM group_counts WHERE petition = $1 AND dimension = $2
            GROUP BY key HAVING sum(n) <> 0
            """, [key, String(Self.dimension(grouping))])
          for row in 0..<result.rowCount { counts[result.string(row, 0)] = result.int(row, 1) }
        }
        var rows: [(key: String, count: Int)]
        if grouping == .day {
          // Day numbers in number order are their YYYY-MM-DD keys in byte order.
          rows = counts.compactMap { day, count in Int64(day).map { ($0, count) } }.sorted { $0.0 < $1.0 }.map {
            (key: RFC3339.day(Timestamp(millisecondsSinceEpoch: $0.0 * 86_400_000)), count: $0.1)
          }
        } else {
          rows = counts.map { (key: $0.key, count: $0.value) }
          // Byte order of the UTF-8 keys, as the SQLite store sorts them.
          rows.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        }
        groups = rows.filter { $0.count > 0 }
      }
      return CountResult(petitionID: query.petitionID, total: total, goal: petition.petition.goal, groups: groups)
    }
  }

  /// A window's confirmed signatures: its whole hours from `hourly_counts`, its partial edge
  /// hours from the rows (through the (petition, signed_at) index).
  private func windowTotal(petitionKey: String, _ window: WindowHours) throws -> Int {
    var total = 0
    if let hours = window.hours {
      total += try connection.query(
        """
        SELECT coalesce(sum(n), 0)::bigint FROM hourly_counts
        WHERE petition = $1 AND dimension = 0 AND hour >= $2 AND hour < $3
        """, [petitionKey, String(hours.first), String(hours.end)]
      ).int(0, 0)
    }
    for edge in window.edges {
      total += try connection.query(
        """
        SELECT count(*) FROM signatures
        WHERE petition = $1 AND status = 'confirmed' AND signed_at >= $2 AND signed_at < $3
        """, [petitionKey, String(edge.lowest), String(edge.end)]
      ).int(0, 0)
    }
    return total
  }

  /// A window's groups (day keys as day numbers), from the same two sources as `windowTotal`.
  private func windowGroups(petitionKey: String, _ grouping: CountGrouping, _ window: WindowHours) throws
    -> [String: Int]
  {
    var counts: [String: Int] = [:]
    func add(_ result: PGResult) {
      for row in 0..<result.rowCount { counts[result.string(row, 0), default: 0] += result.int(row, 1) }
    }
    if let hours = window.hours {
      let bounds = [petitionKey, String(hours.first), String(hours.end)]
      add(
        grouping == .day
          ? try connection.query(
            """
            SELECT ((hour - (hour % 24 + 24) % 24) / 24)::text, sum(n)::bigint FROM hourly_counts
            WHERE petition = $1 AND dimension = 0 AND hour >= $2 AND hour < $3 GROUP BY 1
            """, bounds)
          : try connection.query(
            """
            SELECT key, sum(n)::bigint FROM hourly_counts
            WHERE petition = $1 AND dimension = $4 AND hour >= $2 AND hour < $3 GROUP BY key
            """, bounds + [String(Self.dimension(grouping))]))
    }
    let expression =
      switch grouping {
      case .day: "day_number(signed_at)::text"
      case .postalCode: "postal_code"
      case .country: "country"
      case .source: "coalesce(source, '')"
      }
    for edge in window.edges {
      add(
        try connection.query(
          """
          SELECT \(expression), count(*) FROM signatures
          WHERE petition = $1 AND status = 'confirmed' AND signed_at >= $2 AND signed_at < $3 GROUP BY 1
          """, [petitionKey, String(edge.lowest), String(edge.end)]))
    }
    return counts
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

  /// The person's consent on the channel now: their newest event. Phone and SMS consent count
  /// only on a row whose phone is the number that event was given for (a person who opted in to
  /// texts with one number and signed another petition with a second has not agreed to texts on
  /// the second).
  private static func consent(_ channel: String) -> String {
    let granted = channel == "email" ? "e.granted" : "e.granted AND e.number = s.phone"
    return """
      coalesce((SELECT \(granted) FROM consent_events AS e WHERE e.person_key = s.person_key AND e.channel = '\(channel)'
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
