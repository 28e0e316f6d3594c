import Petitions
import SQLite

/// Answers `count` from the maintained aggregates (`Tallies`): a whole petition from `tallies`;
/// a window from the hours wholly inside it in `hourly_tallies` plus the confirmed rows of its
/// two partial edge hours, read through the (petition, signed_at) index. The cost grows with the
/// groups asked for and the rows of the edge hours, never with the petition's signatures.
struct TallyCounter {
  let connection: Connection
  let petitionKey: Int64

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
    return groups
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
