import Petitions
import SQLite

extension SQLiteStore {
  public func count(_ query: CountQuery) throws(StoreError) -> CountResult {
    try applyTalliesInsideGroup()
    if query.grouping == nil && query.window.since == nil && query.window.until == nil {
      // The common case, one statement on the petition's counter: O(1), and one statement is
      // its own snapshot.
      return try read {
        let select = try connection.cachedStatement("SELECT signature_count, goal FROM petitions WHERE id = ?1")
        defer { select.reset() }
        try select.bind(query.petitionID, at: 1)
        guard try select.step() else { throw StoreError.petitionNotFound(query.petitionID) }
        let goal: Int? = select.isNull(at: 1) ? nil : select.int(at: 1)
        return CountResult(petitionID: query.petitionID, total: select.int(at: 0), goal: goal, groups: nil)
      }
    }
    // One snapshot: the total and the groups agree even while other processes sign.
    return try read(consistent: true) {
      let petition = try petitionRow(id: query.petitionID)
      let counter = try TallyCounter(connection: connection, petitionKey: petition.key)
      let total: Int
      let groups: [(key: String, count: Int)]?
      if query.window.since == nil && query.window.until == nil {
        total = petition.petition.count
        groups = try query.grouping.map { try counter.groups(by: $0) }
      } else {
        let window = WindowBounds(query.window)
        total = try counter.total(window)
        groups = try query.grouping.map { try counter.groups(by: $0, window) }
      }
      return CountResult(petitionID: query.petitionID, total: total, goal: petition.petition.goal, groups: groups)
    }
  }

  public func exportRows(_ query: ExportQuery, _ body: (ExportRow) -> Bool) throws(StoreError) {
    try exportRowViews(query) { view in body(ExportRow(view)) }
  }

  public func exportRowViews(_ query: ExportQuery, _ body: (any ExportRowView) -> Bool) throws(StoreError) {
    try read {
      let petition = try petitionRow(id: query.petitionID)
      guard petition.petition.anonymisedAt == nil else { throw StoreError.petitionAnonymised(query.petitionID) }
      guard let bounds = ExportBounds(query) else { return }
      // Prepared afresh rather than cached: it stays open while `body` runs, and `body` may use
      // the store. One statement is one snapshot, and stepping it holds one row at a time.
      let select = try connection.prepare(ExportSQL.select(query.audience))
      try bounds.bind(to: select, petitionKey: petition.key)
      let view = SQLiteExportRow(statement: select, isContacts: query.audience == .contacts)
      while try select.step() {
        guard body(view) else { break }
      }
      select.reset()
    }
  }

  public func exportRowCount(_ query: ExportQuery) throws(StoreError) -> Int {
    try read {
      let petition = try petitionRow(id: query.petitionID)
      guard petition.petition.anonymisedAt == nil else { throw StoreError.petitionAnonymised(query.petitionID) }
      guard let bounds = ExportBounds(query) else { return 0 }
      let select = try connection.cachedStatement(ExportSQL.count(query.audience))
      defer { select.reset() }
      try bounds.bind(to: select, petitionKey: petition.key)
      try select.step()
      return select.int(at: 0)
    }
  }
}

/// A time window as bounds that are always bound, so one statement serves every window.
struct WindowBounds {
  var lowest: Int64
  /// Exclusive.
  var end: Int64

  init(_ window: TimeWindow) {
    lowest = window.since?.millisecondsSinceEpoch ?? .min
    end = window.until?.millisecondsSinceEpoch ?? .max
  }

  /// Binds ?1 petition, ?2 lowest signed_at, ?3 end.
  func bind(to statement: Statement, petitionKey: Int64) throws(SQLiteError) {
    try statement.bind(petitionKey, at: 1)
    try statement.bind(lowest, at: 2)
    try statement.bind(end, at: 3)
  }
}

/// Where an export starts and stops, as bounds on (signed_at, id).
struct ExportBounds {
  var window: WindowBounds
  /// The first (signed_at, id) to include.
  var firstTime: Int64
  var firstRowID: Int64
  var limit: Int

  /// Nil when no row can follow the position.
  init?(_ query: ExportQuery) {
    window = WindowBounds(query.window)
    limit = query.limit.map { max(0, $0) } ?? -1
    firstTime = .min
    firstRowID = .min
    if let after = query.after {
      if let rowID = SignatureID.firstRowID(after: after.signatureID) {
        (firstTime, firstRowID) = (after.signedAt.millisecondsSinceEpoch, rowID)
      } else if after.signedAt.millisecondsSinceEpoch < .max {
        (firstTime, firstRowID) = (after.signedAt.millisecondsSinceEpoch + 1, .min)
      } else {
        return nil
      }
    }
    // The plain lower bound on signed_at is what lets the index seek to the position, so each
    // page costs its own rows only; the row value then skips the rows of the same millisecond.
    window.lowest = max(window.lowest, firstTime)
  }

