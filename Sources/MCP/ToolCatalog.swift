import JSON

/// One MCP tool: a contract method (or, for `export`, one of its two uses) with the JSON Schemas
/// and hints that `tools/list` shows.
public struct Tool: @unchecked Sendable {
  /// The tool's name: the method's with `_` for `.` (`petition_create`), or `export_page` /
  /// `export_file`.
  public let name: String
  /// The contract method a call of this tool runs.
  public let method: String
  public let title: String
  public let description: String
  /// The method's params as one JSON Schema object (`type: object` at the root), self-contained
  /// (`$ref`s point into its own `$defs`).
  public let inputSchema: JSON
  /// The method's result schema (`type: object` at the root), self-contained.
  public let outputSchema: JSON
  public let isReadOnly: Bool
  public let isDestructive: Bool
  public let isIdempotent: Bool
  /// Argument names the tool accepts, and those it requires.
  let argumentNames: Set<String>
  let requiredArguments: [String]

  /// The tool as `tools/list` lists it.
  func makeJSON() -> JSON {
    let tool = JSON.object()
    tool.set("name", name)
    tool.set("title", title)
    tool.set("description", description)
    tool.set("inputSchema", inputSchema)
    tool.set("outputSchema", outputSchema)
    // All four hints are stated: MCP's defaults assume the worst (writes, destructive, not
    // idempotent, open world).
    let annotations = JSON.object()
    annotations.set("readOnlyHint", isReadOnly)
    annotations.set("destructiveHint", isDestructive)
    annotations.set("idempotentHint", isIdempotent)
    annotations.set("openWorldHint", false)
    tool.set("annotations", annotations)
    return tool
  }
}

/// The tools made from the OpenRPC document: one per method (named with `_` for `.`), except
/// `export`, which is two (`export_page`, `export_file`). Schemas and descriptions are taken from
/// the document, so a method added there becomes a tool without a change here.
public struct ToolCatalog: @unchecked Sendable {
  /// Every tool, in the fixed listing order.
  public let tools: [Tool]

  /// The listing order of the contract's tools; tools of methods not named here follow, in the
  /// document's order.
  static let order = [
    "petition_create", "petition_get", "petition_list", "petition_close", "sign", "confirm", "count",
    "export_page", "export_file", "import", "unsubscribe", "consent_history", "signature_invalidate",
    "signature_revalidate", "invalidation_list", "person_erase", "petition_anonymise",
  ]
  /// Tools that only read (MCP `readOnlyHint`); a read-only tool is idempotent too.
  static let readOnly: Set<String> = [
    "petition_get", "petition_list", "count", "consent_history", "invalidation_list", "export_page",
  ]
  /// Tools that take something away for good (`destructiveHint`).
  static let destructive: Set<String> = [
    "person_erase", "petition_anonymise", "signature_invalidate", "petition_close",
  ]
  /// Writes that can be repeated with the same arguments to no further effect (`idempotentHint`).
  static let idempotentWrites: Set<String> = ["sign", "confirm", "unsubscribe", "import"]
  /// The `sign` group of `--mcp-tools`.
  static let signGroup: Set<String> = ["sign", "confirm", "unsubscribe"]
  /// Methods that are not tools: the protocol's own.
  static let excludedMethods: Set<String> = ["rpc.discover"]

  /// Builds the catalog from an OpenRPC document.
  public init(document: JSON) {
    let components = document["components"]?["schemas"] ?? JSON.object()
    var made: [Tool] = []
    for method in document["methods"]?.elements ?? [] {
      guard let name = method["name"]?.stringValue, !Self.excludedMethods.contains(name) else { continue }
      if name == "export" {
        made.append(Self.makeExportTool(method, components: components, toFile: false))
        made.append(Self.makeExportTool(method, components: components, toFile: true))
      } else {
        let toolName = name.replacingDots()
        made.append(
          Self.makeTool(
            name: toolName, method: method, components: components, excluded: [], extraRequired: [],
            title: Self.title(of: method, fallback: toolName), description: Self.description(of: method),
            paramsConstraint: method["x-paramsSchema"], result: method["result"]?["schema"]))
      }
    }
    tools = made.enumerated().sorted { left, right in
      let leftRank = Self.order.firstIndex(of: left.element.name) ?? Self.order.count + left.offset
      let rightRank = Self.order.firstIndex(of: right.element.name) ?? Self.order.count + right.offset
      return leftRank < rightRank
    }.map(\.element)
  }

