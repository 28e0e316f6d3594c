#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why a file operation failed: the `errno` and what was being done.
public struct FileError: Error, Equatable, Sendable, CustomStringConvertible {
  public var code: Int32
  /// Words of our own, when `strerror` would not say what happened.
  public var message: String?
  public init(code: Int32 = errno, message: String? = nil) {
    self.code = code
    self.message = message
  }

  /// The destination is a directory, device, pipe or socket: replacing it with the file would
  /// destroy it (`rename` turned /dev/null into a regular file), so it is never replaced.
  public static let notARegularFile = FileError(
    code: EEXIST, message: "it is not a regular file (a directory, device, pipe or socket is never replaced)")

  /// The destination exists and was not to be replaced.
  public var isAlreadyExists: Bool { code == EEXIST && message == nil }
  /// The system's words for the error (`strerror`).
  public var description: String {
    if let message { return message }
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
  }
}

/// A file that readers see whole or not at all.
///
/// Bytes go to a temporary file beside the destination (created `O_EXCL`, mode 0600); `publish`
/// fsyncs it, then links it to the destination (which refuses to replace a file that appeared
/// meanwhile) or renames it over the destination (when replacing), and fsyncs the directory so
/// the name survives a power cut. `abandon` removes the temporary file.
public final class AtomicFile {
  public let path: String
  public let temporaryPath: String
  private var descriptor: Int32
  public private(set) var bytesWritten = 0

  /// Creates the temporary file for `path`.
  public init(path: String) throws(FileError) {
    self.path = path
    TemporaryFiles.removeStale(inDirectory: Self.directory(of: path))
    self.temporaryPath = Self.temporaryPath(for: path)
    descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { throw FileError() }
  }

  deinit { abandon() }

  /// Whether something exists at `path`.
  public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

  /// Whether `publish(replacing: true)` may put the file at `path`: nothing is there, or a
  /// regular file, or a symbolic link (the link itself is replaced, never what it points to).
  public static func isReplaceable(_ path: String) -> Bool {
    var info = stat()
    guard lstat(path, &info) == 0 else { return true }
    let kind = info.st_mode & S_IFMT
    return kind == S_IFREG || kind == S_IFLNK
  }

  /// Writes all of `bytes` to the temporary file.
  public func write(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
    guard descriptor >= 0 else { throw FileError(code: EBADF) }
    var offset = 0
    while offset < bytes.count {
      let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
      if written < 0 {
        if errno == EINTR { continue }
        throw FileError()
      }
      offset += written
    }
    bytesWritten += bytes.count
  }

  /// Makes the file durable and visible at `path`. Without `replacing`, an existing file at
  /// `path` is left alone and the error says `isAlreadyExists`. On failure nothing is published
  /// and the temporary file is removed.
  public func publish(replacing: Bool) throws(FileError) {
    guard descriptor >= 0 else { throw FileError(code: EBADF) }
    if fsync(descriptor) != 0 {
      let error = FileError()
      abandon()
      throw error
    }
    close(descriptor)
    descriptor = -1
    if replacing {
      guard Self.isReplaceable(path) else {
        unlink(temporaryPath)
        throw FileError.notARegularFile
      }
      guard rename(temporaryPath, path) == 0 else {
        let error = FileError()
        unlink(temporaryPath)
        throw error
      }
    } else {
      let linked = link(temporaryPath, path) == 0
      let error = FileError()
      unlink(temporaryPath)
      guard linked else { throw error }
    }
    Self.syncDirectory(Self.directory(of: path))
  }

  /// Closes and removes the temporary file, if it is still there.
  public func abandon() {
    guard descriptor >= 0 else { return }
    close(descriptor)
    descriptor = -1
    unlink(temporaryPath)
  }

  static func directory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
  }

  /// `.NAME.petition-rpc-tmp.PID.RANDOM`: a file left by a writer that died is recognised and
  /// removed by the next write into its folder (`TemporaryFiles.removeStale`).
  static func temporaryPath(for path: String) -> String { TemporaryFiles.path(for: path) }

  /// Makes a directory entry change durable.
  static func syncDirectory(_ directory: String) {
    let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    fsync(descriptor)
    close(descriptor)
  }
}
