import Foundation
import TestSupport
import Testing

/// Collects results from several threads.
private final class Collector: @unchecked Sendable {
  private let lock = NSLock()
  private var results: [Int: [String: [String: Any]]] = [:]

  func put(_ process: Int, _ responses: [String: [String: Any]]) { lock.withLock { results[process] = responses } }
  var all: [Int: [String: [String: Any]]] { lock.withLock { results } }
}

/// The canonical form of an example.org address (lower-cased, +tag dropped).
private func canonical(_ email: String) -> String {
  let lowered = email.lowercased()
  guard let at = lowered.lastIndex(of: "@") else { return lowered }
  let local = lowered[..<at].split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
  return String(local) + String(lowered[at...])
}

/// Durability under kill -9, exact counts with several processes on one store, and a store
/// locked by another process.
@Suite(.serialized) struct DurabilityEndToEnd {
  let directory = TemporaryDirectory()
  var store: String { directory.file("store.sqlite3") }

  /// Five rounds: pipelined signs stream in from a writer thread while acknowledgements are
  /// read; the server is killed with SIGKILL mid-stream; after a restart every acknowledged
  /// signature is there, with its signatureId.
  @Test func acknowledgedSignsSurviveKill9() throws {
    let setup = try ServerProcess.start(store: store)
    try #require(setup.createPetition("d") != nil)
    setup.closeInput()
    #expect(setup.waitForExit() == 0)

    var acknowledged: [String: String] = [:]  // signatureId by email
    for (round, killAfter) in [40, 170, 333, 90, 260].enumerated() {
      let server = try ServerProcess.start(store: store)
      let requests = (0..<1500).map { index in
        RPC.request(
          "r\(round)-\(index)", "sign",
          signParams("d", makeSigner(email: "r\(round)-\(index)@example.org"), ["optIn": ["email": true]]))
      }
      var read = 0
      var failures = 0
      let responses = server.pipeline(requests, timeout: 60) { message in
        read += 1
        if RPC.result(message) == nil { failures += 1 }
        if read >= killAfter {
          server.killHard()
          return false
        }
        return true
      }
      #expect(read == killAfter, "round \(round): only \(read) acknowledgements before the kill")
      #expect(failures == 0, "round \(round)")
      for (id, response) in responses {
        guard let signatureID = RPC.result(response)?["signatureId"] as? String else { continue }
        let index = id.split(separator: "-").last.map(String.init) ?? ""
        acknowledged["r\(round)-\(index)@example.org"] = signatureID
      }

      // Restart: every acknowledged signature of this round and the earlier ones is there.
      let check = try ServerProcess.start(store: store)
      let rows = try #require(check.exportRecords("d", audience: "contacts"))
      let exported = Dictionary(rows.map { ($0["email"] as? String ?? "", $0["signatureId"] as? String ?? "") }) {
        first, _ in first
      }
      let missing = acknowledged.filter { exported[$0.key] != $0.value }
      #expect(missing.isEmpty, "round \(round): \(missing.count) acknowledged signatures lost")
      let total = try #require(check.total("d"))
      #expect(total >= acknowledged.count)
      #expect(total == rows.count)
      #expect(Set(rows.compactMap { $0["signatureId"] as? String }).count == rows.count)
      // An acknowledged signer signing again is a duplicate with the same id.
      if let (email, id) = acknowledged.first {
        let again = RPC.result(check.sign("d", makeSigner(email: email)))
        #expect(again?["duplicate"] as? Bool == true)
        #expect(again?["signatureId"] as? String == id)
      }
      check.closeInput()
      #expect(check.waitForExit() == 0)
    }
  }

