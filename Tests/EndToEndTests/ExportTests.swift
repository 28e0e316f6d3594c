import Foundation
import TestSupport
import Testing

private let deliveryColumns = ["signatureId", "firstName", "lastName", "postalCode", "country", "comment", "signedAt"]
private let contactColumns = [
  "signatureId", "email", "firstName", "lastName", "postalCode", "country", "phone", "optInEmail", "optInPhone",
  "optInSms", "source", "signedAt",
]

/// Whether `text` contains `part`, byte for byte (no grapheme rules: "\r\n" is two bytes).
private func containsBytes(_ text: String, _ part: String) -> Bool {
  let haystack = Array(text.utf8)
  let needle = Array(part.utf8)
  guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
  for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
    if Array(haystack[start..<(start + needle.count)]) == needle { return true }
  }
  return false
}

/// The lines of ndjson text (each ended by "\n"), parsed.
private func ndjsonObjects(_ text: String) -> [[String: Any]]? {
  guard text.isEmpty || text.utf8.last == UInt8(ascii: "\n") else { return nil }
  return text.split(separator: "\n", omittingEmptySubsequences: true).map {
    (RPC.parse(String($0)) as? [String: Any]) ?? [:]
  }
}

/// Inline (paged) `export` through the binary: audiences, formats, order, pages, CSV rules.
@Suite struct ExportPagesEndToEnd {
  let directory = TemporaryDirectory()

  func start() throws -> ServerProcess {
    let server = try ServerProcess.start(store: directory.file("store.sqlite3"))
    server.createPetition("p1")
    return server
  }

  func page(_ server: ServerProcess, _ params: [String: Any]) -> [String: Any]? {
    server.result("export", ["petition": "p1"].merging(params) { $1 })
  }

  /// Five people with different consent:
  /// alice email+phone (web), bob none, carol sms, dave email then unsubscribed, erin email+phone
  /// then unsubscribed from phone.
  func seedPeople(_ server: ServerProcess) {
    _ = server.sign(
      "p1", makeSigner(email: "alice@example.org", firstName: "Alice", phone: "(202) 555-0101"),
      ["optIn": ["email": true, "phone": true], "source": "web", "comment": "For the kids"])
    _ = server.sign("p1", makeSigner(email: "bob@example.org", firstName: "Bob", phone: "202-555-0102"))
    _ = server.sign(
      "p1", makeSigner(email: "carol@example.org", firstName: "Carol", phone: "+12025550103"), ["optIn": ["sms": true]])
    _ = server.sign("p1", makeSigner(email: "dave@example.org", firstName: "Dave"), ["optIn": ["email": true]])
    _ = server.sign(
      "p1", makeSigner(email: "erin@example.org", firstName: "Erin", phone: "2025550105"),
      ["optIn": ["email": true, "phone": true]])
    _ = server.result("unsubscribe", ["email": "dave@example.org"])
    _ = server.result("unsubscribe", ["email": "erin@example.org", "channels": ["phone"]])
  }

  /// Delivery has exactly its columns in json, ndjson and csv, and never an email or phone.
  @Test func deliveryNeverHasEmailOrPhone() throws {
    let server = try start()
    seedPeople(server)
    let json = try #require(page(server, ["audience": "delivery", "format": "json"]))
    let records = try #require(json["records"] as? [[String: Any]])
    #expect(records.count == 5)
    #expect(records.allSatisfy { Set($0.keys) == Set(deliveryColumns) })
    #expect(json["count"] as? Int == 5)
    #expect(json["nextCursor"] is NSNull)

    let ndjson = try #require(page(server, ["audience": "delivery", "format": "ndjson"])?["data"] as? String)
    let lines = try #require(ndjsonObjects(ndjson))
    #expect(lines.count == 5)
    #expect(lines.allSatisfy { Set($0.keys) == Set(deliveryColumns) })

    let csv = try #require(page(server, ["audience": "delivery", "format": "csv"])?["data"] as? String)
    let rows = parseCSV(csv)
    #expect(rows.first == deliveryColumns)
    #expect(rows.count == 6)
    #expect(rows.dropFirst().allSatisfy { $0.count == deliveryColumns.count })
    for text in [ndjson, csv, RPC.line(records)] {
      #expect(!text.contains("@example.org"))
      #expect(!text.contains("555"))
    }
  }

