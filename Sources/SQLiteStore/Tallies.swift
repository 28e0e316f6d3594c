import Petitions
import SQLite

/// The maintained count aggregates of confirmed signatures, as changes waiting to be written.
///
/// Two tables hold them (see `Schema`): `tallies` per (petition, dimension, key) answers a
/// grouping of the whole petition, and `hourly_tallies` per (petition, dimension, hour, key)
/// answers a window: the hours wholly inside it from the buckets, the two partial edge hours
/// from the rows (through the (petition, signed_at) index). Dimension 0 is the day (key: the
/// day number) in `tallies` and the whole count (key: '') in `hourly_tallies`; 1 postal code,
/// 2 country, 3 source ('' for none).
///
/// Every change of a confirmed signature's count goes through `add`; the changes are summed
/// per key in memory and written by `apply` just before the transaction commits.
struct Tallies {
  static let hour: Int64 = 3_600_000
  static let day: Int64 = 86_400_000

  enum Dimension: Int64 {
    case dayOrAll = 0, postalCode = 1, country = 2, source = 3
  }

  struct Key: Hashable {
    var petition: Int64
    var dimension: Int64
    /// The hour for `hourly_tallies`; nil for `tallies`.
    var hour: Int64?
    /// The key as text, or as a number (day numbers) when `text` is nil.
    var text: String?
    var number: Int64
  }

  private(set) var changes: [Key: Int] = [:]

  var isEmpty: Bool { changes.isEmpty }

  mutating func removeAll() {
    if !changes.isEmpty { changes.removeAll(keepingCapacity: true) }
  }

  /// Counts `delta` confirmed signatures with these values.
  mutating func add(
    petition: Int64, signedAt: Int64, postalCode: String, country: String, source: String?, delta: Int
  ) {
    let hour = floorDivide(signedAt, Self.hour)
    let source = source ?? ""
    changes[
      Key(petition: petition, dimension: 0, hour: nil, text: nil, number: floorDivide(signedAt, Self.day)), default: 0] +=
      delta
    changes[Key(petition: petition, dimension: 1, hour: nil, text: postalCode, number: 0), default: 0] += delta
    changes[Key(petition: petition, dimension: 2, hour: nil, text: country, number: 0), default: 0] += delta
    changes[Key(petition: petition, dimension: 3, hour: nil, text: source, number: 0), default: 0] += delta
    changes[Key(petition: petition, dimension: 0, hour: hour, text: "", number: 0), default: 0] += delta
    changes[Key(petition: petition, dimension: 1, hour: hour, text: postalCode, number: 0), default: 0] += delta
    changes[Key(petition: petition, dimension: 2, hour: hour, text: country, number: 0), default: 0] += delta
    changes[Key(petition: petition, dimension: 3, hour: hour, text: source, number: 0), default: 0] += delta
  }

  /// Adds the changes to the tables (one upsert per distinct key) and forgets them.
  mutating func apply(to connection: Connection) throws(SQLiteError) {
    guard !changes.isEmpty else { return }
    let whole = try connection.cachedStatement(
      """
      INSERT INTO tallies (petition, dimension, key, count) VALUES (?1, ?2, ?3, ?4)
      ON CONFLICT (petition, dimension, key) DO UPDATE SET count = count + excluded.count
      """)
    let hourly = try connection.cachedStatement(
      """
      INSERT INTO hourly_tallies (petition, dimension, hour, key, count) VALUES (?1, ?2, ?5, ?3, ?4)
      ON CONFLICT (petition, dimension, hour, key) DO UPDATE SET count = count + excluded.count
      """)
    defer {
      whole.reset()
      hourly.reset()
    }
    for (key, delta) in changes where delta != 0 {
      let statement = key.hour == nil ? whole : hourly
      try statement.bind(key.petition, at: 1)
      try statement.bind(key.dimension, at: 2)
      if let text = key.text { try statement.bind(text, at: 3) } else { try statement.bind(key.number, at: 3) }
      try statement.bind(delta, at: 4)
      if let hour = key.hour { try statement.bind(hour, at: 5) }
      try statement.execute()
      statement.reset()
    }
    changes.removeAll(keepingCapacity: true)
  }
}

/// Division rounding towards negative infinity (times before 1970 fall in the right bucket).
func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
  let quotient = value / divisor
  return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient
}

extension Tallies {
  /// Adds `delta` for each row of `rows` (a SELECT of `signed_at, postal_code, country, source`
  /// using parameters ?1 to ?8) to the tables directly, grouped in SQL: for operations that
  /// change many signatures at once (invalidate, revalidate), where going through `add` would
  /// cost a Swift round trip per row. Additive, so it mixes with the pending `changes`.
  static func apply(
    rows: String, petition: Int64, delta: Int, to connection: Connection,
    binding bind: (Statement) throws(SQLiteError) -> Void
  ) throws(SQLiteError) {
    let day = "(signed_at - (signed_at % 86400000 + 86400000) % 86400000) / 86400000"
    let hour = "(signed_at - (signed_at % 3600000 + 3600000) % 3600000) / 3600000"
    let keys = ["postal_code", "country", "coalesce(source, '')"]
    var statements: [String] = []
    for (dimension, key) in zip(0..., [day] + keys) {
      statements.append(
        """
        INSERT INTO tallies (petition, dimension, key, count)
        SELECT ?9, \(dimension), k, ?10 * count(*) FROM (SELECT \(key) AS k FROM (\(rows))) WHERE true GROUP BY k
        ON CONFLICT (petition, dimension, key) DO UPDATE SET count = count + excluded.count
        """)
    }
    for (dimension, key) in zip(0..., ["''"] + keys) {
      statements.append(
        """
        INSERT INTO hourly_tallies (petition, dimension, hour, key, count)
        SELECT ?9, \(dimension), h, k, ?10 * count(*) FROM (SELECT \(hour) AS h, \(key) AS k FROM (\(rows)))
        WHERE true GROUP BY h, k
        ON CONFLICT (petition, dimension, hour, key) DO UPDATE SET count = count + excluded.count
        """)
    }
    for sql in statements {
      let statement = try connection.cachedStatement(sql)
      defer { statement.reset() }
      try bind(statement)
      try statement.bind(petition, at: 9)
      try statement.bind(delta, at: 10)
      try statement.execute()
    }
  }
}