  public subscript(name: String) -> Tool? { tools.first { $0.name == name } }

  /// Why a `--mcp-tools` value is refused.
  public struct SelectionError: Error, CustomStringConvertible {
    public let description: String
  }

  /// The tools a `--mcp-tools` value names, in listing order: `all`, or a comma-separated list of
  /// groups (`read`: the read-only tools, `sign`: sign, confirm and unsubscribe, `admin`: all the
  /// others) and tool names.
  public func select(_ specification: String) throws(SelectionError) -> [Tool] {
    var chosen: Set<String> = []
    let items = specification.split(separator: ",", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: " ")
    }
    guard !items.isEmpty, !items.contains(where: \.isEmpty) else {
      throw SelectionError(description: "--mcp-tools needs a comma-separated list of groups or tool names")
    }
    for item in items {
      switch item {
      case "all": chosen.formUnion(tools.map(\.name))
      case "read": chosen.formUnion(tools.filter(\.isReadOnly).map(\.name))
      case "sign": chosen.formUnion(tools.filter { Self.signGroup.contains($0.name) }.map(\.name))
      case "admin":
        chosen.formUnion(tools.filter { !$0.isReadOnly && !Self.signGroup.contains($0.name) }.map(\.name))
      default:
        guard self[item] != nil else {
          let names = (["all", "read", "sign", "admin"] + tools.map(\.name)).joined(separator: ", ")
          throw SelectionError(description: "--mcp-tools: unknown group or tool '\(item)' (known: \(names))")
        }
        chosen.insert(item)
      }
    }
    return tools.filter { chosen.contains($0.name) }
  }

  // MARK: Making tools

  private static func makeExportTool(_ method: JSON, components: JSON, toFile: Bool) -> Tool {
    // The file tool writes the whole export (no paging, never over an existing file); the page
    // tool answers inline and writes nothing.
    let excluded: Set<String> = toFile ? ["overwrite", "cursor", "limit"] : ["path", "overwrite"]
    // The method's text says what both tools share (rows, audiences, formats); its paragraphs on
    // `path` and paging speak of JSON-RPC's arguments and notifications, so each tool says its
    // own part in MCP's terms.
    let shared = description(of: method).split(separator: "\n\n").map(String.init).filter {
      !$0.hasPrefix("With path:") && !$0.hasPrefix("Without path:")
    }
    let own =
      toFile
      ? "Writes the whole export to a file on the server's machine and returns {path, count, bytes, sha256}: "
        + "a temporary file first, fsynced, renamed, mode 0600; a relative path is relative to the server's "
        + "working directory. An existing file is never replaced: it, or a path that cannot be written, is "
        + "1004. With a progressToken in _meta, notifications/progress are sent while it runs, the last "
        + "before the result; notifications/cancelled stops it and leaves no file (the call gets no response)."
      : "Returns one page of at most limit rows (default 1000) after cursor, inline: {count, nextCursor, "
        + "records} for json, {count, nextCursor, data} for csv and ndjson. Following nextCursor until it is "
        + "null yields every row exactly once; a csv page has the header line on the first page only. With a "
        + "progressToken in _meta, notifications/progress (progress = the page's rows) come before the result."
    let description = ([shared.first ?? "", own] + shared.dropFirst()).joined(separator: "\n\n")
    // Of the result's choices, the page tool answers the ones without `path`, the file tool the other.
    var result = method["result"]?["schema"]
    if let reference = result?["$ref"]?.stringValue, let target = resolve(reference, in: components),
      let choices = target["oneOf"]?.elements
    {
      let kept = choices.filter { choice in
        let resolved = choice["$ref"]?.stringValue.flatMap { resolve($0, in: components) } ?? choice
        return (resolved["properties"]?["path"] != nil) == toFile
      }
      let schema = JSON.object()
      if kept.count == 1 {
        result = kept[0]
      } else {
        let list = JSON.array()
        for choice in kept { list.append(choice) }
        schema.set("oneOf", list)
        result = schema
      }
    }
    return makeTool(
      name: toFile ? "export_file" : "export_page", method: method, components: components, excluded: excluded,
      extraRequired: toFile ? ["path"] : [],
      title: toFile ? "Export signatures to a file" : "Export a page of signatures", description: description,
      paramsConstraint: nil, result: result)
  }

  private static func makeTool(
    name: String, method: JSON, components: JSON, excluded: Set<String>, extraRequired: [String], title: String,
    description: String, paramsConstraint: JSON?, result: JSON?
  ) -> Tool {
    var definitions = Definitions(components: components)

    // Input: the params as properties of one object. progressToken is never an argument: MCP
    // carries it in `_meta`.
    let properties = JSON.object()
    var names: [String] = []
    var required: [String] = []
    for param in method["params"]?.elements ?? [] {
      guard let paramName = param["name"]?.stringValue, paramName != "progressToken", !excluded.contains(paramName)
      else { continue }
      let schema = definitions.rewrite(param["schema"] ?? JSON.object())
      if let text = param["description"]?.stringValue, schema["description"] == nil {
        schema.set("description", text)
      }
      properties.set(paramName, schema)
      names.append(paramName)
      if param["required"]?.boolValue == true || extraRequired.contains(paramName) { required.append(paramName) }
    }
    let input = JSON.object()
    input.set("type", "object")
    input.set("properties", properties)
    if !required.isEmpty { input.set("required", stringArray(required)) }
    input.set("additionalProperties", false)
    if let paramsConstraint {
      // The params' joint rule (e.g. email or phone: a oneOf) inside the one object.
      let constraint = definitions.rewrite(paramsConstraint)
      let clashes = constraint.keys.contains { $0 != "description" && input[$0] != nil }
      if clashes {
        let all = JSON.array()
        all.append(constraint)
        input.set("allOf", all)
      } else {
        for key in constraint.keys where key != "description" { input.set(key, constraint[key]!) }
      }
    }

    // Output: the result schema, its root an object.
    var output = JSON.object()
    if let result {
      if let reference = result["$ref"]?.stringValue, let target = resolve(reference, in: components) {
        output = definitions.rewrite(target)
      } else {
        output = definitions.rewrite(result)
      }
    }
    if output["type"] == nil { output.set("type", "object") }

    // Each schema carries the definitions it (transitively) refers to.
    for schema in [input, output] {
      let used = definitions.closure(of: schema)
      guard !used.isEmpty else { continue }
      let defs = JSON.object()
      for key in used.sorted() { defs.set(key, definitions.rewritten(key)) }
      schema.set("$defs", defs)
    }

    let isReadOnly = readOnly.contains(name)
    return Tool(
      name: name, method: method["name"]?.stringValue ?? name, title: title, description: description,
      inputSchema: input, outputSchema: output, isReadOnly: isReadOnly, isDestructive: destructive.contains(name),
      isIdempotent: isReadOnly || idempotentWrites.contains(name), argumentNames: Set(names),
      requiredArguments: required)
  }

  private static func title(of method: JSON, fallback: String) -> String {
    guard var summary = method["summary"]?.stringValue, !summary.isEmpty else { return fallback }
    if summary.hasSuffix(".") { summary.removeLast() }
    return summary
  }

  private static func description(of method: JSON) -> String {
    let summary = method["summary"]?.stringValue ?? ""
    let details = mcpWording(method["description"]?.stringValue ?? "")
    if details.isEmpty { return summary }
    if summary.isEmpty { return details }
    return summary + " " + details
  }

  /// The method text's sentences on JSON-RPC's progress and cancel notifications, as MCP has them
  /// (a test checks that no tool's text names a JSON-RPC notification).
  static func mcpWording(_ text: String) -> String {
    var text = text
    for (jsonRPC, mcp) in [
      (
        "With progressToken, $/progress notifications (ProgressParams, done = rows read, total = rows in the file) "
          + "are sent while it runs, end before the response.",
        "With a progressToken in _meta, notifications/progress (progress = rows read, total = rows in the file) "
          + "are sent while it runs, the last before the result."
      ),
      (
        "$/cancelRequest stops it at the next group with -32800 and error.data {imported, duplicates, rejected} "
          + "so far;",
        "notifications/cancelled stops it at the next group (the call gets no response);"
      ),
      ("(x-paramsSchema states it)", "(the inputSchema states it)"),
    ] {
      text = text.replacing(jsonRPC, with: mcp)
    }
    return text
  }

  static func resolve(_ reference: String, in components: JSON) -> JSON? {
    guard reference.hasPrefix(Definitions.componentPrefix) else { return nil }
    return components[String(reference.dropFirst(Definitions.componentPrefix.count))]
  }

  static func stringArray(_ strings: [String]) -> JSON {
    let array = JSON.array()
    for string in strings { array.append(.string(string)) }
    return array
  }
}

