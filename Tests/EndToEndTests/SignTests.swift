import Foundation
import TestSupport
import Testing

private func bytes(_ value: Any?) -> [UInt8] { Array((value as? String ?? "").utf8) }

/// `sign` through the binary: dedup on the canonical email, consent, normalisation and the rules
/// of the Signer fields. Rejected signs must write nothing, so many tests end by checking count.
@Suite struct SignEndToEnd {
  let directory = TemporaryDirectory()

  func start(petition: String = "p1") throws -> ServerProcess {
    let server = try ServerProcess.start(store: directory.file("store.sqlite3"))
    server.createPetition(petition)
    return server
  }

  /// A sign answers `{signatureId, petition, duplicate, status, count}` with the count including it.
  @Test func signResultShape() throws {
    let server = try start()
    let first = try #require(RPC.result(server.sign("p1", makeSigner(email: "ada@example.org"))))
    #expect(Set(first.keys) == ["signatureId", "petition", "duplicate", "status", "count"])
    #expect((first["signatureId"] as? String)?.isEmpty == false)
    #expect(first["petition"] as? String == "p1")
    #expect(first["duplicate"] as? Bool == false)
    #expect(first["count"] as? Int == 1)
    let second = try #require(RPC.result(server.sign("p1", makeSigner(email: "grace@example.org"))))
    #expect(second["count"] as? Int == 2)
    #expect(second["signatureId"] as? String != first["signatureId"] as? String)
  }

  /// Case, `+tag`, Gmail dots and googlemail.com all name one person: duplicates with the first
  /// signatureId and an unchanged count.
  @Test func gmailVariantsAreOnePerson() throws {
    let server = try start()
    let first = try #require(RPC.result(server.sign("p1", makeSigner(email: "jane.doe@gmail.com"))))
    let id = try #require(first["signatureId"] as? String)
    for variant in [
      "JANE.DOE@GMAIL.COM", "janedoe@gmail.com", "jane.doe+petitions@gmail.com", "j.a.n.e.d.o.e@googlemail.com",
      "Jane.Doe+x@GoogleMail.com", "  jane.doe@gmail.com  ",
    ] {
      let result = RPC.result(server.sign("p1", makeSigner(email: variant)))
      #expect(result?["duplicate"] as? Bool == true, "\(variant)")
      #expect(result?["signatureId"] as? String == id, "\(variant)")
      #expect(result?["count"] as? Int == 1, "\(variant)")
    }
    #expect(server.total("p1") == 1)
  }

  /// Elsewhere case and `+tag` still fold, but dots are significant (only Gmail ignores them).
  @Test func nonGmailDotsAreDistinct() throws {
    let server = try start()
    let first = try #require(RPC.result(server.sign("p1", makeSigner(email: "Sam.Lee@Example.org"))))
    let upper = RPC.result(server.sign("p1", makeSigner(email: "SAM.LEE+news@EXAMPLE.ORG")))
    #expect(upper?["duplicate"] as? Bool == true)
    #expect(upper?["signatureId"] as? String == first["signatureId"] as? String)
    let undotted = RPC.result(server.sign("p1", makeSigner(email: "samlee@example.org")))
    #expect(undotted?["duplicate"] as? Bool == false)
    #expect(undotted?["count"] as? Int == 2)
    // Lower-casing is Unicode lower-casing.
    _ = server.sign("p1", makeSigner(email: "\u{E9}lise@example.org"))
    #expect(RPC.result(server.sign("p1", makeSigner(email: "\u{C9}LISE@EXAMPLE.ORG")))?["duplicate"] as? Bool == true)
    #expect(server.total("p1") == 3)
  }

