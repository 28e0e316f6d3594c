import Foundation
import Petitions
import SQLiteStore
import TestSupport
import Testing

@testable import PostgresStore

#if canImport(Glibc)
  import Glibc
#endif

/// The real binary on a real PostgreSQL server: start-up faults, several processes on one
/// database, a database restart under load, and copy-store.
@Suite("Server on PostgreSQL", postgresAvailable, .serialized)
struct ServerOnPostgresTests {
  init() throws {
    guard TestDatabase.isAvailable else { throw SkipInfo() }
    ignoreBrokenPipes()
  }

  func server(schema: String, _ extra: [String] = []) throws -> ServerProcess {
    try ServerProcess(arguments: ["--db", TestDatabase.uri!, "--pg-schema", schema] + extra)
  }

  /// `$/cancelRequest` ends a sign's wait for a lock another process holds (the petition's,
  /// held by a write group of another server): -32800 within 200 ms and nothing of it written;
  /// the sign read with it waits on and is answered once the lock is free.
  @Test func cancelEndsAWaitForALockedPetition() throws {
    let schema = TestDatabase.freshSchema("cancel")
    let server = try server(schema: schema)
    #expect(server.createPetition("p") != nil)
    let locker = try TestDatabase.store(schema: schema)
    let key = try TestDatabase.psql("SELECT pk FROM \(schema).petitions WHERE id = 'p'")
    try locker.connection.execute("BEGIN")
    try locker.connection.execute("SELECT pg_advisory_xact_lock(1886352498, \(key))")
    func signLine(id: Int, email: String) -> String {
      #"{"jsonrpc":"2.0","id":\#(id),"method":"sign","params":{"petition":"p","signer":"#
        + #"{"email":"\#(email)","firstName":"Ada","lastName":"Lovelace","postalCode":"12345"}}}"# + "\n"
    }
    server.send(signLine(id: 41, email: "cancelled@example.org") + signLine(id: 42, email: "waits@example.org"))
    usleep(300_000)  // both signs now wait for the lock
    let sent = Date()
    server.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":41}}"# + "\n")
    let response = server.readObject(timeout: 5)
    let elapsed = Date().timeIntervalSince(sent)
    #expect(RPC.errorCode(response) == -32800)
    #expect(response?["id"] as? Int == 41)
    #expect(elapsed < timeBound(0.2), "answered after \(elapsed) s")
    try locker.connection.execute("ROLLBACK")
    let waited = server.readObject(timeout: 10)
    #expect(waited?["id"] as? Int == 42)
    #expect(RPC.result(waited)?["count"] as? Int == 1)
    #expect(server.total("p") == 1)
    #expect(try TestDatabase.psql("SELECT count(*) FROM \(schema).signatures WHERE email LIKE 'cancelled%'") == "0")
    server.closeInput()
    #expect(server.waitForExit() == 0)
  }

