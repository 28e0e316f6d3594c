/// `petition-rpc copy-store --from STORE --to STORE`.
enum CopyStore {
  static func run(_ arguments: [String]) -> Int32 {
    StandardError.write("copy-store is not available yet")
    return 1
  }
}
