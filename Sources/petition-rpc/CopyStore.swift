import Petitions
import PostgresStore
import SQLiteStore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `petition-rpc copy-store --from STORE --to STORE [--from-pg-schema NAME] [--to-pg-schema NAME]`
///
/// Copies every petition, signature (id, times, status, token hash), consent event,
/// invalidation record and suppression entry, with the suppression list's secret, from one
/// store to another (SQLite to PostgreSQL and back), from one snapshot of the source, as one
/// transaction on the destination. Refuses a destination that holds petitions, consent events or
/// suppression entries; streams (memory stays flat); progress on stderr; checks the counts
/// before it commits (a copy that fails leaves nothing); exits 0 or 1 (64 for a bad command line).
enum CopyStore {
  static let usage = """
    usage: petition-rpc copy-store --from STORE --to STORE [--pg-schema NAME]
                                   [--from-pg-schema NAME] [--to-pg-schema NAME]
      STORE is a SQLite file path or a postgresql:// (postgres://) URI. --pg-schema names the
      PostgreSQL schema of both sides (default petition_rpc); the others name one side's.
    """

  static func run(_ arguments: [String]) -> Int32 {
    var values: [String: String] = [:]
    var index = 0
    while index < arguments.count {
      let argument = arguments[index]
      if argument == "--help" || argument == "-h" {
        print(usage)
        return 0
      }
      var name = argument
      var value: String?
      if let equals = argument.firstIndex(of: "=") {
        name = String(argument[..<equals])
        value = String(argument[argument.index(after: equals)...])
      } else if index + 1 < arguments.count {
        value = arguments[index + 1]
        index += 1
      }
      index += 1
      guard ["--from", "--to", "--pg-schema", "--from-pg-schema", "--to-pg-schema"].contains(name), let value,
        !value.isEmpty
      else {
        StandardError.write("copy-store: unexpected argument \(name)\n\(usage)")
        return 64
      }
      values[name] = value
    }
    guard let from = values["--from"], let to = values["--to"] else {
      StandardError.write("copy-store: --from and --to are required\n\(usage)")
      return 64
    }
    for key in ["--pg-schema", "--from-pg-schema", "--to-pg-schema"] {
      if let schema = values[key], !PostgresStore.isValidSchemaName(schema) {
        StandardError.write("copy-store: \(key) must be lower-case letters, digits and _ (at most 63)")
        return 64
      }
    }
    let source = StoreLocation.parse(from, pgSchema: values["--from-pg-schema"] ?? values["--pg-schema"])
    let destination = StoreLocation.parse(to, pgSchema: values["--to-pg-schema"] ?? values["--pg-schema"])
    if source == destination {
      StandardError.write("copy-store: --from and --to name the same store")
      return 1
    }
    return copy(from: source, to: destination) ? 0 : 1
  }

  static func copy(from source: StoreLocation, to destination: StoreLocation) -> Bool {
    // The source is only read: one that is not a store yet is refused, not created.
    switch source {
    case .sqlite(let path) where path != ":memory:":
      var info = stat()
      guard stat(path, &info) == 0 else {
        StandardError.write("copy-store: the source \(path) does not exist")
        return false
      }
      guard info.st_size > 0 else {
        StandardError.write("copy-store: the source \(path) is empty: it holds no store")
        return false
      }
    case .postgres(let uri, let schema):
      do throws(StoreError) {
        guard try PostgresStore.holdsStore(uri: uri, schema: schema) else {
          StandardError.write(
            "copy-store: the source \(source.description) holds no store (no schema \(schema) with one)")
          return false
        }
      } catch {
        if case .unavailable(let reason) = error {
          StandardError.write(reason)
        } else {
          StandardError.write("\(error)")
        }
        return false
      }
    default: break
    }
    guard let sourceStore = source.open(busyTimeoutMilliseconds: 5000) as? CopyableStore else { return false }
    guard let destinationStore = destination.open(busyTimeoutMilliseconds: 5000) as? CopyableStore else {
      return false
    }
    do throws(StoreError) {
      // For progress only: the copy reads its own snapshot, which a server still writing to the
      // source may have moved on from.
      let expected = try sourceStore.tally()
      StandardError.write("copy-store: copying \(expected) from \(source.description) to \(destination.description)")
      let started = monotonicSeconds()
      var streamed = StoreTally()
      var sourcePetitions: [Petition] = []
      var lastReport = started
      // SIGINT or SIGTERM before the commit: the destination's transaction is never committed
      // (SQLite drops its uncommitted pages on the next open; PostgreSQL rolls back when the
      // connection goes), so exit 1 at once with one line, as every failed copy does, rather
      // than die by the signal. After the commit the signals are ignored: the copy is done.
      signal(SIGINT, Self.interrupted)
      signal(SIGTERM, Self.interrupted)
      // A parent may have spawned us with these signals blocked (the mask is inherited).
      var unblocked = sigset_t()
      sigemptyset(&unblocked)
      sigaddset(&unblocked, SIGTERM)
      sigaddset(&unblocked, SIGINT)
      pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
      defer {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
      }
      try destinationStore.load(
        from: { load throws(StoreError) in
          try sourceStore.dump { record throws(StoreError) in
            try load(record)
            streamed.count(record)
            if case .petition(let petition) = record { sourcePetitions.append(petition) }
            if streamed.total % 10_000 == 0 {
              let now = monotonicSeconds()
              if now - lastReport >= 1 {
                lastReport = now
                let percent = expected.total > 0 ? min(streamed.total * 100 / expected.total, 100) : 100
                StandardError.write("copy-store: \(streamed.total) of \(expected.total) records (\(percent)%)")
              }
            }
          }
        },
        // Inside the destination's transaction: a copy that does not hold exactly what the source's
        // snapshot gave is rolled back, and can be run again.
        check: { copied, destinationPetitions throws(StoreError) in
          guard copied == streamed, destinationPetitions == sourcePetitions else {
            throw .unavailable(
              "the counts differ after the copy (nothing was kept): source \(streamed); destination \(copied)"
                + (destinationPetitions == sourcePetitions ? "" : "; petitions or their counts differ"))
          }
        })
      let seconds = max(monotonicSeconds() - started, 0.001)
      StandardError.write(
        "copy-store: done: \(streamed) in \(formatted(seconds)) s "
          + "(\(Int(Double(streamed.total) / seconds)) records/s); counts checked")
      return true
    } catch {
      if case .unavailable(let reason) = error {
        StandardError.write("copy-store: \(reason)")
      } else {
        StandardError.write("copy-store: \(error)")
      }
      return false
    }
  }

  /// The handler of a signal that interrupts a copy: only async-signal-safe calls (a static
  /// string's bytes to fd 2, then `_exit`).
  private static let interrupted: @convention(c) (Int32) -> Void = { _ in
    let message: StaticString =
      "petition-rpc: copy-store: interrupted before the copy was committed: nothing of it was kept (run it again)\n"
    _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
    _exit(1)
  }

  static func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
  }

  static func formatted(_ seconds: Double) -> String {
    let tenths = Int((seconds * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
  }
}
