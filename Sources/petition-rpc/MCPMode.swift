import Logging
import MCP
import Server
import Service

/// `--mcp`: the same service behind the Model Context Protocol front.
enum MCPMode {
  /// The tools made from the embedded OpenRPC document (made once: flag checks and serving share it).
  static let catalog = ToolCatalog(document: PetitionService.openRPCDocument)

  /// What is wrong with `--mcp`/`--mcp-tools`, for the usage message: `--mcp-tools` needs `--mcp`
  /// and must name known groups or tools.
  static func problem(enabled: Bool, tools: String?) -> String? {
    guard let tools else { return nil }
    guard enabled else { return "--mcp-tools needs --mcp" }
    do {
      _ = try catalog.select(tools)
      return nil
    } catch {
      return error.description
    }
  }

  /// Serves MCP on stdin/stdout until end of input or a stop signal.
  static func serve(
    _ settings: Settings, service: PetitionService, output: OutputWriter, logger: Logger, stopSignal: Int32
  ) -> Bool {
    // The selection was checked with the flags (`problem`); the catalog is made on first use.
    let selection = settings.mcpTools ?? "all"
    let server = MCPServer(
      tools: { (try? catalog.select(selection)) ?? [] },
      configuration: MCPServer.Configuration(
        serverVersion: PetitionRPC.version, maxMessageBytes: settings.maxMessageBytes),
      output: output, logger: logger)
    server.run(input: 0, service: service, stopSignal: stopSignal)
    return true
  }
}