  /// Delivery rows carry the signer's data: names, postal code, country, comment (null when absent).
  @Test func deliveryRowValues() throws {
    let server = try start()
    seedPeople(server)
    let records = try #require(server.exportRecords("p1", audience: "delivery"))
    let alice = try #require(records.first)
    #expect(alice["firstName"] as? String == "Alice")
    #expect(alice["lastName"] as? String == "Lovelace")
    #expect(alice["postalCode"] as? String == "20001")
    #expect(alice["country"] as? String == "US")
    #expect(alice["comment"] as? String == "For the kids")
    #expect((alice["signatureId"] as? String)?.isEmpty == false)
    #expect(records[1]["comment"] is NSNull)
  }

  /// Contacts: only people with a channel they may be contacted on now, with per-channel flags.
  @Test func contactsOnlyConsentingPeople() throws {
    let server = try start()
    seedPeople(server)
    let records = try #require(server.exportRecords("p1", audience: "contacts"))
    #expect(records.allSatisfy { Set($0.keys) == Set(contactColumns) })
    let byEmail = Dictionary(uniqueKeysWithValues: records.map { ($0["email"] as? String ?? "", $0) })
    #expect(Set(byEmail.keys) == ["alice@example.org", "carol@example.org", "erin@example.org"])
    func flags(_ email: String) -> [Bool?] {
      ["optInEmail", "optInPhone", "optInSms"].map { byEmail[email]?[$0] as? Bool }
    }
    #expect(flags("alice@example.org") == [true, true, false])
    #expect(flags("carol@example.org") == [false, false, true])
    #expect(flags("erin@example.org") == [true, false, false])
    #expect(byEmail["alice@example.org"]?["phone"] as? String == "+12025550101")
    #expect(byEmail["alice@example.org"]?["source"] as? String == "web")
    #expect(byEmail["carol@example.org"]?["source"] is NSNull)
    #expect(byEmail["erin@example.org"]?["phone"] as? String == "+12025550105")
  }

  /// Contacts in csv: its header, booleans as true/false, null as an empty cell.
  @Test func contactsCSV() throws {
    let server = try start()
    seedPeople(server)
    let csv = try #require(page(server, ["audience": "contacts", "format": "csv"])?["data"] as? String)
    let rows = parseCSV(csv)
    #expect(rows.first == contactColumns)
    #expect(rows.count == 4)
    let carol = try #require(rows.first { $0.count > 1 && $0[1] == "carol@example.org" })
    #expect(carol[7] == "false")
    #expect(carol[8] == "false")
    #expect(carol[9] == "true")
    #expect(carol[10] == "")
    #expect(carol[6] == "'+12025550103")
    let ndjson = try #require(page(server, ["audience": "contacts", "format": "ndjson"])?["data"] as? String)
    #expect(ndjsonObjects(ndjson)?.allSatisfy { Set($0.keys) == Set(contactColumns) } == true)
    // Flags are JSON booleans, not numbers.
    #expect(containsBytes(ndjson.replacingOccurrences(of: " ", with: ""), #""optInSms":true"#))
    #expect(containsBytes(ndjson.replacingOccurrences(of: " ", with: ""), #""optInEmail":false"#))
  }

  /// Consent belongs to the person: an opt-in given on another petition shows on this one.
  @Test func consentFromAnotherPetition() throws {
    let server = try start()
    server.createPetition("p2")
    _ = server.sign("p1", makeSigner(email: "Pat@Example.org"))
    _ = server.sign("p2", makeSigner(email: "pat+later@example.org"), ["optIn": ["email": true]])
    let records = try #require(server.exportRecords("p1", audience: "contacts"))
    #expect(records.count == 1)
    #expect(records.first?["email"] as? String == "Pat@Example.org")
    #expect(records.first?["optInEmail"] as? Bool == true)
  }

