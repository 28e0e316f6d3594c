import Petitions

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The database file on disk, created by us rather than by SQLite so that its mode is 0600 from
/// the first byte. SQLite creates the `-wal` and `-shm` files with the database file's mode
/// (and deletes them when the last connection closes); they are made 0600 after each open,
/// whatever the main file's mode (a file created beforehand with 0644 must not get readable
/// companions holding the newest writes).
enum StoreFile {
  /// Sets the `-wal` and `-shm` files (ours) to exactly 0600. Called once the connection has
  /// opened them: SQLite gives a new or empty companion the database file's mode (so creating
  /// them 0600 beforehand would not last), and a file with content keeps its mode. And called
  /// before opening: companions left 0400 by a run on a read-only (0444) database file kept the
  /// store read-only after its owner made the file writable again (the connection opened the
  /// 0400 `-shm` read-only), a -32000 that no retry cured.
  static func makeCompanionsPrivate(ofPath path: String) {
    for companion in [path + "-wal", path + "-shm"] {
      var status = stat()
      if stat(companion, &status) == 0, status.st_uid == getuid(), status.st_mode & 0o777 != 0o600 {
        chmod(companion, 0o600)
      }
    }
  }

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

/// Notices that the store's files were removed, replaced or truncated under a running server
/// (someone deleted the database or its WAL, or restored another file over it). SQLite keeps
/// writing to the open, now unlinked, files and every commit succeeds: the writes would be
/// acknowledged and then lost. Checked before each commit (two `stat`s and an `fstat`).
///
/// Only `stat` by path, never a descriptor of our own: closing any descriptor of the database
/// file would drop SQLite's POSIX locks on it for the whole process.
final class StoreFileIdentity {
  private let path: String
  private let device: UInt64
  private let inode: UInt64
  /// The largest size seen: without VACUUM (never run) a SQLite database file never shrinks.
  private var largestSize: Int64
  /// The WAL file's identity once it exists (SQLite creates it at the first write).
  private var wal: (device: UInt64, inode: UInt64)?
  private var hasReported = false

  init?(path: String) {
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    self.path = path
    device = UInt64(status.st_dev)
    inode = UInt64(status.st_ino)
    largestSize = Int64(status.st_size)
  }

  /// Nil when the files are still the store's; else what happened to them.
  func problem() -> String? {
    var status = stat()
    guard stat(path, &status) == 0 else {
      return "the store file \(path) was removed while the server was running"
    }
    guard UInt64(status.st_dev) == device, UInt64(status.st_ino) == inode else {
      return "the store file \(path) was replaced or moved while the server was running"
    }
    if Int64(status.st_size) < largestSize {
      return "the store file \(path) was truncated while the server was running"
    }
    largestSize = Int64(status.st_size)
    var walStatus = stat()
    if stat(path + "-wal", &walStatus) == 0 {
      let identity = (UInt64(walStatus.st_dev), UInt64(walStatus.st_ino))
      if let wal, wal != identity {
        return "the store's WAL file \(path)-wal was replaced while the server was running"
      }
      wal = identity
    } else if wal != nil, errno == ENOENT {
      return "the store's WAL file \(path)-wal was removed while the server was running"
    }
    return nil
  }

  /// `problem()` as a store error, said once on stderr (the operator must act: restart the
  /// server on the right file; nothing more is acknowledged meanwhile).
  func check() throws(StoreError) {
    guard let problem = problem() else { return }
    let message = problem + "; writes are refused (nothing more can be made durable); restart on the store file"
    if !hasReported {
      hasReported = true
      let line = Array(("petition-rpc: " + message + "\n").utf8)
      _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
    throw .unavailable(message)
  }
}
