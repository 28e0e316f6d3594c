import Foundation
import Testing

@testable import Server

@Suite struct OpenRPCDocumentTests {
  /// The document compiled into the binary is schema/openrpc.json byte for byte
  /// (run scripts/embed-schema.sh after editing the schema).
  @Test func embeddedDocumentMatchesSchemaFile() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let file = try String(contentsOf: root.appendingPathComponent("schema/openrpc.json"), encoding: .utf8)
    #expect(OpenRPCDocument.text == file.trimmingCharacters(in: .newlines), "run scripts/embed-schema.sh")
  }
}