  /// Four processes on one store sign the same 300 people (as differently written emails) and
  /// 100 people of their own each, pipelined: every process then counts exactly 700, each shared
  /// person has one signatureId, and the export has no duplicates.
  @Test func fourProcessesCountExactly() throws {
    let servers = try (0..<4).map { _ in try ServerProcess.start(store: store) }
    try #require(servers[0].createPetition("c") != nil)
    let processes = Unchecked(servers)
    let collector = Collector()
    DispatchQueue.concurrentPerform(iterations: 4) { process in
      var requests: [[String: Any]] = []
      for step in 0..<300 {
        let shared = (step + process * 75) % 300
        // The same person, written differently by each process.
        let email = [
          "shared\(shared)@example.org", "Shared\(shared)@Example.org", "shared\(shared)+p2@example.org",
          "SHARED\(shared)+x@EXAMPLE.ORG",
        ][process]
        requests.append(
          RPC.request("s\(shared)", "sign", signParams("c", makeSigner(email: email), ["source": "p\(process)"])))
        if step % 3 == 0 {
          let own = step / 3
          requests.append(
            RPC.request(
              "o\(own)", "sign",
              signParams("c", makeSigner(email: "own\(process)-\(own)@example.org"), ["source": "p\(process)"])))
        }
      }
      collector.put(process, processes.value[process].pipeline(requests, timeout: 90))
    }
    let results = collector.all
    for process in 0..<4 {
      let responses = results[process] ?? [:]
      #expect(
        responses.count == 400,
        "process \(process), exit \(String(describing: servers[process].waitForExit(timeout: 1))): \(servers[process].standardError)"
      )
      #expect(responses.values.allSatisfy { RPC.result($0) != nil }, "process \(process)")
      #expect(servers[process].total("c") == 700, "process \(process)")
      #expect(servers[process].result("petition.get", ["id": "c"])?["count"] as? Int == 700)
    }
    for shared in 0..<300 {
      let answers = (0..<4).compactMap { RPC.result(results[$0]?["s\(shared)"]) }
      #expect(answers.count == 4)
      #expect(Set(answers.compactMap { $0["signatureId"] as? String }).count == 1, "shared \(shared)")
      #expect(answers.filter { $0["duplicate"] as? Bool == false }.count == 1, "shared \(shared)")
    }
    // Every count answered was at most 700, and the last signature made it exactly 700.
    let counts = results.values.flatMap { $0.values }.compactMap { RPC.result($0)?["count"] as? Int }
    #expect(counts.max() == 700)
    let fresh = results.values.flatMap { $0.values }.compactMap(RPC.result).filter { $0["duplicate"] as? Bool == false }
    #expect(Set(fresh.compactMap { $0["count"] as? Int }) == Set(1...700))