/// The document's component schemas, copied with their `$ref`s pointed at `#/$defs/` so that a
/// tool's schema stands alone (MCP clients resolve references within the schema only).
struct Definitions {
  static let componentPrefix = "#/components/schemas/"
  let components: JSON
  private var cache: [String: JSON] = [:]

  init(components: JSON) { self.components = components }

  /// A deep copy of `schema` with component references rewritten.
  mutating func rewrite(_ schema: JSON) -> JSON {
    switch schema.kind {
    case .object:
      let copy = JSON.object()
      for key in schema.keys {
        let value = schema[key]!
        if key == "$ref", let reference = value.stringValue, reference.hasPrefix(Self.componentPrefix) {
          copy.set(key, "#/$defs/" + reference.dropFirst(Self.componentPrefix.count))
        } else {
          copy.set(key, rewrite(value))
        }
      }
      return copy
    case .array:
      let copy = JSON.array()
      for element in schema.elements { copy.append(rewrite(element)) }
      return copy
    default:
      return schema
    }
  }

  /// The component `name`, rewritten (each made once per catalog entry).
  mutating func rewritten(_ name: String) -> JSON {
    if let made = cache[name] { return made }
    let made = rewrite(components[name] ?? JSON.object())
    cache[name] = made
    return made
  }