  /// Phone and SMS consent cover the number they were given for: a row with another phone of
  /// the same person does not offer it (texts went to a number nobody opted in with). The
  /// newest opt-in names the number that may be used now.
  @Test func phoneConsentCoversItsNumber() throws {
    let server = try start()
    server.createPetition("p2")
    server.createPetition("p3")
    _ = server.sign("p1", makeSigner(email: "m@example.org", phone: "2025550111"), ["optIn": ["sms": true]])
    _ = server.sign("p2", makeSigner(email: "m@example.org", phone: "2025550222"))
    func sms(_ petition: String) -> [Bool?] {
      (server.exportRecords(petition, audience: "contacts") ?? []).map { $0["optInSms"] as? Bool }
    }
    #expect(sms("p1") == [true])
    #expect(sms("p2") == [])
    // A repeat sign with a new number and an opt-in: the consent covers the new number only.
    _ = server.sign("p1", makeSigner(email: "m@example.org", phone: "2025550333"), ["optIn": ["sms": true]])
    #expect(sms("p1") == [])
    _ = server.sign("p3", makeSigner(email: "m@example.org", phone: "2025550333"))
    #expect(sms("p3") == [true])
    let csv = try #require(server.result("export", ["petition": "p3", "audience": "contacts", "format": "csv"]))
    #expect(csv["count"] as? Int == 1)
  }

  /// Rows are ordered by signedAt, then signatureId: the signing order.
  @Test func rowsAreOrderedBySignedAtThenID() throws {
    let server = try start()
    var expected: [String] = []
    for index in 0..<6 {
      expected.append(
        RPC.result(server.sign("p1", makeSigner(email: "o\(index)@example.org")))?["signatureId"] as? String ?? "")
      if index % 2 == 0 { usleep(3000) }
    }
    // A batch signs many at the same millisecond: the signatureId breaks the tie.
    let batch = server.signInBatches("p1", (0..<20).map { makeSigner(email: "b\($0)@example.org") })
    expected += batch.compactMap { RPC.result($0)?["signatureId"] as? String }
    let records = try #require(server.exportRecords("p1", audience: "delivery"))
    let keys = records.map { ($0["signedAt"] as? String ?? "", $0["signatureId"] as? String ?? "") }
    #expect(keys.map(\.1) == expected)
    #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 < $1 })
  }

  /// 25 rows with limit 7: following nextCursor until null yields every row once, in order.
  @Test func pagesYieldEveryRowOnce() throws {
    let server = try start()
    _ = server.signInBatches("p1", (0..<25).map { makeSigner(email: "r\($0)@example.org", firstName: "R\($0)") })
    let all = try #require(server.exportRecords("p1", audience: "delivery"))
    #expect(all.count == 25)
    var seen: [String] = []
    var pageSizes: [Int] = []
    var cursor: String? = nil
    for _ in 0..<10 {
      var params: [String: Any] = ["audience": "delivery", "format": "json", "limit": 7]
      if let cursor { params["cursor"] = cursor }
      let result = try #require(page(server, params))
      let records = result["records"] as? [[String: Any]] ?? []
      #expect(result["count"] as? Int == records.count)
      pageSizes.append(records.count)
      seen += records.compactMap { $0["signatureId"] as? String }
      cursor = result["nextCursor"] as? String
      if cursor == nil { break }
    }
    #expect(cursor == nil)
    #expect(seen == all.compactMap { $0["signatureId"] as? String })
    #expect(Set(seen).count == 25)
    #expect(Array(pageSizes.prefix(3)) == [7, 7, 7])
    #expect(pageSizes.reduce(0, +) == 25)
  }

  /// Paged csv has the header on the first page only; paged ndjson has only rows.
  @Test func csvHeaderOnFirstPageOnly() throws {
    let server = try start()
    _ = server.signInBatches("p1", (0..<25).map { makeSigner(email: "r\($0)@example.org", firstName: "R\($0)") })
    for format in ["csv", "ndjson"] {
      var cursor: String? = nil
      var pages: [String] = []
      for _ in 0..<10 {
        var params: [String: Any] = ["audience": "delivery", "format": format, "limit": 7]
        if let cursor { params["cursor"] = cursor }
        let result = try #require(page(server, params))
        pages.append(result["data"] as? String ?? "")
        cursor = result["nextCursor"] as? String
        if cursor == nil { break }
      }
      #expect(cursor == nil)
      if format == "csv" {
        let parsed = pages.map(parseCSV)
        #expect(parsed.first?.first == deliveryColumns)
        #expect(parsed.dropFirst().allSatisfy { $0.first != deliveryColumns })
        let names = parsed.flatMap { $0 }.filter { $0 != deliveryColumns }.map { $0[1] }
        #expect(names == (0..<25).map { "R\($0)" })
        #expect(pages.dropFirst().allSatisfy { !$0.contains("signatureId") })
      } else {
        let names = pages.compactMap(ndjsonObjects).flatMap { $0 }.compactMap { $0["firstName"] as? String }
        #expect(names == (0..<25).map { "R\($0)" })
      }
    }
  }