  /// A whole table locked by someone else (`LOCK TABLE petitions IN ACCESS EXCLUSIVE MODE`, as
  /// a migration or an administrator would): a sign that waits for it is cancelled at once too.
  /// Its first statement waited while being prepared (parsing locks the tables it names), in a
  /// blocking libpq call that no cancel reached: -32000 after the busy timeout.
  @Test func cancelEndsAWaitForALockedTable() throws {
    let schema = TestDatabase.freshSchema("table")
    let server = try server(schema: schema, ["--busy-timeout-ms", "3000"])
    #expect(server.createPetition("p") != nil)
    let locker = try TestDatabase.store(schema: schema)
    try locker.connection.execute("BEGIN")
    try locker.connection.execute("LOCK TABLE \(schema).petitions IN ACCESS EXCLUSIVE MODE")
    server.send(
      #"{"jsonrpc":"2.0","id":7,"method":"sign","params":{"petition":"p","signer":"#
        + #"{"email":"locked@example.org","firstName":"Ada","lastName":"Lovelace","postalCode":"12345"}}}"# + "\n")
    usleep(400_000)
    let sent = Date()
    server.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":7}}"# + "\n")
    let response = server.readObject(timeout: 10)
    let elapsed = Date().timeIntervalSince(sent)
    try locker.connection.execute("ROLLBACK")
    #expect(RPC.errorCode(response) == -32800, "\(String(describing: response))")
    #expect(elapsed < timeBound(0.2), "answered after \(elapsed) s")
    #expect(server.total("p") == 0)
    let again = server.sign("p", makeSigner(email: "locked@example.org"))
    #expect(RPC.result(again)?["duplicate"] as? Bool == false)
    server.closeInput()
    #expect(server.waitForExit() == 0)
  }

  /// Past the busy timeout (PostgreSQL's lock_timeout), a sign waiting for a locked petition
  /// gets -32000 with `data.retryable`, nothing written, and the same sign succeeds once the
  /// lock is free.
  @Test func lockedPastTheTimeoutIsRetryable() throws {
    let schema = TestDatabase.freshSchema("timeout")
    let server = try server(schema: schema, ["--busy-timeout-ms", "300"])
    #expect(server.createPetition("p") != nil)
    let locker = try TestDatabase.store(schema: schema)
    let key = try TestDatabase.psql("SELECT pk FROM \(schema).petitions WHERE id = 'p'")
    try locker.connection.execute("BEGIN")
    try locker.connection.execute("SELECT pg_advisory_xact_lock(1886352498, \(key))")
    let started = Date()
    let response = server.sign("p", makeSigner(email: "late@example.org"))
    let elapsed = Date().timeIntervalSince(started)
    #expect(RPC.errorCode(response) == -32000)
    #expect(((response?["error"] as? [String: Any])?["data"] as? [String: Any])?["retryable"] as? Bool == true)
    #expect(elapsed >= 0.3 && elapsed < 3, "answered after \(elapsed) s")
    try locker.connection.execute("ROLLBACK")
    #expect(server.total("p") == 0)
    #expect(RPC.result(server.sign("p", makeSigner(email: "late@example.org")))?["count"] as? Int == 1)
    server.closeInput()
    #expect(server.waitForExit() == 0)
  }

  /// A database that cannot be reached at start: one line on stderr without the password, exit 1.
  @Test func unreachableDatabaseAtStart() throws {
    let server = try ServerProcess(arguments: ["--db", "postgresql://ann:s3cret-pw@127.0.0.1:1/petitions"])
    #expect(server.waitForExit(timeout: 20) == 1)
    let message = server.standardError
    #expect(!message.contains("s3cret-pw"))
    #expect(message.contains("postgresql://ann@127.0.0.1:1/petitions"))
    #expect(message.split(separator: "\n").count == 1)
  }

  /// A host that takes the TCP connection and never answers: libpq waits forever by default,
  /// and the server hung at start, deaf to SIGTERM and the end of its input. It now gives up
  /// after the busy timeout (at least 2 s, libpq's least): one line on stderr, exit 1. A
  /// `connect_timeout` in the URI still wins.
  @Test func silentDatabaseAtStart() throws {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(listener) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    #expect(listen(listener, 8) == 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
    }
    let port = UInt16(bigEndian: address.sin_port)
    let started = Date()
    let server = try ServerProcess(arguments: [
      "--db", "postgresql://ann:s3cret-pw@127.0.0.1:\(port)/petitions", "--busy-timeout-ms", "2000",
    ])
    #expect(server.waitForExit(timeout: 30) == 1)
    let elapsed = Date().timeIntervalSince(started)
    #expect(elapsed >= 1.5 && elapsed < 10, "exited after \(elapsed) s")
    #expect(server.standardError.contains("timeout expired") && !server.standardError.contains("s3cret-pw"))
  }

