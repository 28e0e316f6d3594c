import Foundation
import TestSupport
import Testing

/// Writes `text` (or bytes) to a file.
private func write(_ text: String, to path: String) {
  FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
}

private func write(_ bytes: [UInt8], to path: String) {
  FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

private func errorData(_ response: [String: Any]?) -> [String: Any]? {
  (response?["error"] as? [String: Any])?["data"] as? [String: Any]
}

/// A generated import file of `rows` people: `person<i>@example.org`.
private func generatedFile(rows: Int, start: Int = 0) -> String {
  var text = "email,firstName,lastName,postalCode,signedAt,optInEmail\n"
  text.reserveCapacity(rows * 80)
  for index in start..<(start + rows) {
    text += "person\(index)@example.org,Ann,Smith,\(String(format: "%05d", 10000 + index % 89999)),"
    text += "2025-01-02T03:04:05Z,\(index % 2 == 0 ? "yes" : "no")\n"
  }
  return text
}

/// `import` through the real binary: files in the formats other tools export.
@Suite struct ImportEndToEnd {
  let directory = TemporaryDirectory()
  var store: String { directory.file("store.sqlite3") }

  func start() throws -> ServerProcess {
    let server = try ServerProcess.start(store: store)
    server.createPetition("p1")
    return server
  }

  func importFile(
    _ server: ServerProcess, _ name: String, _ extra: [String: Any] = [:], petition: String = "p1"
  ) -> [String: Any]? {
    server.call("import", ["petition": petition, "path": directory.file(name)].merging(extra) { $1 }, timeout: 120)
  }

  func contacts(_ server: ServerProcess) -> [String: [String: Any]] {
    var byEmail: [String: [String: Any]] = [:]
    for record in server.exportRecords("p1", audience: "contacts") ?? [] {
      byEmail[record["email"] as? String ?? ""] = record
    }
    return byEmail
  }

  func delivery(_ server: ServerProcess) -> [[String: Any]] {
    server.exportRecords("p1", audience: "delivery") ?? []
  }

  /// An Action Network export: can2_* columns, created_date read in UTC by default, source
  /// from the request for rows without one, consent only from opt-in columns.
  @Test func actionNetworkHeader() throws {
    let server = try start()
    write(
      """
      first_name,last_name,email,zip_code,can2_phone,created_date,can2_country,can2_sms_phone,email_opt_in,utm_source
      Ann,Smith,ann@example.org,20500,(202) 555-0101,2025-03-04 05:06:07,US,,yes,spring
      Bob,,bob@example.org,SW1A 1AA,+44 20 7946 0000,2025-03-05,GB,,no,
      ,,cy@example.org,10001,,,,,,

      """, to: directory.file("an.csv"))
    let result = try #require(RPC.result(importFile(server, "an.csv", ["source": "action-network"])))
    #expect(result["imported"] as? Int == 3)
    #expect(result["duplicates"] as? Int == 0)
    #expect(result["rejected"] as? Int == 0)
    #expect((result["errors"] as? [Any])?.isEmpty == true)
    #expect(result["count"] as? Int == 3)

    let people = contacts(server)
    #expect(Set(people.keys) == ["ann@example.org"], "only the explicit opt-in makes a contact")
    let ann = try #require(people["ann@example.org"])
    #expect(ann["phone"] as? String == "+12025550101")
    #expect(ann["source"] as? String == "spring")
    #expect(ann["signedAt"] as? String == "2025-03-04T05:06:07.000Z")
    #expect(ann["optInEmail"] as? Bool == true)
    let rows = delivery(server)
    let bob = try #require(rows.first { $0["postalCode"] as? String == "SW1A 1AA" })
    #expect(bob["country"] as? String == "GB")
    #expect(bob["firstName"] as? String == "Bob")
    #expect(bob["lastName"] as? String == "", "a missing name is stored empty")
    #expect(bob["signedAt"] as? String == "2025-03-05T00:00:00.000Z")
    let cy = try #require(rows.first { $0["postalCode"] as? String == "10001" })
    #expect(cy["firstName"] as? String == "" && cy["country"] as? String == "US")
    // Sources: the row's own, else the request's.
    let groups =
      RPC.result(server.call("count", ["petition": "p1", "groupBy": "source"]))?["groups"] as? [[String: Any]]
    let bySource = Dictionary(uniqueKeysWithValues: (groups ?? []).map { ($0["key"] as! String, $0["count"] as! Int) })
    #expect(bySource == ["spring": 1, "action-network": 2])
  }

  /// A Mailchimp export: `Email Address`, `First Name`, `Zip`, `Phone Number`, columns we do not
  /// know ignored; names compared ignoring case, spaces, `-` and `_`.
  @Test func mailchimpHeader() throws {
    let server = try start()
    write(
      """
      Email Address,First Name,Last Name,Address,Phone Number,ZIP,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,SMS-Opt-In,TIMESTAMP
      dee@example.org,Dee,Jones,"1 Main St, Springfield",202-555-0199,02139,2,2024-01-01 10:00:00,10.0.0.1,TRUE,2024-02-03 04:05:06
      eve@example.org,Eve,Stone,,,94110,3,,,,

      """, to: directory.file("mc.csv"))
    let result = try #require(RPC.result(importFile(server, "mc.csv")))
    #expect(result["imported"] as? Int == 2)
    let people = contacts(server)
    #expect(Set(people.keys) == ["dee@example.org"])
    #expect(people["dee@example.org"]?["optInSms"] as? Bool == true)
    #expect(people["dee@example.org"]?["optInEmail"] as? Bool == false)
    #expect(people["dee@example.org"]?["phone"] as? String == "+12025550199")
    #expect(people["dee@example.org"]?["signedAt"] as? String == "2024-02-03T04:05:06.000Z")
  }

  /// Quoted multi-line comments with commas and doubled quotes, a byte order mark and CRLF line
  /// ends: the comment arrives whole, line numbers of later rows count the comment's lines.
  @Test func quotedMultiLineCommentsBOMAndCRLF() throws {
    let server = try start()
    let text =
      "\u{FEFF}email,postalCode,comment\r\n"
      + "a@example.org,20500,\"First line, with a comma\r\nsecond \"\"quoted\"\" line\"\r\n"
      + "b@example.org,2050,bad zip\r\n"
    write(text, to: directory.file("bom.csv"))
    let result = try #require(RPC.result(importFile(server, "bom.csv")))
    #expect(result["imported"] as? Int == 1)
    #expect(result["rejected"] as? Int == 1)
    let errors = result["errors"] as? [[String: Any]]
    #expect(errors?.first?["line"] as? Int == 4, "the header is line 1, the quoted comment spans lines 2-3")
    let rows = delivery(server)
    #expect(rows.count == 1)
    #expect(rows.first?["comment"] as? String == "First line, with a comma\r\nsecond \"quoted\" line")
  }

  /// A row with a bad country still names a postal code or phone that no country accepts.
  @Test func badCountryStillReportsWhatNoCountryAccepts() throws {
    let server = try start()
    write(
      """
      email,postalCode,country,phone
      a@example.org,A1/B2,ZZ,12
      b@example.org,K1A 0B1,ZZ,(202) 555-0123

      """, to: directory.file("country.csv"))
    let result = try #require(RPC.result(importFile(server, "country.csv")))
    #expect(result["rejected"] as? Int == 2)
    let errors = try #require(result["errors"] as? [[String: Any]])
    let paths = errors.map { ($0["errors"] as! [[String: Any]]).map { $0["path"] as! String } }
    #expect(paths == [["/country", "/postalCode", "/phone"], ["/country"]])
  }

  /// Bad rows are rejected with their line and one {path, message} per bad column; the rest are
  /// imported. Every rejected row is counted.
  @Test func badRowsWithLineNumbers() throws {
    let server = try start()
    write(
      """
      email,firstName,postalCode,country,phone,optInEmail,optInSms,signedAt,source
      good@example.org,Good,20500,,,,,,
      not-an-email,Bad,20500,,,,,,
      bad2@example.org,see www.example.org,123,,,maybe,,,
      bad3@example.org,,,ZZ,,,,,
      bad4@example.org,,20500,,12,,,,
      bad5@example.org,,20500,,,,yes,,
      bad6@example.org,,20500,,,,,yesterday,
      ,,20500,,,,,,
      ok2@example.org,,20500,,,,,,

      """, to: directory.file("bad.csv"))
    let result = try #require(RPC.result(importFile(server, "bad.csv")))
    #expect(result["imported"] as? Int == 2)
    #expect(result["rejected"] as? Int == 7)
    let errors = try #require(result["errors"] as? [[String: Any]])
    let byLine = Dictionary(
      uniqueKeysWithValues: errors.map {
        ($0["line"] as! Int, ($0["errors"] as! [[String: Any]]).map { $0["path"] as! String })
      })
    #expect(byLine[3] == ["/email"])
    #expect(byLine[4] == ["/firstName", "/postalCode", "/optInEmail"])
    // The postal code is empty: wrong whatever the country.
    #expect(byLine[5] == ["/country", "/postalCode"])
    #expect(byLine[6] == ["/phone"])
    #expect(byLine[7] == ["/optInSms"])
    #expect(byLine[8] == ["/signedAt"])
    #expect(byLine[9] == ["/email"])
    #expect(
      errors.allSatisfy { entry in
        (entry["errors"] as? [[String: Any]])?.allSatisfy { $0["message"] is String } == true
      })
    #expect(server.total("p1") == 2)
  }

  /// A person twice in the file, or already signed with `sign`, counts in duplicates (canonical
  /// email: case, +tags and Gmail dots); the first signature's data stays.
  @Test func duplicatesWithinTheFileAndAgainstEarlierSigns() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "signed@example.org", firstName: "Original"))
    write(
      """
      email,firstName,postalCode
      Signed+import@Example.org,Imported,20500
      new.person@gmail.com,New,20500
      NewPerson@googlemail.com,Again,20500

      """, to: directory.file("dup.csv"))
    let result = try #require(RPC.result(importFile(server, "dup.csv")))
    #expect(result["imported"] as? Int == 1)
    #expect(result["duplicates"] as? Int == 2)
    #expect(result["count"] as? Int == 2)
    let names = Set(delivery(server).map { $0["firstName"] as? String ?? "" })
    #expect(names == ["Original", "New"])
  }

  /// Importing the same file again adds nothing: every row a duplicate, the count unchanged, no
  /// consent recorded twice.
  @Test func reimportAddsNothing() throws {
    let server = try start()
    write(generatedFile(rows: 300), to: directory.file("again.csv"))
    let first = try #require(RPC.result(importFile(server, "again.csv")))
    #expect(first["imported"] as? Int == 300)
    let contactsBefore = contacts(server).count
    let second = try #require(RPC.result(importFile(server, "again.csv")))
    #expect(second["imported"] as? Int == 0)
    #expect(second["duplicates"] as? Int == 300)
    #expect(second["count"] as? Int == 300)
    #expect(contacts(server).count == contactsBefore)
    #expect(contactsBefore == 150)
  }

  /// Rows without a signedAt: importing the same file again adds nothing, not even a consent
  /// event dated "now" that would override an opt-out imported in between.
  @Test func reimportWithoutTimesKeepsAnOptOut() throws {
    let server = try start()
    write("email,postalCode,optInEmail\nx@example.org,10001,yes\n", to: directory.file("yes.csv"))
    write("email,postalCode,optInEmail\nx@example.org,10001,no\n", to: directory.file("no.csv"))
    #expect(RPC.result(importFile(server, "yes.csv"))?["imported"] as? Int == 1)
    #expect(Set(contacts(server).keys) == ["x@example.org"])
    #expect(RPC.result(importFile(server, "no.csv"))?["duplicates"] as? Int == 1)
    #expect(contacts(server).isEmpty)
    #expect(RPC.result(importFile(server, "yes.csv"))?["duplicates"] as? Int == 1)
    #expect(contacts(server).isEmpty)
    let events = RPC.result(server.call("consent.history", ["email": "x@example.org"]))?["events"] as? [Any]
    #expect(events?.count == 2)
  }

  /// A file naming a person twice, first with a time, then (a duplicate) without one: the second
  /// row's opt-in is recorded at the person's signature's time, the same event as the first
  /// row's, so it is recorded once, on both stores (PostgreSQL's batch recorded it twice: it
  /// told the rows' events apart by their own times, given or not).
  @Test func repeatedRowInOneFileRecordsItsConsentOnce() throws {
    let server = try start()
    write(
      """
      email,postalCode,signedAt,optInEmail
      one@example.org,10001,2024-03-31T01:30:00Z,yes
      ONE+again@example.org,10001,,true

      """, to: directory.file("twice.csv"))
    let result = try #require(RPC.result(importFile(server, "twice.csv")))
    #expect(result["imported"] as? Int == 1 && result["duplicates"] as? Int == 1)
    let events = RPC.result(server.call("consent.history", ["email": "one@example.org"]))?["events"] as? [[String: Any]]
    #expect(events?.map { $0["at"] as? String } == ["2024-03-31T01:30:00.000Z"])
  }

  /// An unsubscribe by email suppresses the person's phone too, on the phone and sms channels:
  /// an import under another email with that number does not opt it back in (it did). A phone
  /// suppressed by an erasure does not block the email channel of someone else who shares it
  /// (an imported email opt-in was dropped).
  @Test func suppressionFollowsTheChannelsItNames() throws {
    let server = try start()
    server.createPetition("s0")
    _ = server.sign("s0", makeSigner(email: "un@example.org", phone: "2025550166"), ["optIn": ["email": true]])
    #expect(server.result("unsubscribe", ["email": "un@example.org"]) != nil)
    _ = server.sign("s0", makeSigner(email: "er@example.org", phone: "2025550155"), ["optIn": ["email": true]])
    #expect(server.result("person.erase", ["email": "er@example.org"])?["signatures"] as? Int == 1)
    write(
      """
      email,postalCode,phone,optInEmail,optInPhone,optInSms
      new@example.org,12345,2025550166,,yes,yes
      a1@example.org,12345,2025550155,yes,,

      """, to: directory.file("shared.csv"))
    #expect(RPC.result(importFile(server, "shared.csv"))?["imported"] as? Int == 2)
    let byEmail = contacts(server)
    #expect(byEmail["new@example.org"] == nil)
    #expect(byEmail["a1@example.org"]?["optInEmail"] as? Bool == true)
    let granted = (server.history(phone: "+12025550166") ?? []).filter { $0["granted"] as? Bool == true }
    #expect(granted.isEmpty)
  }

  /// A row dated in the future is refused: its consent would outrank every unsubscribe made
  /// before that date.
  @Test func futureTimesAreRefused() throws {
    let server = try start()
    write(
      "email,postalCode,signedAt,optInEmail\nf@example.org,10001,2999-01-01T00:00:00Z,yes\n"
        + "p@example.org,10001,2020-01-01T00:00:00Z,yes\n", to: directory.file("future.csv"))
    let result = try #require(RPC.result(importFile(server, "future.csv")))
    #expect(result["imported"] as? Int == 1)
    #expect(result["rejected"] as? Int == 1)
    let errors = result["errors"] as? [[String: Any]]
    #expect(errors?.first?["line"] as? Int == 2)
    let issues = errors?.first?["errors"] as? [[String: Any]]
    #expect(issues?.first?["path"] as? String == "/signedAt")
    #expect(issues?.first?["message"] as? String == "must not be in the future")
  }

  /// An unsubscribed person imported with an opt-in gets no consent: not a contact.
  @Test func suppressionIsRespected() throws {
    let server = try start()
    #expect(RPC.result(server.call("unsubscribe", ["email": "Gone@Example.org"])) != nil)
    write(
      """
      email,postalCode,optInEmail,phone,optInSms
      gone@example.org,20500,yes,2025550123,yes
      kept@example.org,20500,yes,,

      """, to: directory.file("suppressed.csv"))
    let result = try #require(RPC.result(importFile(server, "suppressed.csv")))
    #expect(result["imported"] as? Int == 2)
    let people = contacts(server)
    #expect(Set(people.keys) == ["kept@example.org"])
  }

  /// Dates without an offset are read in the request's timeZone, across daylight saving time:
  /// summer and winter, a time skipped when clocks go forward, a time that occurs twice.
  @Test func timeZoneConversion() throws {
    let server = try start()
    write(
      """
      email,postalCode,signedAt
      summer@example.org,20500,2025-07-01 12:00:00
      winter@example.org,20500,2025-01-15 12:00:00
      gap@example.org,20500,2025-03-09 02:30:00
      twice@example.org,20500,2025-11-02 01:30:00
      dateonly@example.org,20500,2025-07-04
      offset@example.org,20500,2025-07-01T12:00:00+02:00
      fraction@example.org,20500,2025-07-01 12:00:00.25

      """, to: directory.file("tz.csv"))
    let result = try #require(
      RPC.result(importFile(server, "tz.csv", ["timeZone": "America/New_York", "source": "tz"])))
    #expect(result["imported"] as? Int == 7)
    // Delivery rows have no email: tell them apart by signedAt, which is what is checked.
    let times = Set(delivery(server).compactMap { $0["signedAt"] as? String })
    #expect(
      times == [
        "2025-07-01T16:00:00.000Z",  // EDT, UTC-4
        "2025-01-15T17:00:00.000Z",  // EST, UTC-5
        "2025-03-09T07:30:00.000Z",  // skipped hour: read with the offset before the change
        "2025-11-02T05:30:00.000Z",  // occurs twice: the first (EDT)
        "2025-07-04T04:00:00.000Z",  // midnight local
        "2025-07-01T10:00:00.000Z",  // an explicit offset wins
        "2025-07-01T16:00:00.250Z",
      ])
  }

  /// An unknown time zone is -32602 at /timeZone; missing required params are listed.
  @Test func invalidParams() throws {
    let server = try start()
    write("email,postalCode\n", to: directory.file("empty-rows.csv"))
    let response = importFile(server, "empty-rows.csv", ["timeZone": "Mars/Olympus_Mons"])
    #expect(RPC.errorCode(response) == -32602)
    #expect(RPC.errorPaths(response) == ["/timeZone"])
    #expect(RPC.errorPaths(importFile(server, "empty-rows.csv", ["timeZone": "../../etc/passwd"])) == ["/timeZone"])
    let missing = server.call("import", [:])
    #expect(Set(RPC.errorPaths(missing)) == ["/petition", "/path"])
    #expect(RPC.errorPaths(importFile(server, "empty-rows.csv", ["extra": 1])) == ["/extra"])
    // A header alone imports nothing.
    let result = RPC.result(importFile(server, "empty-rows.csv"))
    #expect(result?["imported"] as? Int == 0 && result?["count"] as? Int == 0)
  }

  /// 1001 for an unknown petition, 1003 for a closed one (nothing imported).
  @Test func unknownAndClosedPetitions() throws {
    let server = try start()
    write("email,postalCode\na@example.org,20500\n", to: directory.file("one.csv"))
    #expect(RPC.errorCode(importFile(server, "one.csv", petition: "nope")) == 1001)
    server.createPetition("closed")
    _ = server.call("petition.close", ["id": "closed"])
    #expect(RPC.errorCode(importFile(server, "one.csv", petition: "closed")) == 1003)
    #expect(server.total("closed") == 0)
  }

  /// 1008 when the file cannot be read, is not CSV in UTF-8, or has no email column; error.data
  /// says which line; nothing of such a file is written.
  @Test func unreadableFiles() throws {
    let server = try start()
    let missing = importFile(server, "missing.csv")
    #expect(RPC.errorCode(missing) == 1008)
    #expect(errorData(missing)?["line"] is NSNull)
    #expect(RPC.errorCode(server.call("import", ["petition": "p1", "path": directory.path])) == 1008)

    // A pipe is not read (it could not be read twice, and may never end).
    #expect(mkfifo(directory.file("fifo.csv"), 0o600) == 0)
    let fifo = importFile(server, "fifo.csv")
    #expect(RPC.errorCode(fifo) == 1008)
    #expect((errorData(fifo)?["reason"] as? String)?.contains("regular") == true)

    write("", to: directory.file("empty.csv"))
    #expect(RPC.errorCode(importFile(server, "empty.csv")) == 1008)

    write("name,zip\nAnn,20500\n", to: directory.file("noemail.csv"))
    let noEmail = importFile(server, "noemail.csv")
    #expect(RPC.errorCode(noEmail) == 1008)
    #expect(errorData(noEmail)?["line"] as? Int == 1)

    write(
      "email,postalCode,comment\na@example.org,20500,ok\nb@example.org,20500,\"never closed\nmore\n",
      to: directory.file("quote.csv"))
    let unclosed = importFile(server, "quote.csv")
    #expect(RPC.errorCode(unclosed) == 1008)
    #expect(errorData(unclosed)?["line"] as? Int == 3)

    write(
      Array("email,postalCode\na@example.org,20500\nb@example.org,2050".utf8) + [0xFF] + [0x0A],
      to: directory.file("latin1.csv"))
    let invalid = importFile(server, "latin1.csv")
    #expect(RPC.errorCode(invalid) == 1008)
    #expect(errorData(invalid)?["line"] as? Int == 3)
    #expect(server.total("p1") == 0, "a file that is not CSV writes nothing, not even its good first rows")

    // Old Mac line ends (CR alone): not RFC 4180. Read as one record, every row would be lost
    // without a word (answered imported 0 before).
    write("email,zip\rcr1@example.org,10001\rcr2@example.org,10002\r", to: directory.file("mac.csv"))
    let mac = importFile(server, "mac.csv")
    #expect(RPC.errorCode(mac) == 1008)
    #expect(errorData(mac)?["line"] as? Int == 1)
    #expect((errorData(mac)?["reason"] as? String)?.contains("carriage return") == true)
  }

  /// $/progress: begin with the number of rows, reports of rows read that only grow, end before
  /// the response. (10,000 rows: exactly two write groups, then the end of the file.)
  @Test func progress() throws {
    let server = try start()
    write(generatedFile(rows: 10_000), to: directory.file("progress.csv"))
    server.sendLine(
      RPC.request(
        "imp", "import", ["petition": "p1", "path": directory.file("progress.csv"), "progressToken": "tok"]))
    var kinds: [String] = []
    var done: [Int] = []
    var response: [String: Any]? = nil
    while response == nil {
      guard let message = server.readObject(timeout: 120) else { break }
      if message["method"] as? String == "$/progress" {
        let params = message["params"] as? [String: Any]
        #expect(params?["token"] as? String == "tok")
        let value = params?["value"] as? [String: Any]
        kinds.append(value?["kind"] as? String ?? "?")
        done.append(value?["done"] as? Int ?? -1)
        if kinds.count == 1 { #expect(value?["total"] as? Int == 10_000) }
      } else {
        response = message
      }
    }
    #expect(RPC.result(response)?["imported"] as? Int == 10_000)
    #expect(kinds == ["begin", "report", "report", "end"])
    #expect(done == [0, 5_000, 10_000, 10_000])
  }

  /// $/cancelRequest stops the import at the next group: -32800 with what was done so far;
  /// committed groups stay; running the import again completes it.
  @Test func cancelKeepsCommittedRows() throws {
    let server = try start()
    let rows = 25_000  // five write groups
    write(generatedFile(rows: rows), to: directory.file("cancel.csv"))
    server.sendLine(
      RPC.request(
        "imp", "import", ["petition": "p1", "path": directory.file("cancel.csv"), "progressToken": 7]))
    var response: [String: Any]? = nil
    var sentCancel = false
    while response == nil {
      guard let message = server.readObject(timeout: 120) else { break }
      if message["method"] as? String == "$/progress" {
        let value = (message["params"] as? [String: Any])?["value"] as? [String: Any]
        if value?["kind"] as? String == "report" && !sentCancel {
          server.sendLine(["jsonrpc": "2.0", "method": "$/cancelRequest", "params": ["id": "imp"]])
          sentCancel = true
        }
      } else {
        response = message
      }
    }
    #expect(RPC.errorCode(response) == -32800)
    let data = try #require(errorData(response))
    let imported = try #require(data["imported"] as? Int)
    #expect(data["duplicates"] as? Int == 0 && data["rejected"] as? Int == 0)
    #expect(imported > 0 && imported < rows, "stopped after a committed group, before the end")
    #expect(server.total("p1") == imported, "committed groups stay")
    let again = try #require(RPC.result(importFile(server, "cancel.csv")))
    #expect(again["imported"] as? Int == rows - imported)
    #expect(again["duplicates"] as? Int == imported)
    #expect(again["count"] as? Int == rows)
  }

  /// An import cancelled while it waits behind another is answered at once, before the one
  /// running ends (it was answered only when that one ended: seconds, or minutes for a large
  /// file), and still says what it did (nothing): its -32800 carries `imported`, `duplicates`,
  /// `rejected` as every cancelled import's does (it had no data when cancelled before it ran).
  @Test func queuedImportCancelledSaysItDidNothing() throws {
    let server = try start()
    write(generatedFile(rows: 20_000), to: directory.file("first.csv"))
    write(generatedFile(rows: 10, start: 50_000), to: directory.file("second.csv"))
    server.sendLine(
      RPC.request("one", "import", ["petition": "p1", "path": directory.file("first.csv"), "progressToken": 1]))
    var answers: [String: [String: Any]] = [:]
    var order: [String] = []
    var sent = false
    while answers.count < 2, let message = server.readObject(timeout: 120) {
      if let id = message["id"] as? String {
        answers[id] = message
        order.append(id)
      }
      // Once the first runs, the second is queued behind it, and cancelled there.
      if message["method"] as? String == "$/progress" && !sent {
        sent = true
        server.sendLine(RPC.request("two", "import", ["petition": "p1", "path": directory.file("second.csv")]))
        server.sendLine(["jsonrpc": "2.0", "method": "$/cancelRequest", "params": ["id": "two"]])
      }
    }
    #expect(order == ["two", "one"])
    #expect(RPC.result(answers["one"])?["imported"] as? Int == 20_000)
    #expect(RPC.errorCode(answers["two"]) == -32800)
    let data = errorData(answers["two"])
    #expect(data?["imported"] as? Int == 0 && data?["duplicates"] as? Int == 0 && data?["rejected"] as? Int == 0)
    #expect(server.total("p1") == 20_000)
  }

  /// At most 1000 rejected rows are listed; all are counted.
  @Test func errorsListIsCapped() throws {
    let server = try start()
    var text = "email,postalCode\n"
    for index in 0..<1_500 { text += "bad\(index)@example.org,1\n" }
    write(text, to: directory.file("many-bad.csv"))
    let result = try #require(RPC.result(importFile(server, "many-bad.csv")))
    #expect(result["rejected"] as? Int == 1_500)
    let errors = result["errors"] as? [[String: Any]]
    #expect(errors?.count == 1_000)
    #expect(errors?.first?["line"] as? Int == 2)
    #expect(errors?.last?["line"] as? Int == 1_001)
  }

  /// A relative path is relative to the server's working directory.
  @Test func relativePath() throws {
    let server = try ServerProcess.start(store: store, workingDirectory: directory.path)
    server.createPetition("p1")
    write("email,postalCode\nrel@example.org,20500\n", to: directory.file("relative.csv"))
    let result = RPC.result(server.call("import", ["petition": "p1", "path": "relative.csv"]))
    #expect(result?["imported"] as? Int == 1)
  }
}