  /// limit is 1 to 10000: 0, -1, 10001 and 1.5 are -32602 at /limit; 1 and 10000 work.
  @Test func limitBounds() throws {
    let server = try start()
    _ = server.signInBatches("p1", (0..<3).map { makeSigner(email: "l\($0)@example.org") })
    for limit: Any in [0, -1, 10_001, 1.5] {
      let response = server.call(
        "export", ["petition": "p1", "audience": "delivery", "format": "json", "limit": limit])
      #expect(RPC.errorCode(response) == -32602, "limit \(limit)")
      #expect(RPC.errorPaths(response) == ["/limit"], "limit \(limit)")
    }
    let one = page(server, ["audience": "delivery", "format": "json", "limit": 1])
    #expect((one?["records"] as? [Any])?.count == 1)
    #expect(one?["nextCursor"] is String)
    let most = page(server, ["audience": "delivery", "format": "json", "limit": 10_000])
    #expect((most?["records"] as? [Any])?.count == 3)
    #expect(most?["nextCursor"] is NSNull)
  }

  /// Without limit a page holds 1000 rows.
  @Test func defaultLimitIs1000() throws {
    let server = try start()
    _ = server.signInBatches("p1", (0..<1001).map { makeSigner(email: "d\($0)@example.org") })
    let first = try #require(page(server, ["audience": "delivery", "format": "json"]))
    #expect((first["records"] as? [Any])?.count == 1000)
    let cursor = try #require(first["nextCursor"] as? String)
    let second = page(server, ["audience": "delivery", "format": "json", "cursor": cursor])
    #expect((second?["records"] as? [Any])?.count == 1)
    #expect(second?["nextCursor"] is NSNull)
  }