  /// Four processes sign overlapping people into one petition at once: the count is the number
  /// of distinct people, each person has one signature, and every process saw the same id.
  @Test func fourProcessesStayExact() throws {
    let schema = TestDatabase.freshSchema("four")
    let first = try server(schema: schema)
    #expect(first.createPetition("shared") != nil)
    let people = 3000
    let perProcess = 1500
    let servers = Unchecked([first] + (try (1..<4).map { _ in try server(schema: schema) }))
    let results = Unchecked(NSMutableArray())
    let lock = NSLock()
    DispatchQueue.concurrentPerform(iterations: 4) { process in
      // Process k signs people k*500 ..< k*500+1500 (mod 3000): each person by two or three.
      let signers = (0..<perProcess).map { offset in
        makeSigner(email: "person\((process * 500 + offset) % people)@example.org")
      }
      let responses = servers.value[process].signInBatches("shared", signers, batchSize: 250)
      lock.withLock {
        for (index, response) in responses.enumerated() {
          results.value.add([signers[index]["email"] as! String, response])
        }
      }
    }
    var ids: [String: Set<String>] = [:]
    var failures = 0
    for case let pair as [Any] in results.value {
      let email = pair[0] as! String
      guard let result = (pair[1] as? [String: Any])?["result"] as? [String: Any],
        let id = result["signatureId"] as? String
      else {
        failures += 1
        continue
      }
      ids[email, default: []].insert(id)
    }
    #expect(failures == 0)
    #expect(ids.count == people)
    #expect(ids.values.allSatisfy { $0.count == 1 })
    #expect(first.total("shared") == people)
    #expect(
      try TestDatabase.psql("SELECT count(*), count(DISTINCT person_key) FROM \(schema).signatures")
        == "\(people)|\(people)")
    let groups = first.result("count", ["petition": "shared", "groupBy": "postalCode"])?["groups"] as? [[String: Any]]
    #expect(groups?.first?["count"] as? Int == people)
    for server in servers.value { server.closeInput() }
    for server in servers.value { #expect(server.waitForExit() == 0) }
  }

