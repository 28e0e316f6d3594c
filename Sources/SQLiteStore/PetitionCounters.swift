import Petitions
import SQLite

/// The petitions' counters (`signature_count`, `pending_count`, `invalidated_count`) and
/// `goal_reached_at`, changed in memory during a transaction and written once per petition just
/// before it commits.
///
/// A write group of many signs to one petition used to update the petition's row once per sign
/// (about 15% of a pipelined sign's instructions, measured with callgrind); now it reads the
/// row once and updates it once. Exact between processes: the transaction holds SQLite's write
/// lock from its first statement, so the row read at the first change cannot change elsewhere
/// until the commit. Operations that read or write the counters by SQL (petition rows, counts,
/// anonymise...) see them written first: `SQLiteStore` calls `apply` before running them.
struct PetitionCounters {
  struct Entry {
    /// The confirmed count as it is now, in this transaction.
    var count: Int
    var confirmed = 0
    var pending = 0
    var invalidated = 0
    var goal: Int?
    /// Whether the row already has a `goal_reached_at`.
    var goalWasReached: Bool
    /// When the count reached the goal in this transaction, if it did.
    var goalReachedAt: Int64?
  }

  private var entries: [Int64: Entry] = [:]

  var isEmpty: Bool { entries.isEmpty }

  mutating func removeAll() {
    if !entries.isEmpty { entries.removeAll(keepingCapacity: true) }
  }

  /// The confirmed count of the petition now: the row's, with this transaction's changes.
  mutating func count(petitionKey: Int64, connection: Connection) throws -> Int {
    try entry(petitionKey, connection).count
  }

  /// Changes the counters by these amounts; returns the confirmed count after.
  mutating func change(
    petitionKey: Int64, confirmed: Int, pending: Int, invalidated: Int, at time: Timestamp, connection: Connection
  ) throws -> Int {
    var entry = try entry(petitionKey, connection)
    entry.count += confirmed
    entry.confirmed += confirmed
    entry.pending += pending
    entry.invalidated += invalidated
    if !entry.goalWasReached, entry.goalReachedAt == nil, let goal = entry.goal, entry.count >= goal {
      entry.goalReachedAt = time.millisecondsSinceEpoch
    }
    entries[petitionKey] = entry
    return entry.count
  }

  /// Writes the changes (one UPDATE per petition changed) and forgets every entry.
  mutating func apply(to connection: Connection) throws(SQLiteError) {
    guard !entries.isEmpty else { return }
    let update = try connection.cachedStatement(
      """
      UPDATE petitions SET
        signature_count = signature_count + ?2,
        pending_count = pending_count + ?3,
        invalidated_count = invalidated_count + ?4,
        goal_reached_at = coalesce(goal_reached_at, ?5)
      WHERE pk = ?1
      """)
    defer { update.reset() }
    for (key, entry) in entries
    where entry.confirmed != 0 || entry.pending != 0 || entry.invalidated != 0 || entry.goalReachedAt != nil {
      try update.bind(key, at: 1)
      try update.bind(entry.confirmed, at: 2)
      try update.bind(entry.pending, at: 3)
      try update.bind(entry.invalidated, at: 4)
      try update.bind(entry.goalReachedAt, at: 5)
      try update.execute()
      update.reset()
    }
    entries.removeAll(keepingCapacity: true)
  }

  private mutating func entry(_ petitionKey: Int64, _ connection: Connection) throws -> Entry {
    if let entry = entries[petitionKey] { return entry }
    let select = try connection.cachedStatement(
      "SELECT signature_count, goal, goal_reached_at IS NOT NULL FROM petitions WHERE pk = ?1")
    defer { select.reset() }
    try select.bind(petitionKey, at: 1)
    guard try select.step() else { throw StoreError.unavailable("the store lost a petition it was writing to") }
    let entry = Entry(
      count: select.int(at: 0), goal: select.isNull(at: 1) ? nil : select.int(at: 1),
      goalWasReached: select.bool(at: 2))
    entries[petitionKey] = entry
    return entry
  }
}