  /// A cursor that export did not return is -32602 at /cursor.
  @Test(arguments: ["zzz", "", "not a cursor", "0", "{}"])
  func badCursor(cursor: String) throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "a@example.org"))
    let response = server.call(
      "export", ["petition": "p1", "audience": "delivery", "format": "json", "cursor": cursor])
    #expect(RPC.errorCode(response) == -32602)
    #expect(RPC.errorPaths(response) == ["/cursor"])
  }

  /// CSV is RFC 4180: CRLF line ends, fields with comma, quote, CR or LF quoted, quotes doubled,
  /// no BOM; non-ASCII kept as UTF-8.
  @Test func csvQuoting() throws {
    let server = try start()
    let comments = [#"He said "hi", then"# + "\nleft", "a,b", "x\r\ny", "plain", "Zoë 😀"]
    for (index, comment) in comments.enumerated() {
      _ = server.sign("p1", makeSigner(email: "q\(index)@example.org", lastName: "O'Neil, Jr."), ["comment": comment])
    }
    let csv = try #require(page(server, ["audience": "delivery", "format": "csv"])?["data"] as? String)
    #expect(csv.unicodeScalars.first != "\u{FEFF}")
    #expect(Array(csv.utf8.suffix(2)) == [13, 10])
    #expect(containsBytes(csv, "\"He said \"\"hi\"\", then\nleft\""))
    #expect(containsBytes(csv, ",\"a,b\","))
    #expect(containsBytes(csv, ",\"x\r\ny\","))
    #expect(containsBytes(csv, ",plain,"))
    #expect(containsBytes(csv, ",\"O'Neil, Jr.\","))
    #expect(containsBytes(csv, ",Zoë 😀,"))
    // Every line feed outside quotes is preceded by a CR.
    let header = "signatureId,firstName,lastName,postalCode,country,comment,signedAt\r\n"
    #expect(Array(csv.utf8.prefix(header.utf8.count)) == Array(header.utf8))
    let rows = parseCSV(csv)
    #expect(rows.count == comments.count + 1)
    #expect(rows.dropFirst().map { $0[5] } == comments)
    #expect(rows.dropFirst().allSatisfy { $0[2] == "O'Neil, Jr." })
  }

  /// Cells beginning with =, +, -, @, tab or CR get a leading ' in CSV (quoted when needed);
  /// json and ndjson keep the value as it is.
  @Test func csvFormulaGuard() throws {
    let server = try start()
    _ = server.sign(
      "p1", makeSigner(email: "f1@example.org", firstName: "=SUM(A1)", lastName: "+Plus"), ["comment": "@cmd"])
    _ = server.sign(
      "p1", makeSigner(email: "f2@example.org", firstName: "-Minus", lastName: "@At", postalCode: "-12", country: "DE"),
      ["comment": "\tTabbed"])
    _ = server.sign("p1", makeSigner(email: "f3@example.org", firstName: "Safe"), ["comment": "=1+2, \"q\""])
    _ = server.sign("p1", makeSigner(email: "f4@example.org", firstName: "Cr"), ["comment": "\rStarts with CR"])
    let csv = try #require(page(server, ["audience": "delivery", "format": "csv"])?["data"] as? String)
    let rows = Array(parseCSV(csv).dropFirst())
    try #require(rows.count == 4)
    #expect(rows[0][1] == "'=SUM(A1)")
    #expect(rows[0][2] == "'+Plus")
    #expect(rows[0][5] == "'@cmd")
    #expect(rows[1][1] == "'-Minus")
    #expect(rows[1][2] == "'@At")
    #expect(rows[1][3] == "'-12")
    #expect(rows[1][5] == "'\tTabbed")
    #expect(rows[2][5] == "'=1+2, \"q\"")
    #expect(rows[3][5] == "'\rStarts with CR")
    #expect(containsBytes(csv, ",'=SUM(A1),'+Plus,"))
    #expect(containsBytes(csv, "\"'=1+2, \"\"q\"\"\""))
    let json = try #require(server.exportRecords("p1", audience: "delivery"))
    #expect(json.first?["firstName"] as? String == "=SUM(A1)")
    #expect(json[1]["comment"] as? String == "\tTabbed")
    let ndjson = page(server, ["audience": "delivery", "format": "ndjson"])?["data"] as? String ?? ""
    #expect(ndjsonObjects(ndjson)?.first?["firstName"] as? String == "=SUM(A1)")
  }

  /// Phones in contacts csv are guarded too: '+12025550123.
  @Test func csvPhoneCellsAreGuarded() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "a@example.org", phone: "(202) 555-0123"), ["optIn": ["sms": true]])
    let csv = try #require(page(server, ["audience": "contacts", "format": "csv"])?["data"] as? String)
    let rows = parseCSV(csv)
    #expect(rows.count == 2)
    #expect(rows.last?[6] == "'+12025550123")
    #expect(containsBytes(csv, ",'+12025550123,"))
    #expect(server.exportRecords("p1", audience: "contacts")?.first?["phone"] as? String == "+12025550123")
  }

  /// since and until select rows by signedAt (inclusive, exclusive) in exports too.
  @Test func exportWindow() throws {
    let server = try start()
    for index in 0..<5 {
      _ = server.sign("p1", makeSigner(email: "w\(index)@example.org"))
      usleep(4000)
    }
    let all = try #require(server.exportRecords("p1", audience: "delivery"))
    let times = all.compactMap { $0["signedAt"] as? String }
    try #require(Set(times).count == 5)
    let window = try #require(
      server.exportRecords("p1", audience: "delivery", extra: ["since": times[1], "until": times[4]]))
    #expect(
      window.compactMap { $0["signatureId"] as? String } == all[1..<4].compactMap { $0["signatureId"] as? String })
    let bad = server.call("export", ["petition": "p1", "audience": "delivery", "format": "json", "since": "soon"])
    #expect(RPC.errorPaths(bad) == ["/since"])
  }

  /// An unknown petition is 1001; a closed one can still be exported.
  @Test func unknownAndClosedPetitions() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "a@example.org"))
    _ = server.result("petition.close", ["id": "p1"])
    #expect(server.exportRecords("p1", audience: "delivery")?.count == 1)
    let unknown = server.call("export", ["petition": "nope", "audience": "delivery", "format": "csv"])
    #expect(RPC.errorCode(unknown) == 1001)
  }

  /// An empty petition: csv has just the header, json no records, ndjson no text.
  @Test func emptyExports() throws {
    let server = try start()
    let csv = page(server, ["audience": "contacts", "format": "csv"])
    #expect(parseCSV(csv?["data"] as? String ?? "") == [contactColumns])
    #expect(csv?["count"] as? Int == 0)
    #expect(csv?["nextCursor"] is NSNull)
    let json = page(server, ["audience": "delivery", "format": "json"])
    #expect((json?["records"] as? [Any])?.isEmpty == true)
    #expect(page(server, ["audience": "delivery", "format": "ndjson"])?["data"] as? String == "")
  }
}
