import Foundation
import SQLite
import TestSupport
import Testing

private func signLine(_ id: Int, petition: String = "p") -> String {
  #"{"jsonrpc":"2.0","id":\#(id),"method":"sign","params":{"petition":"\#(petition)","signer":{"email":"copy\#(id)@example.org","firstName":"Ann","lastName":"Lee","postalCode":"\#(10000 + id % 97)"},"optIn":{"email":true},"source":"web"}}"#
    + "\n"
}

private let createLine =
  #"{"jsonrpc":"2.0","id":0,"method":"petition.create","params":{"id":"p","title":"P","target":"T"}}"# + "\n"

/// `petition-rpc copy-store` between two SQLite files, through the real binary. (From SQLite to
/// PostgreSQL and back: ServerOnPostgresTests.)
@Suite(.serialized, .sqliteFileOnly) struct CopyStoreTests {
  let directory = TemporaryDirectory()

  /// A destination that holds only an unsubscribe is refused with nothing written: copying would
  /// bring the source's secret, under which the destination's suppression entries match no one
  /// (an import could then opt the unsubscribed person back in).
  @Test func destinationWithAnUnsubscribeIsRefused() throws {
    let source = directory.file("source.sqlite3")
    let destination = directory.file("destination.sqlite3")
    let seeded = try runServer(["--db", source], stdin: createLine + signLine(1))
    #expect(seeded.stdout.components(separatedBy: "\n").filter { $0.contains(#""result""#) }.count == 2)
    let unsubscribe = #"{"jsonrpc":"2.0","id":1,"method":"unsubscribe","params":{"email":"victim@example.org"}}"#
    #expect(try runServer(["--db", destination], stdin: unsubscribe + "\n").stdout.contains(#""channels""#))

    let copy = try runServer(["copy-store", "--from", source, "--to", destination])
    #expect(copy.status == 1)
    #expect(
      copy.stderr.contains("already holds 0 petitions, 0 consent events and 3 suppression entries"), "\(copy.stderr)")

    // Nothing was copied, and the unsubscribe still holds against an import that opts them in.
    let csv = directory.file("people.csv")
    try "email,zip,email_opt_in\nvictim@example.org,10001,yes\n".write(toFile: csv, atomically: true, encoding: .utf8)
    let server = try ServerProcess(arguments: ["--db", destination])
    defer {
      server.closeInput()
      _ = server.waitForExit()
    }
    #expect((server.call("count", ["petition": "p"])?["error"] as? [String: Any])?["code"] as? Int == 1001)
    _ = server.result("petition.create", ["id": "e", "title": "E", "target": "T"])
    #expect(server.result("import", ["petition": "e", "path": csv])?["imported"] as? Int == 1)
    let contacts = server.result("export", ["petition": "e", "audience": "contacts", "format": "json"])
    #expect((contacts?["records"] as? [Any])?.count == 0, "\(String(describing: contacts))")
  }

  /// SIGINT during a copy (here while it waits for the destination another process holds
  /// locked): exit 1 with one line saying nothing was kept, not death by the signal (the
  /// contract: copy-store exits 0 or 1); the copy then runs again to the end.
  @Test func interruptedCopyExitsOneAndCanRunAgain() throws {
    let source = directory.file("interrupted-source.sqlite3")
    let destination = directory.file("interrupted-destination.sqlite3")
    _ = try runServer(["--db", source], stdin: createLine + signLine(1) + signLine(2))
    _ = try runServer(["--db", destination], stdin: "")
    let locker = try Connection(path: destination)
    try locker.execute("BEGIN IMMEDIATE")
    let copy = try ServerProcess(arguments: ["copy-store", "--from", source, "--to", destination])
    usleep(1_000_000)  // the copy now waits for the destination's write lock
    copy.signal(SIGINT)
    #expect(copy.waitForExit(timeout: 10) == 1)
    #expect(copy.standardError.contains("interrupted before the copy was committed"), "\(copy.standardError)")
    try locker.execute("ROLLBACK")
    let again = try runServer(["copy-store", "--from", source, "--to", destination])
    #expect(again.status == 0, "\(again.stderr)")
    #expect(again.stderr.contains("counts checked"))
  }

  /// A source another server keeps signing into while it is copied: the copy reads one snapshot
  /// and checks the destination against what it read (not against counts taken before), so it
  /// succeeds, and the destination's counts agree with its rows.
  @Test func storeInUseIsCopiedFromOneSnapshot() throws {
    let source = directory.file("busy.sqlite3")
    let destination = directory.file("copy.sqlite3")
    var seed = createLine
    for id in 1...3000 { seed += signLine(id) }
    _ = try runServer(["--db", source], stdin: seed)

    let writer = try ServerProcess(arguments: ["--db", source])
    var more = ""
    for id in 3001...23_000 { more += signLine(id) }
    let writing = writer.sendInBackground(Array(more.utf8))
    // The writer is under way before the copy starts.
    #expect(writer.readLine(timeout: 30)?.contains(#""result""#) == true)
    let copy = try runServer(["copy-store", "--from", source, "--to", destination])
    #expect(copy.status == 0, "\(copy.stderr)")
    #expect(copy.stderr.contains("counts checked"))
    _ = writing.wait(timeout: 120)
    writer.closeInput()
    _ = writer.readToEnd(timeout: 120)
    #expect(writer.waitForExit(timeout: 60) == 0)

    let server = try ServerProcess(arguments: ["--db", destination])
    defer {
      server.closeInput()
      _ = server.waitForExit()
    }
    let total = try #require(server.result("count", ["petition": "p"])?["total"] as? Int)
    #expect(total >= 3000 && total <= 23_000)
    let groups = server.result("count", ["petition": "p", "groupBy": "postalCode"])?["groups"] as? [[String: Any]]
    #expect(groups?.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == total)
    let page = server.result("export", ["petition": "p", "audience": "delivery", "format": "json", "limit": 10000])
    let first = page?["count"] as? Int ?? 0
    #expect(first == min(total, 10000))
  }
}
