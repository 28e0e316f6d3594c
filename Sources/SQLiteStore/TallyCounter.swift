import Petitions
import SQLite

/// Answers `count` from the maintained aggregates (`Tallies`): a whole petition from `tallies`;
/// a window from the hours wholly inside it in `hourly_tallies` plus the confirmed rows of its
/// two partial edge hours, read through the (petition, signed_at) index. The cost grows with the
/// groups asked for and the rows of the edge hours, never with the petition's signatures.
///
/// Both add the tail: the confirmed signatures newer than the aggregates (see `TallyTail`), at
/// most a few hundred rows, read by id from the table itself. The caller runs all of this in
/// one read snapshot, so aggregates, watermark and tail agree.
struct TallyCounter {
  let connection: Connection
  let petitionKey: Int64
  /// Signatures with an id above this are not in the aggregates yet.
  let watermark: Int64

  init(connection: Connection, petitionKey: Int64) throws(SQLiteError) {
    self.connection = connection
    self.petitionKey = petitionKey
    self.watermark = try TallyTail.watermark(connection)
  }

  /// The first millisecond of an hour number; the open ends (`.min`, `.max`) stay open.
  private static func start(ofHour hour: Int64) -> Int64 {
    hour == .min || hour == .max ? hour : hour * Tallies.hour
  }

  /// Runs `body` on each group of the tail's confirmed signatures of the petition (key column
  /// 0, count column 1), with a time range in milliseconds when given. `+petition` and
  /// `+signed_at` keep SQLite on the id range rather than an index of the whole petition.
  private func tailGroups(
    _ grouping: CountGrouping?, from lowest: Int64? = nil, to end: Int64? = nil, _ body: (Statement) -> Void
  ) throws(SQLiteError) {
    let key = grouping.map(Self.rowKey) ?? "''"
    let range = lowest == nil ? "" : " AND +signed_at >= ?3 AND +signed_at < ?4"
    let select = try connection.cachedStatement(
      """
      SELECT \(key) AS key, count(*) FROM signatures
      WHERE id > ?2 AND +petition = ?1 AND status = 'confirmed'\(range) GROUP BY key
      """)
    defer { select.reset() }
    try select.bind(petitionKey, at: 1)
    try select.bind(watermark, at: 2)
    if let lowest, let end {
      try select.bind(lowest, at: 3)
      try select.bind(end, at: 4)
    }
    while try select.step() { body(select) }
  }

  /// Keys: day numbers for `.day`, else the text (sorted by the caller).
  private static func dimension(_ grouping: CountGrouping) -> Int64 {
    switch grouping {
    case .day: 0
    case .postalCode: 1
    case .country: 2
    case .source: 3
    }
  }

  private static func rowKey(_ grouping: CountGrouping) -> String {
    switch grouping {
    case .day: "(signed_at - (signed_at % 86400000 + 86400000) % 86400000) / 86400000"
    case .postalCode: "postal_code"
    case .country: "country"
    case .source: "coalesce(source, '')"
    }
  }

  /// Groups of the whole petition, sorted by key.
  func groups(by grouping: CountGrouping) throws -> [(key: String, count: Int)] {
    // ORDER BY with the BINARY collation is the byte order of the UTF-8 keys; day numbers sort
    // as their YYYY-MM-DD keys do.
    let select = try connection.cachedStatement(
      "SELECT key, count FROM tallies WHERE petition = ?1 AND dimension = ?2 AND count > 0 ORDER BY key")
    defer { select.reset() }
    try select.bind(petitionKey, at: 1)
    try select.bind(Self.dimension(grouping), at: 2)
    var groups: [(key: String, count: Int)] = []
    groups.reserveCapacity(grouping == .postalCode ? 1024 : 64)
    while try select.step() {
      let key =
        grouping == .day
        ? RFC3339.day(Timestamp(millisecondsSinceEpoch: select.int64(at: 0) * Tallies.day)) : select.string(at: 0)
      groups.append((key: key, count: select.int(at: 1)))
    }
    select.reset()
    var tail: [(key: String, count: Int)] = []
    try tailGroups(grouping) { row in
      let key =
        grouping == .day
        ? RFC3339.day(Timestamp(millisecondsSinceEpoch: row.int64(at: 0) * Tallies.day)) : row.string(at: 0)
      tail.append((key: key, count: row.int(at: 1)))
    }
    guard !tail.isEmpty else { return groups }
    // Both sorted by key (the tail here: stored text is NFC, for which String's < is the byte
    // order of SQLite's BINARY collation), merged in one pass.
    tail.sort { $0.key < $1.key }
    var merged: [(key: String, count: Int)] = []
    merged.reserveCapacity(groups.count + tail.count)
    var (i, j) = (0, 0)
    while i < groups.count || j < tail.count {
      if j == tail.count || (i < groups.count && groups[i].key < tail[j].key) {
        merged.append(groups[i])
        i += 1
      } else if i == groups.count || tail[j].key < groups[i].key {
        merged.append(tail[j])
        j += 1
      } else {
        merged.append((key: groups[i].key, count: groups[i].count + tail[j].count))
        i += 1
        j += 1
      }
    }
    return merged
  }