  /// The email is stored as given (trimmed), not in its canonical form.
  @Test func emailIsStoredAsGivenTrimmed() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "  Jane.Doe+Petitions@GMail.com "), ["optIn": ["email": true]])
    let rows = try #require(server.exportRecords("p1", audience: "contacts"))
    #expect(rows.map { $0["email"] as? String } == ["Jane.Doe+Petitions@GMail.com"])
  }

  /// The same person on two petitions signs each once.
  @Test func onePersonSignsEachPetitionOnce() throws {
    let server = try start()
    server.createPetition("p2")
    let one = RPC.result(server.sign("p1", makeSigner(email: "a@example.org")))
    let two = RPC.result(server.sign("p2", makeSigner(email: "A@example.org")))
    #expect(one?["duplicate"] as? Bool == false)
    #expect(two?["duplicate"] as? Bool == false)
    #expect(two?["petition"] as? String == "p2")
    #expect(two?["count"] as? Int == 1)
  }

  /// A duplicate keeps the first signature's data: the delivery export shows the first name,
  /// postal code and comment.
  @Test func duplicateKeepsTheFirstSignaturesData() throws {
    let server = try start()
    _ = server.sign(
      "p1", makeSigner(email: "a@example.org", firstName: "First", postalCode: "10001"), ["comment": "first words"])
    usleep(5000)
    let again = RPC.result(
      server.sign(
        "p1", makeSigner(email: "A@Example.org", firstName: "Second", postalCode: "94105"),
        ["comment": "second words", "source": "sms"]))
    #expect(again?["duplicate"] as? Bool == true)
    let rows = try #require(server.exportRecords("p1", audience: "delivery"))
    #expect(rows.count == 1)
    #expect(rows.first?["firstName"] as? String == "First")
    #expect(rows.first?["postalCode"] as? String == "10001")
    #expect(rows.first?["comment"] as? String == "first words")
  }

  /// An opt-in given with a duplicate sign is recorded as fresh consent: the person now appears in
  /// contacts, with the first signature's email and data.
  @Test func duplicateRecordsAFreshOptIn() throws {
    let server = try start()
    let first = RPC.result(server.sign("p1", makeSigner(email: "a@example.org", phone: "202-555-0123")))
    #expect(server.exportRecords("p1", audience: "contacts")?.isEmpty == true)
    let again = RPC.result(
      server.sign(
        "p1", makeSigner(email: "A+later@example.org", firstName: "Other", phone: "202-555-0123"),
        ["optIn": ["email": true, "sms": true]]))
    #expect(again?["duplicate"] as? Bool == true)
    let rows = try #require(server.exportRecords("p1", audience: "contacts"))
    #expect(rows.count == 1)
    #expect(rows.first?["signatureId"] as? String == first?["signatureId"] as? String)
    #expect(rows.first?["email"] as? String == "a@example.org")
    #expect(rows.first?["firstName"] as? String == "Ada")
    #expect(rows.first?["optInEmail"] as? Bool == true)
    #expect(rows.first?["optInSms"] as? Bool == true)
    #expect(rows.first?["optInPhone"] as? Bool == false)
  }

  /// A duplicate without an opt-in does not withdraw consent given before.
  @Test func duplicateWithoutOptInKeepsConsent() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "a@example.org"), ["optIn": ["email": true]])
    _ = server.sign("p1", makeSigner(email: "a@example.org"), ["optIn": ["email": false]])
    _ = server.sign("p1", makeSigner(email: "a@example.org"))
    let rows = try #require(server.exportRecords("p1", audience: "contacts"))
    #expect(rows.first?["optInEmail"] as? Bool == true)
  }

  /// optIn.phone or optIn.sms without signer.phone is -32602 at /optIn/phone and /optIn/sms, and
  /// nothing is written.
  @Test func phoneOptInsNeedAPhone() throws {
    let server = try start()
    let both = server.sign(
      "p1", makeSigner(email: "a@example.org"), ["optIn": ["phone": true, "sms": true, "email": true]])
    #expect(RPC.errorCode(both) == -32602)
    #expect(Set(RPC.errorPaths(both)) == ["/optIn/phone", "/optIn/sms"])
    let sms = server.sign("p1", makeSigner(email: "a@example.org"), ["optIn": ["sms": true]])
    #expect(RPC.errorPaths(sms) == ["/optIn/sms"])
    let phone = server.sign("p1", makeSigner(email: "a@example.org"), ["optIn": ["phone": true]])
    #expect(RPC.errorPaths(phone) == ["/optIn/phone"])
    #expect(server.total("p1") == 0)
    // false needs no phone.
    let declined = server.sign("p1", makeSigner(email: "a@example.org"), ["optIn": ["phone": false, "sms": false]])
    #expect(RPC.result(declined)?["count"] as? Int == 1)
  }

  /// With a phone, phone and sms opt-ins are recorded per channel.
  @Test func phoneOptInsWithAPhone() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "a@example.org", phone: "+12025550123"), ["optIn": ["phone": true]])
    let rows = try #require(server.exportRecords("p1", audience: "contacts"))
    #expect(rows.count == 1)
    #expect(rows.first?["optInPhone"] as? Bool == true)
    #expect(rows.first?["optInSms"] as? Bool == false)
    #expect(rows.first?["optInEmail"] as? Bool == false)
  }

  /// Signing a closed petition is 1003 and writes nothing; an unknown petition is 1001.
  @Test func closedAndUnknownPetitions() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "a@example.org"))
    _ = server.result("petition.close", ["id": "p1"])
    #expect(RPC.errorCode(server.sign("p1", makeSigner(email: "b@example.org"))) == 1003)
    // A duplicate of an existing signer on a closed petition is refused too.
    #expect(RPC.errorCode(server.sign("p1", makeSigner(email: "a@example.org"))) == 1003)
    #expect(server.total("p1") == 1)
    #expect(RPC.errorCode(server.sign("nope", makeSigner(email: "b@example.org"))) == 1001)
  }

  /// An opt-in sent with a refused sign (closed petition) is not recorded.
  @Test func refusedSignRecordsNoConsent() throws {
    let server = try start()
    server.createPetition("p2")
    _ = server.sign("p2", makeSigner(email: "a@example.org"))
    _ = server.result("petition.close", ["id": "p1"])
    #expect(RPC.errorCode(server.sign("p1", makeSigner(email: "a@example.org"), ["optIn": ["email": true]])) == 1003)
    #expect(server.exportRecords("p2", audience: "contacts")?.isEmpty == true)
  }

  /// The count in each response is the petition's count including that signature.
  @Test func countInTheResponse() throws {
    let server = try start()
    for index in 1...5 {
      let result = RPC.result(server.sign("p1", makeSigner(email: "s\(index)@example.org")))
      #expect(result?["count"] as? Int == index)
    }
    #expect(RPC.result(server.sign("p1", makeSigner(email: "S3@example.org")))?["count"] as? Int == 5)
  }

  /// Text is stored in NFC: a decomposed "e\u0301" in names and comment is exported composed.
  @Test func textIsStoredInNFC() throws {
    let server = try start()
    server.send(
      #"{"jsonrpc":"2.0","id":"nfc","method":"sign","params":{"petition":"p1","comment":"Tre\u0300s bien","signer":{"email":"jose@example.org","firstName":"Jose\u0301","lastName":"Me\u0301ndez","postalCode":"20001"}}}"#
        + "\n")
    #expect(RPC.result(server.readObject())?["count"] as? Int == 1)
    let row = try #require(server.exportRecords("p1", audience: "delivery")?.first)
    #expect(bytes(row["firstName"]) == Array("Jos\u{E9}".utf8))
    #expect(bytes(row["lastName"]) == Array("M\u{E9}ndez".utf8))
    #expect(bytes(row["comment"]) == Array("Tr\u{E8}s bien".utf8))
  }

  /// Decomposed and composed forms of one email are one person.
  @Test func emailIsNFCBeforeDedup() throws {
    let server = try start()
    server.send(
      #"{"jsonrpc":"2.0","id":"nfc","method":"sign","params":{"petition":"p1","optIn":{"email":true},"signer":{"email":"rene\u0301@example.org","firstName":"Rene","lastName":"X","postalCode":"20001"}}}"#
        + "\n")
    #expect(RPC.result(server.readObject())?["duplicate"] as? Bool == false)
    let composed = RPC.result(server.sign("p1", makeSigner(email: "ren\u{E9}@example.org")))
    #expect(composed?["duplicate"] as? Bool == true)
    // And it is stored composed.
    let row = try #require(server.exportRecords("p1", audience: "contacts")?.first)
    #expect(bytes(row["email"]) == Array("ren\u{E9}@example.org".utf8))
  }

  /// Phones are stored in E.164: punctuation dropped, a 10-digit US number gets +1.
  @Test(arguments: [
    ("(202) 555-0123", "US", "+12025550123"), ("202.555.0123", "US", "+12025550123"),
    ("202 555 0123", "us", "+12025550123"), ("1-202-555-0123", "US", "+12025550123"),
    ("+44 20 7946 0958", "GB", "+442079460958"), ("+1 (202) 555-0123", "CA", "+12025550123"),
  ])
  func phoneNormalisation(raw: String, country: String, expected: String) throws {
    let server = try start()
    let postal = country.uppercased() == "US" ? "20001" : "AB1 2CD"
    let response = server.sign(
      "p1", makeSigner(email: "a@example.org", postalCode: postal, country: country, phone: raw),
      ["optIn": ["sms": true]])
    #expect(RPC.result(response)?["count"] as? Int == 1)
    let row = try #require(server.exportRecords("p1", audience: "contacts")?.first)
    #expect(row["phone"] as? String == expected)
  }

  /// Phones that are not E.164 and not a US national number are -32602 at /signer/phone.
  @Test(arguments: [
    ("555-0123", "US"), ("020 7946 0958", "GB"), ("+1234567", "US"), ("+1234567890123456", "US"),
    ("202-555-0123 ext 4", "US"), ("phone", "US"), ("++12025550123", "US"),
  ])
  func invalidPhones(raw: String, country: String) throws {
    let server = try start()
    let postal = country == "US" ? "20001" : "AB1 2CD"
    let response = server.sign(
      "p1", makeSigner(email: "a@example.org", postalCode: postal, country: country, phone: raw))
    #expect(RPC.errorCode(response) == -32602)
    #expect(RPC.errorPaths(response) == ["/signer/phone"])
    #expect(server.total("p1") == 0)
  }

  /// Country defaults to US and is upper-cased.
  @Test func countryDefaultAndCase() throws {
    let server = try start()
    _ = server.sign("p1", makeSigner(email: "a@example.org"))
    _ = server.sign("p1", makeSigner(email: "b@example.org", postalCode: "K1A 0B1", country: "ca"))
    let rows = try #require(server.exportRecords("p1", audience: "delivery"))
    #expect(rows.map { $0["country"] as? String } == ["US", "CA"])
  }

  /// Unknown or malformed countries are -32602 at /signer/country.
  @Test(arguments: ["ZZ", "USA", "U", "1A", ""])
  func invalidCountries(country: String) throws {
    let server = try start()
    let response = server.sign("p1", makeSigner(email: "a@example.org", postalCode: "12345", country: country))
    #expect(RPC.errorCode(response) == -32602)
    #expect(RPC.errorPaths(response).contains("/signer/country"))
    #expect(server.total("p1") == 0)
  }

  /// A bad country does not hide the other problems: a postal code or phone that no country
  /// accepts is reported beside it; one that some country accepts is not.
  @Test func invalidCountryStillReportsWhatNoCountryAccepts() throws {
    let server = try start()
    let bad = server.sign(
      "p1", makeSigner(email: "a@example.org", postalCode: "A1/B2", country: "ZZ", phone: "12"))
    #expect(RPC.errorCode(bad) == -32602)
    #expect(Set(RPC.errorPaths(bad)) == ["/signer/country", "/signer/postalCode", "/signer/phone"])
    let onlyCountry = server.sign(
      "p1", makeSigner(email: "a@example.org", postalCode: "K1A 0B1", country: "ZZ", phone: "(202) 555-0123"))
    #expect(RPC.errorPaths(onlyCountry) == ["/signer/country"])
    #expect(server.total("p1") == 0)
  }

  /// US postal codes are ZIPs (12345 or 12345-6789); elsewhere 1-16 letters, digits, spaces, hyphens.
  @Test(arguments: [
    ("12345", "US", true), ("12345-6789", "US", true), ("1234", "US", false), ("123456", "US", false),
    ("12345-678", "US", false), ("K1A 0B1", "US", false), ("ABCDE", "US", false),
    ("K1A 0B1", "CA", true), ("SW1A 1AA", "GB", true), ("75001", "FR", true), ("1010-AB", "NL", true),
    ("A", "DE", true), ("ABCDEFGHIJKLMNOP", "DE", true), ("ABCDEFGHIJKLMNOPQ", "DE", false),
    ("K1A_0B1", "CA", false), ("", "GB", false), ("A1/B2", "DE", false),
  ])
  func postalCodes(code: String, country: String, accepted: Bool) throws {
    let server = try start()
    let response = server.sign("p1", makeSigner(email: "a@example.org", postalCode: code, country: country))
    if accepted {
      #expect(RPC.result(response)?["count"] as? Int == 1)
      #expect(server.exportRecords("p1", audience: "delivery")?.first?["postalCode"] as? String == code)
    } else {
      #expect(RPC.errorCode(response) == -32602)
      #expect(RPC.errorPaths(response) == ["/signer/postalCode"])
      #expect(server.total("p1") == 0)
    }
  }

  /// Names containing a URL (`://` or `www.`, any case) are -32602 at their path.
  @Test(arguments: ["http://spam.example", "Visit HTTPS://x.example", "www.spam.example", "WWW.Spam", "ftp://a"])
  func namesWithURLsAreRejected(name: String) throws {
    let server = try start()
    let first = server.sign("p1", makeSigner(email: "a@example.org", firstName: name))
    #expect(RPC.errorPaths(first) == ["/signer/firstName"])
    let last = server.sign("p1", makeSigner(email: "a@example.org", lastName: name))
    #expect(RPC.errorPaths(last) == ["/signer/lastName"])
    #expect(server.total("p1") == 0)
  }

  /// Control characters and line breaks are refused in names, at their path.
  @Test(arguments: ["Ada\u{7}", "Ada\nLine", "Ada\tTab", "\u{0}", "Ada\u{1B}[31m", "Ada\rB"])
  func controlCharactersInNames(name: String) throws {
    let server = try start()
    let response = server.sign("p1", makeSigner(email: "a@example.org", firstName: name))
    #expect(RPC.errorCode(response) == -32602)
    #expect(RPC.errorPaths(response) == ["/signer/firstName"])
    #expect(server.total("p1") == 0)
  }

  /// A comment may hold line breaks and tabs, kept exactly; other control characters are refused.
  @Test func commentLineBreaks() throws {
    let server = try start()
    let comment = "Line one\nLine two\r\n\tIndented"
    #expect(
      RPC.result(server.sign("p1", makeSigner(email: "a@example.org"), ["comment": comment]))?["count"] as? Int == 1)
    #expect(server.exportRecords("p1", audience: "delivery")?.first?["comment"] as? String == comment)
    let bell = server.sign("p1", makeSigner(email: "b@example.org"), ["comment": "Ring\u{7}"])
    #expect(RPC.errorPaths(bell) == ["/comment"])
    #expect(server.total("p1") == 1)
  }

  /// Names: 1 to 100 characters after trimming; spaces around are trimmed.
  @Test func nameLengths() throws {
    let server = try start()
    let hundred = String(repeating: "n", count: 100)
    #expect(
      RPC.result(server.sign("p1", makeSigner(email: "a@example.org", firstName: hundred)))?["count"] as? Int == 1)
    #expect(
      RPC.errorPaths(server.sign("p1", makeSigner(email: "b@example.org", firstName: hundred + "n"))) == [
        "/signer/firstName"
      ])
    #expect(RPC.errorPaths(server.sign("p1", makeSigner(email: "b@example.org", lastName: ""))) == ["/signer/lastName"])
    #expect(
      RPC.errorPaths(server.sign("p1", makeSigner(email: "b@example.org", lastName: "   "))) == ["/signer/lastName"])
    #expect(
      RPC.result(server.sign("p1", makeSigner(email: "c@example.org", firstName: "  Grace  ")))?["count"] as? Int == 2)
    let rows = server.exportRecords("p1", audience: "delivery") ?? []
    #expect(rows.last?["firstName"] as? String == "Grace")
    #expect(server.total("p1") == 2)
    // Characters, not bytes or code points: 100 decomposed "é" (200 code points) are 100.
    let decomposed = String(repeating: "e\u{301}", count: 100)
    #expect(decomposed.unicodeScalars.count == 200)
    #expect(
      RPC.result(server.sign("p1", makeSigner(email: "d@example.org", lastName: decomposed)))?["count"] as? Int == 3)
    #expect(
      RPC.errorPaths(server.sign("p1", makeSigner(email: "e@example.org", lastName: decomposed + "e\u{301}"))) == [
        "/signer/lastName"
      ])
    // Code points, as JSON Schema counts: 20 families of 5 code points fit, 21 do not, and a
    // letter with piles of combining marks cannot smuggle in megabytes.
    let family = String(repeating: "👨‍👩‍👧", count: 20)
    #expect(RPC.result(server.sign("p1", makeSigner(email: "f@example.org", lastName: family)))?["count"] as? Int == 4)
    #expect(
      RPC.errorPaths(server.sign("p1", makeSigner(email: "g@example.org", lastName: family + "👨‍👩‍👧"))) == [
        "/signer/lastName"
      ])
    let stacked = "a" + String(repeating: "\u{300}", count: 40_000)
    #expect(
      RPC.errorPaths(server.sign("p1", makeSigner(email: "h@example.org", firstName: stacked))) == ["/signer/firstName"]
    )
  }

  /// Comment: up to 2000 characters; absent is null.
  @Test func commentLength() throws {
    let server = try start()
    let long = String(repeating: "c", count: 2000)
    _ = server.sign("p1", makeSigner(email: "a@example.org"), ["comment": long])
    _ = server.sign("p1", makeSigner(email: "b@example.org"))
    #expect(
      RPC.errorPaths(server.sign("p1", makeSigner(email: "c@example.org"), ["comment": long + "c"])) == ["/comment"])
    let rows = try #require(server.exportRecords("p1", audience: "delivery"))
    #expect(rows.count == 2)
    #expect(rows.first?["comment"] as? String == long)
    #expect(rows.last?["comment"] is NSNull)
  }

  /// Source: 1 to 64 characters, single line; absent is null.
  @Test func sourceLength() throws {
    let server = try start()
    let long = String(repeating: "s", count: 64)
    _ = server.sign("p1", makeSigner(email: "a@example.org"), ["source": long, "optIn": ["email": true]])
    _ = server.sign("p1", makeSigner(email: "b@example.org"), ["optIn": ["email": true]])
    #expect(
      RPC.errorPaths(server.sign("p1", makeSigner(email: "c@example.org"), ["source": long + "s"])) == ["/source"])
    #expect(RPC.errorPaths(server.sign("p1", makeSigner(email: "c@example.org"), ["source": ""])) == ["/source"])
    #expect(RPC.errorPaths(server.sign("p1", makeSigner(email: "c@example.org"), ["source": "a\nb"])) == ["/source"])
    let rows = try #require(server.exportRecords("p1", audience: "contacts"))
    #expect(rows.first?["source"] as? String == long)
    #expect(rows.last?["source"] is NSNull)
    #expect(server.total("p1") == 2)
  }

  /// Emails: local@domain with a dot in the domain, no spaces or controls, at most 254 bytes.
  @Test(arguments: [
    ("plain", false), ("a@localhost", false), ("a b@example.org", false), ("@example.org", false),
    ("a@@example.org", false), ("a@example..org", false), ("a@example.org\u{7}", false), ("", false),
    ("a@b.co", true), ("o'brien+tag@example.org", true), ("名前@example.org", true),
  ])
  func emailShapes(email: String, accepted: Bool) throws {
    let server = try start()
    let response = server.sign("p1", makeSigner(email: email))
    if accepted {
      #expect(RPC.result(response)?["count"] as? Int == 1)
    } else {
      #expect(RPC.errorCode(response) == -32602)
      #expect(RPC.errorPaths(response) == ["/signer/email"])
      #expect(server.total("p1") == 0)
    }
  }

  /// 254 bytes of email are accepted, 255 are refused.
  @Test func emailLength() throws {
    let server = try start()
    let domain = "@example.org"
    let ok = String(repeating: "a", count: 254 - domain.utf8.count) + domain
    #expect(RPC.result(server.sign("p1", makeSigner(email: ok)))?["count"] as? Int == 1)
    let tooLong = String(repeating: "b", count: 255 - domain.utf8.count) + domain
    #expect(RPC.errorPaths(server.sign("p1", makeSigner(email: tooLong))) == ["/signer/email"])
    #expect(server.total("p1") == 1)
  }

  /// Signatures survive a restart of the server, with their ids.
  @Test func signaturesSurviveARestart() throws {
    var server = try start()
    let id = RPC.result(server.sign("p1", makeSigner(email: "a@example.org")))?["signatureId"] as? String
    server.killHard()
    server = try ServerProcess.start(store: directory.file("store.sqlite3"))
    let again = RPC.result(server.sign("p1", makeSigner(email: "a@example.org")))
    #expect(again?["duplicate"] as? Bool == true)
    #expect(again?["signatureId"] as? String == id)
  }
}
