#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The temporary files of atomic file writes (exports), named so that one left by a process that died
/// (`kill -9`, power loss) can be recognised and removed later:
/// `.NAME.petition-rpc-tmp.PID.RANDOM` beside the target `NAME`.
public enum TemporaryFiles {
  static let marker = ".petition-rpc-tmp."

  /// A fresh temporary path in the folder of `path`, naming this process.
  static func path(for path: String) -> String {
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    let random = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    return "\(directory)/.\(name)\(marker)\(getpid()).\(random)"
  }

  /// Removes the temporary export files in `directory` whose writer no longer exists (best
  /// effort: a file that cannot be removed is left). Files of live processes, this one's and
  /// anything not named like ours are never touched. Returns how many were removed.
  @discardableResult
  public static func removeStale(inDirectory directory: String) -> Int {
    guard let folder = opendir(directory) else { return 0 }
    defer { closedir(folder) }
    let me = getpid()
    var removed = 0
    while let entry = readdir(folder) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      guard let pid = writer(ofTemporaryName: name), pid != me else { continue }
      guard kill(pid, 0) == -1 && errno == ESRCH else { continue }
      let path = directory + "/" + name
      var status = stat()
      guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
      if unlink(path) == 0 { removed += 1 }
    }
    return removed
  }

  /// The pid in a name `.NAME.petition-rpc-tmp.PID.RANDOM`, or nil for any other name.
  static func writer(ofTemporaryName name: String) -> pid_t? {
    let bytes = Array(name.utf8)
    let pattern = Array(marker.utf8)
    guard bytes.first == UInt8(ascii: "."), bytes.count > pattern.count + 1 else { return nil }
    var start = bytes.count - pattern.count
    while start > 0 && !bytes[start..<(start + pattern.count)].elementsEqual(pattern) { start -= 1 }
    guard start > 0 else { return nil }
    let rest = bytes[(start + pattern.count)...].split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    guard rest.count == 2, !rest[1].isEmpty,
      rest[1].allSatisfy({
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
      }),
      let pid = pid_t(String(decoding: rest[0], as: UTF8.self)), pid > 0
    else { return nil }
    return pid
  }
}