  func total(_ window: WindowBounds) throws -> Int {
    let split = WindowHours(lowest: window.lowest, end: window.end)
    var total = 0
    if let hours = split.hours {
      let select = try connection.cachedStatement(
        """
        SELECT coalesce(sum(count), 0) FROM hourly_tallies
        WHERE petition = ?1 AND dimension = 0 AND hour >= ?2 AND hour < ?3
        """)
      defer { select.reset() }
      try select.bind(petitionKey, at: 1)
      try select.bind(hours.first, at: 2)
      try select.bind(hours.end, at: 3)
      try select.step()
      total += select.int(at: 0)
      select.reset()
      try tailGroups(nil, from: Self.start(ofHour: hours.first), to: Self.start(ofHour: hours.end)) {
        total += $0.int(at: 1)
      }
    }
    for edge in split.edges {
      let select = try connection.cachedStatement(
        """
        SELECT count(*) FROM signatures
        WHERE petition = ?1 AND signed_at >= ?2 AND signed_at < ?3 AND status = 'confirmed'
        """)
      defer { select.reset() }
      try select.bind(petitionKey, at: 1)
      try select.bind(edge.lowest, at: 2)
      try select.bind(edge.end, at: 3)
      try select.step()
      total += select.int(at: 0)
    }
    return total
  }

  /// Groups of a window, sorted by key.
  func groups(by grouping: CountGrouping, _ window: WindowBounds) throws -> [(key: String, count: Int)] {
    let split = WindowHours(lowest: window.lowest, end: window.end)
    var numbered: [Int64: Int] = [:]
    var texts: [String: Int] = [:]
    func add(_ statement: Statement) {
      if grouping == .day {
        numbered[statement.int64(at: 0), default: 0] += statement.int(at: 1)
      } else {
        texts[statement.string(at: 0), default: 0] += statement.int(at: 1)
      }
    }
    if let hours = split.hours {
      let select =
        grouping == .day
        ? try connection.cachedStatement(
          """
          SELECT (hour - (hour % 24 + 24) % 24) / 24 AS day, sum(count) FROM hourly_tallies
          WHERE petition = ?1 AND dimension = 0 AND hour >= ?2 AND hour < ?3 GROUP BY day
          """)
        : try connection.cachedStatement(
          """
          SELECT key, sum(count) FROM hourly_tallies
          WHERE petition = ?1 AND dimension = ?4 AND hour >= ?2 AND hour < ?3 GROUP BY key
          """)
      defer { select.reset() }
      try select.bind(petitionKey, at: 1)
      try select.bind(hours.first, at: 2)
      try select.bind(hours.end, at: 3)
      if grouping != .day { try select.bind(Self.dimension(grouping), at: 4) }
      while try select.step() { add(select) }
      select.reset()
      try tailGroups(grouping, from: Self.start(ofHour: hours.first), to: Self.start(ofHour: hours.end), add)
    }
    for edge in split.edges {
      let select = try connection.cachedStatement(
        """
        SELECT \(Self.rowKey(grouping)) AS key, count(*) FROM signatures
        WHERE petition = ?1 AND signed_at >= ?2 AND signed_at < ?3 AND status = 'confirmed' GROUP BY key
        """)
      defer { select.reset() }
      try select.bind(petitionKey, at: 1)
      try select.bind(edge.lowest, at: 2)
      try select.bind(edge.end, at: 3)
      while try select.step() { add(select) }
    }
    if grouping == .day {
      return numbered.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map {
        (key: RFC3339.day(Timestamp(millisecondsSinceEpoch: $0.key * Tallies.day)), count: $0.value)
      }
    }
    // Stored text is NFC, for which String's < is the byte order of the UTF-8 keys (the order of
    // SQLite's BINARY collation), and a memcmp rather than a walk of UTF-8 views.
    return texts.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { (key: $0.key, count: $0.value) }
  }
}
