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
/// in memory, per petition and hour, and written by `apply` just before the transaction
/// commits.
struct Tallies {
  static let hour: Int64 = 3_600_000
  static let day: Int64 = 86_400_000

  enum Dimension: Int64 {
    case dayOrAll = 0, postalCode = 1, country = 2, source = 3
  }

  /// The changes of one petition in one hour. A burst of signatures falls in one or two of
  /// these, so `add` finds its bucket by a short scan and does three lookups keyed by a plain
  /// string (the eight table keys a signature touches are made only by `apply`).
  private struct Bucket {
    var petition: Int64
    var hour: Int64
    var all = 0
    var postalCodes: [String: Int] = [:]
    var countries: [String: Int] = [:]
    var sources: [String: Int] = [:]
  }

  private struct BucketKey: Hashable {
    var petition: Int64
    var hour: Int64
  }

  private var buckets: [Bucket] = []
  /// Where each bucket is in `buckets`, once there are more than a few (an import with times of
  /// its own spreads over many hours).
  private var bucketIndex: [BucketKey: Int] = [:]
  /// An emptied bucket kept with its dictionaries' storage: a one-at-a-time write adds to one
  /// bucket per transaction, and should not allocate three dictionaries each time.
  private var spare: Bucket?
  private static let scannedBuckets = 8

  var isEmpty: Bool { buckets.isEmpty }

  /// How many upserts `apply` would run at most (for measurements).
  var keyCount: Int {
    buckets.reduce(0) { $0 + 2 * (2 + $1.postalCodes.count + $1.countries.count + $1.sources.count) }
  }

  mutating func removeAll() {
    guard !buckets.isEmpty else { return }
    if spare == nil, var kept = buckets.last {
      kept.all = 0
      kept.postalCodes.removeAll(keepingCapacity: kept.postalCodes.count <= 1024)
      kept.countries.removeAll(keepingCapacity: true)
      kept.sources.removeAll(keepingCapacity: true)
      buckets.removeLast()
      spare = kept
    }
    buckets.removeAll(keepingCapacity: true)
    if !bucketIndex.isEmpty { bucketIndex.removeAll(keepingCapacity: true) }
  }

  /// Counts `delta` confirmed signatures with these values.
  mutating func add(
    petition: Int64, signedAt: Int64, postalCode: String, country: String, source: String?, delta: Int
  ) {
    let index = bucket(petition: petition, hour: floorDivide(signedAt, Self.hour))
    buckets[index].all += delta
    buckets[index].postalCodes[postalCode, default: 0] += delta
    buckets[index].countries[country, default: 0] += delta
    buckets[index].sources[source ?? "", default: 0] += delta
  }

  /// The index of the bucket of (petition, hour), made when there is none.
  private mutating func bucket(petition: Int64, hour: Int64) -> Int {
    if let last = buckets.indices.last, buckets[last].petition == petition, buckets[last].hour == hour { return last }
    if buckets.count <= Self.scannedBuckets {
      if let found = buckets.firstIndex(where: { $0.petition == petition && $0.hour == hour }) { return found }
    } else if let found = bucketIndex[BucketKey(petition: petition, hour: hour)] {
      return found
    }
    var bucket = spare ?? Bucket(petition: petition, hour: hour)
    spare = nil
    bucket.petition = petition
    bucket.hour = hour
    buckets.append(bucket)
    if buckets.count == Self.scannedBuckets + 1 {
      for (index, bucket) in buckets.enumerated() {
        bucketIndex[BucketKey(petition: bucket.petition, hour: bucket.hour)] = index
      }
    } else if buckets.count > Self.scannedBuckets + 1 {
      bucketIndex[BucketKey(petition: petition, hour: hour)] = buckets.count - 1
    }
    return buckets.count - 1
  }

  /// Adds the changes to the tables (one upsert per key and bucket: a key changed in two hours
  /// of the group is added twice to its whole-petition row, which sums the same) and forgets
  /// them.
  mutating func apply(to connection: Connection) throws(SQLiteError) {
    guard !buckets.isEmpty else { return }
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
    func upsert(
      _ statement: Statement, _ bucket: Bucket, _ dimension: Dimension, text: String?, number: Int64 = 0, _ delta: Int
    ) throws(SQLiteError) {
      guard delta != 0 else { return }
      try statement.bind(bucket.petition, at: 1)
      try statement.bind(dimension.rawValue, at: 2)
      if let text { try statement.bind(text, at: 3) } else { try statement.bind(number, at: 3) }
      try statement.bind(delta, at: 4)
      if statement === hourly { try statement.bind(bucket.hour, at: 5) }
      try statement.execute()
      statement.reset()
    }
    for bucket in buckets {
      // Day numbers: an hour lies in one UTC day.
      try upsert(whole, bucket, .dayOrAll, text: nil, number: floorDivide(bucket.hour, 24), bucket.all)
      try upsert(hourly, bucket, .dayOrAll, text: "", bucket.all)
      for (dimension, counts) in [
        (Dimension.postalCode, bucket.postalCodes), (.country, bucket.countries), (.source, bucket.sources),
      ] {
        for (key, delta) in counts {
          try upsert(whole, bucket, dimension, text: key, delta)
          try upsert(hourly, bucket, dimension, text: key, delta)
        }
      }
    }
    removeAll()
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