  /// Two servers sign into two petitions with goals (signs take each petition's lock), each
  /// write group into both, in opposite orders: every sign succeeds. Taken sign by sign in the
  /// order of the group, the locks made PostgreSQL's deadlock error fail half the groups.
  @Test func groupsSigningIntoPetitionsInOppositeOrdersDoNotDeadlock() throws {
    let schema = TestDatabase.freshSchema("order")
    let first = try server(schema: schema)
    #expect(first.createPetition("a", goal: 10_000_000) != nil)
    #expect(first.createPetition("b", goal: 10_000_000) != nil)
    let servers = Unchecked([first, try server(schema: schema)])
    let failures = Unchecked(NSMutableArray())
    let lock = NSLock()
    DispatchQueue.concurrentPerform(iterations: 2) { process in
      let order = process == 0 ? ["a", "b"] : ["b", "a"]
      var requests: [[String: Any]] = []
      for burst in 0..<8 {
        for petition in order {
          for index in 0..<40 {
            let signer = makeSigner(email: "p\(process)-\(burst)-\(index)@example.org")
            requests.append(
              RPC.request("\(process)-\(burst)-\(petition)-\(index)", "sign", signParams(petition, signer)))
          }
        }
      }
      let responses = servers.value[process].sendBatches(requests, batchSize: 80)
      lock.withLock {
        if responses.count != requests.count { failures.value.add("\(process): \(responses.count) answers") }
        for response in responses where response["result"] == nil { failures.value.add(response) }
      }
    }
    #expect(failures.value.count == 0, "\(failures.value.prefix(3))")
    #expect(first.total("a") == 640)
    #expect(first.total("b") == 640)
    for server in servers.value { server.closeInput() }
    for server in servers.value { #expect(server.waitForExit() == 0) }
  }

  /// Six servers pipelining signs with opt-ins and unsubscribes of the same twenty people, in
  /// different orders: every call succeeds. Each group locks the rows of its people; two groups
  /// that take them in different orders deadlock, and the database fails one. Retried whole,
  /// the group met the others again: ~600 of 1,200 calls were -32000. A group that conflicted
  /// now runs its calls one transaction each.
  @Test func serversPipeliningTheSamePeopleDoNotFailOnDeadlocks() throws {
    let schema = TestDatabase.freshSchema("people")
    let first = try server(schema: schema)
    #expect(first.createPetition("p") != nil)
    var list = [first]
    for _ in 1..<6 { list.append(try server(schema: schema)) }
    let servers = Unchecked(list)
    var requestsOf: [[[String: Any]]] = []
    for process in servers.value.indices {
      var requests: [[String: Any]] = []
      for index in 0..<200 {
        let person = "dl\(Int.random(in: 0..<20))@example.org"
        if index % 4 == 0 {
          var params = signParams("p", makeSigner(email: person))
          params["optIn"] = ["email": true]
          requests.append(RPC.request("\(process)-\(index)", "sign", params))
        } else {
          requests.append(RPC.request("\(process)-\(index)", "unsubscribe", ["email": person, "channels": ["email"]]))
        }
      }
      requestsOf.append(requests)
    }
    // One thread per server writes its requests a line at a time, as a client would, so the
    // servers' write groups form and overlap as they come.
    let writers = DispatchGroup()
    for (server, requests) in zip(servers.value, requestsOf) {
      let lines = Unchecked(requests.map { RPC.line($0) + "\n" })
      let target = Unchecked(server)
      writers.enter()
      Thread.detachNewThread {
        for line in lines.value {
          target.value.send(line)
          usleep(100)
        }
        writers.leave()
      }
    }
    writers.wait()
    var failures: [String] = []
    for (process, server) in servers.value.enumerated() {
      var answered = 0
      while answered < 200, let response = server.readObject(timeout: 60) {
        answered += 1
        if response["result"] == nil { failures.append("\(response)") }
      }
      if answered != 200 { failures.append("server \(process): \(answered) answers") }
    }
    let failed = failures.count
    #expect(failed == 0, "\(failures.prefix(3))")
    #expect(first.total("p") == 20)
    for server in servers.value { server.closeInput() }
    for server in servers.value { #expect(server.waitForExit() == 0) }
  }

  /// Single signs into two petitions with another call between them (not one run of signs), by
  /// two servers in opposite orders: the group locks its petitions in key order before its
  /// first call, so every sign succeeds (without that, PostgreSQL broke a deadlock every few
  /// groups, a second each: 2 minutes and ~260 of 600 signs -32000).
  @Test func singleSignsIntoPetitionsInOppositeOrdersDoNotDeadlock() throws {
    let schema = TestDatabase.freshSchema("cycle")
    let first = try server(schema: schema)
    #expect(first.createPetition("a", goal: 10_000_000) != nil)
    #expect(first.createPetition("b", goal: 10_000_000) != nil)
    let servers = Unchecked([first, try server(schema: schema)])
    let failures = Unchecked(NSMutableArray())
    let lock = NSLock()
    DispatchQueue.concurrentPerform(iterations: 2) { process in
      let (one, other) = process == 0 ? ("a", "b") : ("b", "a")
      var requests: [[String: Any]] = []
      for index in 0..<150 {
        requests.append(
          RPC.request("\(index)-1", "sign", signParams(one, makeSigner(email: "c\(process)-\(index)-1@example.org"))))
        requests.append(RPC.request("\(index)-2", "petition.get", ["id": one]))
        requests.append(
          RPC.request("\(index)-3", "sign", signParams(other, makeSigner(email: "c\(process)-\(index)-3@example.org"))))
      }
      let responses = servers.value[process].sendBatches(requests, batchSize: 3)
      lock.withLock {
        if responses.count != requests.count { failures.value.add("\(process): \(responses.count) answers") }
        for response in responses where response["result"] == nil { failures.value.add(response) }
      }
    }
    #expect(failures.value.count == 0, "\(failures.value.prefix(3))")
    #expect(first.total("a") == 300)
    #expect(first.total("b") == 300)
    for server in servers.value { server.closeInput() }
    for server in servers.value { #expect(server.waitForExit() == 0) }
  }

  /// A close answered while other servers sign into the petition is final: its count is the
  /// petition's count for good, and signs after it are 1003. Signs that had read `open` before
  /// the close used to commit after its answer (the count grew by hundreds).
  @Test func closeWhileOthersSignIsFinal() throws {
    let schema = TestDatabase.freshSchema("closing")
    let first = Unchecked(try server(schema: schema))
    #expect(first.value.createPetition("c", goal: 10_000_000) != nil)
    let signers = Unchecked(try (0..<3).map { _ in try server(schema: schema) })
    let closed = Unchecked(NSMutableArray())
    DispatchQueue.concurrentPerform(iterations: 4) { process in
      if process == 3 {
        usleep(300_000)
        if let petition = first.value.result("petition.close", ["id": "c"]) { closed.value.add(petition) }
        return
      }
      for burst in 0..<40 {
        let requests = (0..<50).map { index in
          RPC.request(
            "\(burst)-\(index)", "sign",
            signParams("c", makeSigner(email: "s\(process)-\(burst)-\(index)@example.org")))
        }
        let responses = signers.value[process].sendBatches(requests, batchSize: 50)
        if responses.contains(where: { RPC.errorCode($0) == 1003 }) { return }
      }
    }
    let petition = try #require(closed.value.firstObject as? [String: Any])
    #expect(petition["status"] as? String == "closed")
    let count = try #require(petition["count"] as? Int)
    #expect(count > 0)
    #expect(first.value.total("c") == count)
    #expect(try TestDatabase.psql("SELECT count(*) FROM \(schema).signatures") == "\(count)")
    for server in signers.value + [first.value] { server.closeInput() }
    for server in signers.value + [first.value] { #expect(server.waitForExit() == 0) }
  }

  /// PostgreSQL stopped at once (`pg_ctl stop -m immediate`) in the middle of pipelined signs,
  /// then started again: every acknowledged signature is there, the failed ones were answered
  /// -32000 retryable, and the same server process serves again.
  @Test func databaseRestartLosesNoAcknowledgedSign() throws {
    guard let cluster = ProcessInfo.processInfo.environment["PG_TEST_CLUSTER_DIR"],
      let bin = try? String(contentsOfFile: cluster + "/bin", encoding: .utf8).trimmingCharacters(
        in: .whitespacesAndNewlines)
    else {
      Issue.record(
        "PG_TEST_CLUSTER_DIR is not set: this test restarts the throw-away cluster of scripts/pg-test-cluster.sh")
      return
    }
    let schema = TestDatabase.freshSchema("restart")
    let server = try server(schema: schema)
    #expect(server.createPetition("p") != nil)
    let requests = (0..<6000).map { index in
      RPC.request("r\(index)", "sign", signParams("p", makeSigner(email: "signer\(index)@example.org")))
    }
    let stopped = SharedFlag()
    let restarted = SharedFlag()
    var seen = 0
    let responses = server.pipeline(requests, timeout: 120) { _ in
      seen += 1
      if seen == 1500 && !stopped.isSet {
        stopped.set()
        Thread.detachNewThread {
          _ = pgctl(bin, cluster, ["-m", "immediate", "-w", "stop"])
          Thread.sleep(forTimeInterval: 0.5)
          _ = pgctl(bin, cluster, ["-l", cluster + "/server.log", "-w", "-t", "60", "start"])
          restarted.set()
        }
      }
      return true
    }
    #expect(stopped.isSet)
    let deadline = Date().addingTimeInterval(60)
    while !restarted.isSet && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
    #expect(restarted.isSet)
    var acknowledged: Set<String> = []
    var retryable = 0
    var others: [String: Int] = [:]
    for response in responses.values {
      if let id = (response["result"] as? [String: Any])?["signatureId"] as? String {
        acknowledged.insert(id)
      } else if let error = response["error"] as? [String: Any], error["code"] as? Int == -32000,
        (error["data"] as? [String: Any])?["retryable"] as? Bool ?? true
      {
        retryable += 1
      } else {
        let error = response["error"] as? [String: Any]
        others["\(error?["code"] ?? "?") \(error?["message"] ?? "?")", default: 0] += 1
      }
    }
    #expect(others.isEmpty, "other answers: \(others)")
    #expect(responses.count == requests.count)
    #expect(acknowledged.count + retryable == responses.count)
    #expect(acknowledged.count >= 1500)
    // The same process serves again once the database is back (the first request may still
    // meet the old connection).
    var total: Int?
    for _ in 0..<50 where total == nil {
      total = server.total("p")
      if total == nil { Thread.sleep(forTimeInterval: 0.2) }
    }
    #expect(total != nil)
    let after = server.sign("p", makeSigner(email: "after-restart@example.org"))
    #expect((after?["result"] as? [String: Any])?["duplicate"] as? Bool == false)
    let stored = Set(
      (server.exportRecords("p", audience: "delivery") ?? []).compactMap { $0["signatureId"] as? String })
    let lost = acknowledged.subtracting(stored).count
    #expect(lost == 0, "acknowledged signatures missing after the restart")
    #expect(stored.count == (total ?? 0) + 1)
    server.closeInput()
    #expect(server.waitForExit() == 0)
  }

  /// copy-store from SQLite to PostgreSQL: petitions, counts, groups, exports, invalidation
  /// records and consent histories equal before and after (and a contacts export file's sha256
  /// through the real server); suppression keeps working; a second copy is refused; and back
  /// to a new SQLite file, equal again. Tables of other schemas in the database are left alone
  /// (copy-store analyses only its own: a database-wide ANALYZE locked every table of every
  /// schema in one transaction).
  @Test func copyStoreSQLiteToPostgresAndBack() throws {
    let directory = try TemporaryFolder()
    let sqlitePath = directory.file("source.sqlite3")
    try populate(try SQLiteStore(path: sqlitePath, busyTimeoutMilliseconds: 5000))
    let before = try describe(try SQLiteStore(path: sqlitePath, busyTimeoutMilliseconds: 5000))

    let schema = TestDatabase.freshSchema("copy")
    let bystander = TestDatabase.freshSchema("bystander")
    _ = try TestDatabase.psql(
      "CREATE SCHEMA \(bystander); CREATE TABLE \(bystander).other (n int); INSERT INTO \(bystander).other VALUES (1), (2)"
    )
    let copy = try ServerProcess(
      arguments: ["copy-store", "--from", sqlitePath, "--to", TestDatabase.uri!, "--pg-schema", schema])
    #expect(copy.waitForExit(timeout: 120) == 0)
    #expect(copy.standardError.contains("counts checked"))
    // reltuples is -1 until a table is first analysed (set at the analysing commit).
    #expect(
      try TestDatabase.psql("SELECT reltuples FROM pg_class WHERE oid = '\(bystander).other'::regclass") == "-1")
    #expect(
      try TestDatabase.psql("SELECT reltuples FROM pg_class WHERE oid = '\(schema).signatures'::regclass") != "-1")
    let copied = try TestDatabase.store(schema: schema)
    let after = try describe(copied)
    #expect(after.count == before.count)
    for (index, line) in after.enumerated() where index < before.count && line != before[index] {
      Issue.record("differs after the copy: \(before[index]) → \(line)")
    }

    // The same contacts export file through the real server on both stores.
    func exportHash(_ arguments: [String], _ name: String) throws -> String? {
      let server = try ServerProcess(arguments: arguments)
      defer {
        server.closeInput()
        _ = server.waitForExit()
      }
      let export = server.result(
        "export", ["petition": "p", "audience": "contacts", "format": "csv", "path": directory.file(name)])
      return export?["sha256"] as? String
    }
    let sourceHash = try exportHash(["--db", sqlitePath], "source.csv")
    #expect(sourceHash != nil)
    #expect(try exportHash(["--db", TestDatabase.uri!, "--pg-schema", schema], "copied.csv") == sourceHash)

    // Suppression works with the copied secret: an import cannot grant the unsubscribed person.
    let suppressed = ImportedSigning(
      petitionID: "p", signer: signing("p", "unsubscribed@example.org").signer, comment: nil, source: nil,
      signedAt: at(march1 + 9 * day), optIns: [.email: true])
    #expect(try copied.importSignature(suppressed, at: at(march1 + 9 * day)) == .duplicate)
    #expect(try copied.allRows("p", .contacts).allSatisfy { $0.email != "unsubscribed@example.org" })
    let fresh = try copied.sign(signing("p", "after-copy@example.org"), at: at(march1 + 9 * day))
    #expect(!fresh.isDuplicate && fresh.signatureID > (before.last ?? ""))

    let again = try ServerProcess(
      arguments: ["copy-store", "--from", sqlitePath, "--to", TestDatabase.uri!, "--pg-schema", schema])
    #expect(again.waitForExit(timeout: 60) == 1)
    #expect(again.standardError.contains("already holds 3 petitions"))

    let backPath = directory.file("back.sqlite3")
    let copyBack = try ServerProcess(
      arguments: ["copy-store", "--from", TestDatabase.uri!, "--pg-schema", schema, "--to", backPath])
    #expect(copyBack.waitForExit(timeout: 120) == 0)
    #expect(try describe(try SQLiteStore(path: backPath, busyTimeoutMilliseconds: 5000)) == (try describe(copied)))
  }

  /// copy-store only reads its source: a source schema that holds no store is refused (exit 1)
  /// and not created; it was created, migrated and copied as an empty store (exit 0).
  @Test func copyStoreRefusesASourceSchemaWithoutAStore() throws {
    let schema = TestDatabase.freshSchema("nosource")
    let directory = try TemporaryFolder()
    let copy = try ServerProcess(
      arguments: ["copy-store", "--from", TestDatabase.uri!, "--from-pg-schema", schema, "--to", directory.file("x")])
    #expect(copy.waitForExit(timeout: 60) == 1)
    #expect(copy.standardError.contains("holds no store"))
    #expect(
      try TestDatabase.psql("SELECT count(*) FROM information_schema.schemata WHERE schema_name = '\(schema)'") == "0")
    #expect(!FileManager.default.fileExists(atPath: directory.file("x")))
  }

  /// A store with every kind of record: confirmed and pending signatures, consent events,
  /// unsubscribes, an erasure, invalidations (one partly revalidated), imports, an anonymised
  /// petition.
  func populate(_ store: PetitionStore) throws {
    _ = try store.createPetition(newPetition("p", goal: 50), at: at(march1))
    _ = try store.createPetition(newPetition("q", confirmation: .email), at: at(march1 + 1))
    _ = try store.createPetition(newPetition("r"), at: at(march1 + 2))
    try store.performWriteGroup {
      for index in 0..<600 {
        let phone: String? = index % 4 == 0 ? "+1202555\(1000 + index)" : nil
        let optIns: Set<Channel> = index % 3 == 0 ? [.email] : (phone != nil ? [.sms] : [])
        _ = try? store.sign(
          signing(
            "p", "person\(index)@example.org", postalCode: "\(10000 + index % 23)", phone: phone, optIns: optIns,
            source: index % 5 == 0 ? nil : "src\(index % 3)"),
          at: at(march1 + Int64(index) * 3_600_000))
      }
    }
    _ = try store.sign(signing("p", "unsubscribed@example.org", optIns: [.email]), at: at(march1 + 5))
    try store.unsubscribe(
      Unsubscription(subject: .canonicalEmail("unsubscribed@example.org"), channels: [.email]), at: at(march1 + 6))
    _ = try store.erase(.canonicalEmail("person5@example.org"), at: at(march1 + 7))
    var tokens: [ConfirmationToken] = []
    for index in 0..<20 {
      _ = try store.sign(signing("q", "person\(index)@example.org", optIns: [.email]), at: at(march1 + 10)) {
        let token = newToken()
        tokens.append(token)
        return token
      }
    }
    for token in tokens.prefix(10) { _ = try store.confirm(tokenHash: token.hash, at: at(march1 + 20)) }
    let invalidation = try store.invalidate(
      Invalidation(
        petitionID: "p", reason: "fraud", match: InvalidationMatch(postalCode: "10003"),
        matchDescription: "{\"postalCode\":\"10003\"}", dryRun: false), at: at(march1 + day))
    _ = try store.invalidate(
      Invalidation(
        petitionID: "q", reason: "bots", match: InvalidationMatch(canonicalEmail: "person15@example.org"),
        matchDescription: "{}", dryRun: false), at: at(march1 + day))
    let someone = try store.allRows("p", .delivery).first!.signatureID
    _ = someone
    if let id = invalidation.invalidationID {
      _ = try store.revalidate(petitionID: "p", .invalidation(id), at: at(march1 + 2 * day))
      _ = try store.invalidate(
        Invalidation(
          petitionID: "p", reason: "again", match: InvalidationMatch(postalCode: "10004"), matchDescription: "{}",
          dryRun: false), at: at(march1 + 3 * day))
    }
    for index in 0..<30 {
      _ = try store.importSignature(
        ImportedSigning(
          petitionID: "r", signer: signing("r", "import\(index)@example.org").signer, comment: "c\(index)",
          source: "csv", signedAt: at(march1 - Int64(index) * day), optIns: [.email: index % 2 == 0, .sms: false]),
        at: at(march1 + 4 * day))
    }
    _ = try store.sign(signing("r", "person1@example.org", optIns: [.email]), at: at(march1 + 4 * day))
    _ = try store.closePetition(id: "r", at: at(march1 + 5 * day))
    _ = try store.anonymisePetition(id: "r", at: at(march1 + 6 * day))
  }

  /// What a user can see of a store, as lines.
  func describe(_ store: PetitionStore) throws -> [String] {
    var lines: [String] = []
    for petition in try store.petitions(status: nil) {
      lines.append(String(describing: petition))
      for grouping in CountGrouping.allCases {
        lines.append(
          String(
            describing: try store.count(CountQuery(petitionID: petition.id, grouping: grouping, window: TimeWindow()))))
      }
      lines.append(
        String(
          describing: try store.count(
            CountQuery(petitionID: petition.id, grouping: .postalCode, window: TimeWindow(since: at(march1 + day))))))
      for record in try store.invalidations(petitionID: petition.id) { lines.append(String(describing: record)) }
      if petition.anonymisedAt == nil {
        for audience in ExportAudience.allCases {
          lines += try store.allRows(petition.id, audience).map { String(describing: $0) }
        }
      }
    }
    for person in [
      "person0@example.org", "person1@example.org", "person3@example.org", "unsubscribed@example.org",
      "import2@example.org",
    ] {
      lines.append(String(describing: try store.consentHistory(.canonicalEmail(person))))
    }
    lines.append(String(describing: try store.consentHistory(.phone("+12025551004"))))
    // Last: the greatest signature id (new signatures continue after it).
    lines.append(try store.allRows("p", .delivery).map(\.signatureID).max() ?? "")
    return lines
  }
}

/// Runs pg_ctl on the test cluster as its owner (posix_spawn and waitpid: usable from any thread).
@discardableResult
func pgctl(_ bin: String, _ cluster: String, _ arguments: [String]) -> Int32 {
  var command = [bin + "/pg_ctl", "-D", cluster + "/data"] + arguments
  if getuid() == 0 { command = ["/usr/sbin/runuser", "-u", "postgres", "--"] + command }
  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
  let argv = command.map { strdup($0) } + [nil]
  defer { for pointer in argv { free(pointer) } }
  var child = pid_t()
  guard posix_spawn(&child, command[0], &actions, nil, argv, environ) == 0 else { return -1 }
  var status: Int32 = 0
  while waitpid(child, &status, 0) < 0 && errno == EINTR {}
  return (status >> 8) & 0xFF
}

/// A folder removed with its contents when released.
final class TemporaryFolder {
  let path: String
  init() throws {
    path = NSTemporaryDirectory() + "/pg-store-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }
  deinit { try? FileManager.default.removeItem(atPath: path) }
  func file(_ name: String) -> String { path + "/" + name }
}
