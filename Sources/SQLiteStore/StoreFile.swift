import Petitions

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The database file on disk, created by us rather than by SQLite so that its mode is 0600 from
/// the first byte. SQLite creates the `-wal` and `-shm` files with the database file's mode, so
/// they are 0600 too.
enum StoreFile {
  /// Creates an empty database file with mode 0600 at `path` unless something exists there.
  static func createIfAbsent(atPath path: String) throws(StoreError) {
    // O_EXCL: never change the mode of, or truncate, a file someone else made meanwhile.
    let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    if descriptor < 0 {
      let code = errno
      if code == EEXIST { return }
      throw .unavailable("cannot create the store file \(path): \(describe(errno: code))")
    }
    defer { close(descriptor) }
    // The umask may have cleared bits of 0600; the owner needs both.
    guard fchmod(descriptor, 0o600) == 0, fsync(descriptor) == 0 else {
      throw .unavailable("cannot prepare the store file \(path): \(describe(errno: errno))")
    }
    // The new directory entry must survive a power loss as well as the data SQLite writes later.
    syncDirectory(containing: path)
  }

  /// Best effort: a directory that cannot be opened for reading (no `r` permission) is left to
  /// the file system's own ordering.
  private static func syncDirectory(containing path: String) {
    let directory: String
    if let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) {
      directory = slash == path.utf8.startIndex ? "/" : String(path[..<slash])
    } else {
      directory = "."
    }
    let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    fsync(descriptor)
    close(descriptor)
  }

  private static func describe(errno code: Int32) -> String {
    guard let text = strerror(code) else { return "error \(code)" }
    return String(cString: text)
  }
}