    let rows = try #require(servers[3].exportRecords("c", audience: "delivery"))
    #expect(rows.count == 700)
    #expect(Set(rows.compactMap { $0["signatureId"] as? String }).count == 700)
    let grouped = servers[2].result("count", ["petition": "c", "groupBy": "source"])?["groups"] as? [[String: Any]]
    #expect(grouped?.compactMap { $0["count"] as? Int }.reduce(0, +) == 700)
    // No person twice: contacts after everyone opts in has one row per canonical email.
    _ = servers[1].signInBatches(
      "c", (0..<300).map { makeSigner(email: "shared\($0)@example.org") }, extra: ["optIn": ["email": true]])
    let contacts = try #require(servers[0].exportRecords("c", audience: "contacts"))
    #expect(contacts.count == 300)
    #expect(Set(contacts.compactMap { ($0["email"] as? String).map(canonical) }).count == 300)
    #expect(servers[0].total("c") == 700)
  }

  /// Three processes sign one at a time into one petition (on SQLite the newest signatures are
  /// counted from their rows until whichever process commits the 512th folds them into the
  /// aggregates), then one pipelines more: every process's grouped and windowed counts equal
  /// what was signed.
  @Test func groupedCountsStayExactAcrossProcesses() throws {
    let servers = try (0..<3).map { _ in try ServerProcess.start(store: store) }
    try #require(servers[0].createPetition("g") != nil)
    let processes = Unchecked(servers)
    DispatchQueue.concurrentPerform(iterations: 3) { process in
      for index in 0..<250 {
        let signer = makeSigner(
          email: "one\(process)-\(index)@example.org", postalCode: String(format: "%05d", 10000 + index % 7))
        _ = processes.value[process].sign("g", signer, ["source": "p\(process)"])
      }
    }
    let batch = (0..<300).map { makeSigner(email: "batch\($0)@example.org", postalCode: "10000") }
    _ = servers[0].signInBatches("g", batch, extra: ["source": "batch"])
    var postal: [String: Int] = [:]
    for index in 0..<250 { postal[String(format: "%05d", 10000 + index % 7), default: 0] += 3 }
    postal["10000", default: 0] += 300
    for server in servers {
      #expect(
        server.total("g") == 1050, "exit \(String(describing: server.waitForExit(timeout: 1))): \(server.standardError)"
      )
      #expect(server.tally("g")["postalCode"] == postal)
      #expect(server.tally("g")["source"] == ["p0": 250, "p1": 250, "p2": 250, "batch": 300])
      let window = server.result("count", ["petition": "g", "since": "2000-01-01T00:00:00Z"])
      #expect(window?["total"] as? Int == 1050)
    }
  }

  /// A store locked by another process past --busy-timeout-ms answers -32000 and writes
  /// nothing; once the lock is released the same request succeeds.
  @Test(.sqliteFileOnly) func lockedStoreIsUnavailable() throws {
    let server = try ServerProcess.start(store: store, ["--busy-timeout-ms", "200"])
    try #require(server.createPetition("b") != nil)
    _ = server.sign("b", makeSigner(email: "first@example.org"))
    let lock = try #require(SQLiteLockHolder(path: store))
    defer { lock.release() }

    let started = Date()
    let refused = server.sign("b", makeSigner(email: "second@example.org"), ["optIn": ["email": true]])
    let waited = Date().timeIntervalSince(started)
    #expect(RPC.errorCode(refused) == -32000)
    #expect(waited >= 0.15, "answered after \(waited)s, before the busy timeout")
    #expect(waited < 4, "waited \(waited)s, longer than --busy-timeout-ms 200 allows")
    #expect(RPC.errorCode(server.call("petition.create", ["id": "locked", "title": "T", "target": "X"])) == -32000)
    #expect(RPC.errorCode(server.call("unsubscribe", ["email": "first@example.org"])) == -32000)
    #expect(RPC.errorCode(server.call("petition.close", ["id": "b"])) == -32000)

    lock.release()
    let retried = RPC.result(server.sign("b", makeSigner(email: "second@example.org"), ["optIn": ["email": true]]))
    #expect(retried?["duplicate"] as? Bool == false)
    #expect(retried?["count"] as? Int == 2)
    #expect(server.total("b") == 2)
    #expect(RPC.errorCode(server.call("petition.get", ["id": "locked"])) == 1001)
    #expect(server.result("petition.get", ["id": "b"])?["status"] as? String == "open")
    #expect(server.exportRecords("b", audience: "contacts")?.count == 1)
  }

  /// A batch of signs refused for a locked store writes none of them.
  @Test(.sqliteFileOnly) func lockedStoreRefusesAWholeBatch() throws {
    let server = try ServerProcess.start(store: store, ["--busy-timeout-ms", "200"])
    try #require(server.createPetition("b") != nil)
    let lock = try #require(SQLiteLockHolder(path: store))
    let responses = server.signInBatches("b", (0..<5).map { makeSigner(email: "batch\($0)@example.org") })
    lock.release()
    #expect(responses.count == 5)
    #expect(responses.allSatisfy { RPC.errorCode($0) == -32000 })
    #expect(server.total("b") == 0)
    let retried = server.signInBatches("b", (0..<5).map { makeSigner(email: "batch\($0)@example.org") })
    #expect(retried.compactMap { RPC.result($0)?["duplicate"] as? Bool } == [false, false, false, false, false])
    #expect(server.total("b") == 5)
  }

  /// Reads that arrive with a write refused for a lock are still answered: a store locked by
  /// another writer can be read.
  @Test(.sqliteFileOnly) func readsBesideARefusedWriteAreAnswered() throws {
    let server = try ServerProcess.start(store: store, ["--busy-timeout-ms", "200"])
    try #require(server.createPetition("r") != nil)
    _ = server.sign("r", makeSigner(email: "first@example.org"))
    let lock = try #require(SQLiteLockHolder(path: store))
    defer { lock.release() }
    let batch: [[String: Any]] = [
      RPC.request(1, "sign", ["petition": "r", "signer": makeSigner(email: "second@example.org")]),
      RPC.request(2, "count", ["petition": "r"]),
      RPC.request(3, "petition.get", ["id": "r"]),
    ]
    server.sendLine(batch)
    let answers = try #require(server.readJSON(timeout: 20) as? [[String: Any]])
    var byID: [Int: [String: Any]] = [:]
    for answer in answers { if let id = answer["id"] as? Int { byID[id] = answer } }
    #expect(RPC.errorCode(byID[1]) == -32000)
    #expect(RPC.result(byID[2])?["total"] as? Int == 1)
    #expect(RPC.result(byID[3])?["count"] as? Int == 1)
  }
}