  /// Binds ?1 to ?6 of `ExportSQL`.
  func bind(to statement: Statement, petitionKey: Int64) throws(SQLiteError) {
    try window.bind(to: statement, petitionKey: petitionKey)
    try statement.bind(firstTime, at: 4)
    try statement.bind(firstRowID, at: 5)
    try statement.bind(limit, at: 6)
  }
}

enum ExportSQL {
  private static let columns = """
    s.id, s.first_name, s.last_name, s.postal_code, s.country, s.comment, s.source, s.signed_at
    """
  /// Phone and SMS consent count only on a row whose phone is the number the consent covers:
  /// the person's newest event on that channel (what their `phone_ok`/`sms_ok` say) names the
  /// number it was given for. A person who opted in to texts with one number and signed another
  /// petition with a second number has not agreed to texts on the second (the export offered
  /// it). Looked up only for rows whose flag is set.
  /// (A CASE, because SQLite evaluates both sides of an AND in a result column: the lookup ran
  /// for every row and made a contacts export ~45% slower.)
  private static func numberConsent(_ channel: String) -> String {
    """
    CASE WHEN s.\(channel)_ok AND s.phone IS NOT NULL THEN s.phone IS (SELECT e.number FROM consent_events AS e
      WHERE e.person_key = s.person_key AND e.channel = '\(channel)' ORDER BY e.at DESC, e.id DESC LIMIT 1)
    ELSE 0 END
    """
  }
  private static let contactColumns =
    ", s.email, s.phone, s.email_ok, \(numberConsent("phone")), \(numberConsent("sms"))"
  /// Confirmed signatures that still have their signer's data (not erased).
  private static let filter = """
    s.petition = ?1 AND s.signed_at >= ?2 AND s.signed_at < ?3 AND (s.signed_at, s.id) >= (?4, ?5)
    AND s.status = 'confirmed' AND s.email IS NOT NULL
    """
  private static let contactsFrom = "signatures AS s"
  private static let contactsFilter = " AND (s.email_ok OR \(numberConsent("phone")) OR \(numberConsent("sms")))"

  /// Rows of an export: ?1 petition, ?2 ?3 window, ?4 ?5 first (signed_at, id), ?6 limit.
  static func select(_ audience: ExportAudience) -> String {
    switch audience {
    case .delivery:
      "SELECT \(columns) FROM signatures AS s WHERE \(filter) ORDER BY s.signed_at, s.id LIMIT ?6"
    case .contacts:
      """
      SELECT \(columns)\(contactColumns) FROM \(contactsFrom)
      WHERE \(filter)\(contactsFilter) ORDER BY s.signed_at, s.id LIMIT ?6
      """
    }
  }

  /// The number of rows `select` yields, with the same parameters.
  static func count(_ audience: ExportAudience) -> String {
    switch audience {
    case .delivery:
      "SELECT count(*) FROM (SELECT 1 FROM signatures AS s WHERE \(filter) LIMIT ?6)"
    case .contacts:
      "SELECT count(*) FROM (SELECT 1 FROM \(contactsFrom) WHERE \(filter)\(contactsFilter) LIMIT ?6)"
    }
  }
}

/// The current row of an export statement, read in place. Columns: 0 id, 1 first name,
/// 2 last name, 3 postal code, 4 country, 5 comment, 6 source, 7 signed at, then for contacts
/// 8 email, 9 phone, 10-12 consent. Each audience reads only the columns it exports.
struct SQLiteExportRow: ExportRowView {
  let statement: Statement
  let isContacts: Bool

  var signedAt: Timestamp { Timestamp(millisecondsSinceEpoch: statement.int64(at: 7)) }
  var optInEmail: Bool { isContacts && statement.bool(at: 10) }
  var optInPhone: Bool { isContacts && statement.bool(at: 11) }
  var optInSms: Bool { isContacts && statement.bool(at: 12) }

  func withText<Result>(_ field: ExportTextField, _ body: (UnsafeBufferPointer<UInt8>?) -> Result) -> Result {
    let column: Int32
    switch field {
    case .signatureID:
      var id = SignatureID.make(rowID: statement.int64(at: 0))
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
    return statement.withText(at: column, body)
  }
}
