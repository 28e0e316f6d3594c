import JSON

extension PetitionService {
  /// The OpenRPC document of the contract's methods (`schema/openrpc.json`, embedded), for fronts
  /// that describe the methods in their own terms (MCP's tool list).
  public static var openRPCDocument: JSON { OpenRPCDocument.json }
}