  /// The names of the definitions `schema` refers to, directly or through other definitions.
  mutating func closure(of schema: JSON) -> Set<String> {
    var found: Set<String> = []
    var pending = Self.references(in: schema)
    while let name = pending.popLast() {
      guard !found.contains(name), components[name] != nil else { continue }
      found.insert(name)
      pending.append(contentsOf: Self.references(in: rewritten(name)))
    }
    return found
  }

  private static func references(in schema: JSON) -> [String] {
    switch schema.kind {
    case .object:
      var names: [String] = []
      for key in schema.keys {
        let value = schema[key]!
        if key == "$ref", let reference = value.stringValue, reference.hasPrefix("#/$defs/") {
          names.append(String(reference.dropFirst("#/$defs/".count)))
        } else {
          names.append(contentsOf: references(in: value))
        }
      }
      return names
    case .array:
      return schema.elements.flatMap(references(in:))
    default:
      return []
    }
  }
}

extension String {
  fileprivate func replacingDots() -> String {
    String(map { $0 == "." ? "_" : $0 })
  }

  fileprivate func trimmingCharacters(in set: Character) -> String {
    String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
  }
}

extension Substring {
  fileprivate func trimmingCharacters(in set: Character) -> String {
    String(self).trimmingCharacters(in: set)
  }
}
