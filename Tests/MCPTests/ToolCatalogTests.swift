import JSON
import Testing

@testable import MCP
@testable import Server

/// The tools made from the embedded OpenRPC document.
@Suite struct ToolCatalogTests {
  let catalog = ToolCatalog(document: PetitionService.openRPCDocument)

  /// One tool per method with `_` for `.`, `export` as two tools, rpc.discover not a tool, in the
  /// fixed order.
  @Test func toolsFollowTheDocumentsMethods() {
    let names = catalog.tools.map(\.name)
    let document = PetitionService.openRPCDocument
    let methods = document["methods"]!.elements.compactMap { $0["name"]?.stringValue }.filter { $0 != "rpc.discover" }
    #expect(names.count == methods.count + 1)
    for method in methods where method != "export" {
      #expect(names.contains(String(method.map { $0 == "." ? "_" : $0 })), "\(method)")
    }
    #expect(names.contains("export_page") && names.contains("export_file") && !names.contains("export"))
    #expect(!names.contains("rpc_discover"))
    let ranks = names.compactMap { ToolCatalog.order.firstIndex(of: $0) }
    #expect(ranks == ranks.sorted())
  }

  /// Every schema has `type: object` at its root and resolves every `$ref` inside itself.
  @Test func schemasStandAlone() {
    for tool in catalog.tools {
      for schema in [tool.inputSchema, tool.outputSchema] {
        #expect(schema["type"]?.stringValue == "object", "\(tool.name)")
        let text = schema.serializedString
        #expect(!text.contains("#/components/"), "\(tool.name)")
        for name in references(in: schema) {
          #expect(schema["$defs"]?[name] != nil, "\(tool.name): \(name)")
        }
      }
      #expect(tool.inputSchema["properties"]?["progressToken"] == nil, "\(tool.name)")
    }
  }

  /// export_page takes no path or overwrite and answers a page; export_file requires path,
  /// takes no overwrite, cursor or limit, and answers the file result.
  @Test func exportIsSplit() throws {
    let page = try #require(catalog["export_page"])
    let file = try #require(catalog["export_file"])
    #expect(page.method == "export" && file.method == "export")
    #expect(page.inputSchema["properties"]?["path"] == nil)
    #expect(page.inputSchema["properties"]?["overwrite"] == nil)
    #expect(page.inputSchema["properties"]?["cursor"] != nil)
    #expect(file.inputSchema["properties"]?["path"] != nil)
    for absent in ["overwrite", "cursor", "limit"] { #expect(file.inputSchema["properties"]?[absent] == nil) }
    #expect(file.inputSchema["required"]!.elements.contains { $0.stringValue == "path" })
    #expect(file.outputSchema["properties"]?["sha256"] != nil)
    #expect(page.outputSchema["oneOf"]?.count == 2)
  }

  /// unsubscribe's email-or-phone choice is a oneOf inside the one object.
  @Test func choiceIsOneOfInside() throws {
    let tool = try #require(catalog["unsubscribe"])
    #expect(tool.inputSchema["type"]?.stringValue == "object")
    #expect(tool.inputSchema["oneOf"]?.count == 2)
  }

  /// The four hints as the contract lists them.
  @Test func annotations() {
    for tool in catalog.tools {
      let readOnly = ["petition_get", "petition_list", "count", "consent_history", "invalidation_list", "export_page"]
      let destructive = ["person_erase", "petition_anonymise", "signature_invalidate", "petition_close"]
      let idempotent = readOnly + ["sign", "confirm", "unsubscribe", "import"]
      let annotations = tool.makeJSON()["annotations"]!
      #expect(annotations["readOnlyHint"]?.boolValue == readOnly.contains(tool.name), "\(tool.name)")
      #expect(annotations["destructiveHint"]?.boolValue == destructive.contains(tool.name), "\(tool.name)")
      #expect(annotations["idempotentHint"]?.boolValue == idempotent.contains(tool.name), "\(tool.name)")
      #expect(annotations["openWorldHint"]?.boolValue == false)
    }
  }

  /// --mcp-tools: groups and names; unknown names are refused.
  @Test func selection() throws {
    let read = try catalog.select("read").map(\.name)
    #expect(read.allSatisfy { catalog[$0]!.isReadOnly } && read.contains("count"))
    #expect(
      try catalog.select("sign").map(\.name)
        == catalog.tools.map(\.name).filter { ["sign", "confirm", "unsubscribe"].contains($0) })
    let admin = try catalog.select("admin").map(\.name)
    #expect(admin.contains("petition_create") && admin.contains("export_file") && !admin.contains("sign"))
    #expect(Set(try catalog.select("read,sign,admin").map(\.name)) == Set(catalog.tools.map(\.name)))
    #expect(try catalog.select("count, petition_get").map(\.name) == ["petition_get", "count"])
    #expect(throws: ToolCatalog.SelectionError.self) { try catalog.select("read,nope") }
    #expect(throws: ToolCatalog.SelectionError.self) { try catalog.select("") }
  }

  private func references(in schema: JSON) -> [String] {
    switch schema.kind {
    case .object:
      return schema.keys.flatMap { key -> [String] in
        if key == "$ref", let text = schema[key]?.stringValue, text.hasPrefix("#/$defs/") {
          return [String(text.dropFirst(8))]
        }
        return references(in: schema[key]!)
      }
    case .array: return schema.elements.flatMap(references(in:))
    default: return []
    }
  }
}

/// Lines as MCP's stdio transport sends them.
@Suite struct LineSplitterTests {
  private func lines(_ chunks: [String], limit: Int = 100) -> [LineSplitter.Event] {
    var splitter = LineSplitter(maxLineBytes: limit)
    var events: [LineSplitter.Event] = []
    for chunk in chunks {
      Array(chunk.utf8).withUnsafeBytes { splitter.append($0) }
      while let event = splitter.next() { events.append(event) }
    }
    while let event = splitter.finish() { events.append(event) }
    return events
  }

  /// Lines split at any byte, CRLF accepted, blank lines ignored, a last line without newline kept.
  @Test func splitsLines() {
    let text = "{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}"
    let whole = lines([text])
    #expect(whole == [.line(Array("{\"a\":1}".utf8)), .line(Array("{\"b\":2}".utf8)), .line(Array("{\"c\":3}".utf8))])
    #expect(lines(text.map { String($0) }) == whole)
  }

  /// An over-long line is reported once and skipped; the next line is read.
  @Test func skipsLongLines() {
    let long = String(repeating: "x", count: 250)
    #expect(lines([long + "\n{}\n"], limit: 100) == [.tooLong, .line(Array("{}".utf8))])
    #expect(
      lines([String(long.prefix(120)), String(long.dropFirst(120)), "\n{}\n"], limit: 100) == [
        .tooLong, .line(Array("{}".utf8)),
      ])
  }
}

/// The text content of a tool result: the result's JSON, as a JSON string.
@Suite struct TextContentTests {
  /// Quotes, backslashes, control characters and non-ASCII text come back exactly when parsed.
  @Test func escapedTextParsesBack() throws {
    let value = JSON.object()
    value.set("comment", "line one\nline \"two\"\t\\ \u{1}\u{1F} é 中文 🎉 </script>")
    let text = value.serialized()
    var output: [UInt8] = []
    JSONWriter.appendString(text, to: &output)
    guard case .success(let parsed) = JSON.parse(output) else {
      Issue.record("not JSON: \(String(decoding: output, as: UTF8.self))")
      return
    }
    #expect(parsed.stringValue == String(decoding: text, as: UTF8.self))
  }
}
