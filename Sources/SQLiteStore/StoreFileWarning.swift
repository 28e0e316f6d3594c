#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension StoreFile {
  /// One line on stderr when the database file is readable by other users: it holds signers'
  /// personal data. The owner's mode is kept (they may have reasons); the `-wal` and `-shm`
  /// files are private anyway (`makeCompanionsPrivate`).
  static func warnIfReadableByOthers(atPath path: String) {
    var status = stat()
    guard stat(path, &status) == 0, status.st_mode & 0o044 != 0 else { return }
    let mode = String(status.st_mode & 0o777, radix: 8)
    let line = Array(
      ("petition-rpc: warning: the store file \(path) is readable by other users (mode 0\(mode)) and holds"
        + " signers' personal data: chmod 600 it\n").utf8)
    line.withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
  }
}
