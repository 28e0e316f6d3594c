#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Descriptors 0, 1 and 2 made safe before anything is opened.
///
/// A parent may start the server with stdin, stdout or stderr closed (`petition-rpc <&-`). The
/// next `open` or `pipe` would then take that number: the stop-signal pipe would become "stdin"
/// (the server waits forever) or "stdout" (responses go into the pipe), and the store file
/// could become "stderr" (a diagnostic written into the database). So each closed one is
/// opened onto /dev/null first:
/// - stdin closed reads as an empty input: the server starts, finds end of input, exits 0;
/// - stdout closed: requests are still read and carried out (a client that never reads, like
///   `petition-rpc < requests >&-`), the responses are discarded, and stderr says so once;
/// - stderr closed: diagnostics are discarded.
enum StandardDescriptors {
  static func secure() {
    var reopened: [Int32] = []
    for descriptor: Int32 in 0...2 where fcntl(descriptor, F_GETFD) == -1 && errno == EBADF {
      // The lower ones are open by now, so open() returns this number; dup2 in case it does not.
      let null = open("/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY)
      guard null >= 0 else {
        // Nothing safe to do without /dev/null: better not to start than to corrupt a store.
        _exit(70)  // EX_SOFTWARE
      }
      if null != descriptor {
        dup2(null, descriptor)
        close(null)
      }
      reopened.append(descriptor)
    }
    if reopened.contains(1) && !reopened.contains(2) {
      let line = Array(
        "petition-rpc: stdout is closed: requests are carried out but their responses are discarded\n".utf8)
      line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    }
  }
}
