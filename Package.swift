// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "petition-rpc",
  // Builds and is tested on Linux only (Glibc; libjansson, libsqlite3 and libcrypto from
  // Debian): no Apple platform is declared because none is supported.
  products: [
    .executable(name: "petition-rpc", targets: ["petition-rpc"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
  ],
  targets: [
    // C libraries, each behind a system-library target named after its Debian -dev package.
    .systemLibrary(
      name: "CJansson",
      pkgConfig: "jansson",
      providers: [.apt(["libjansson-dev"])]
    ),
    .systemLibrary(
      name: "CCrypto",
      pkgConfig: "libcrypto",
      providers: [.apt(["libssl-dev"])]
    ),
    .systemLibrary(
      name: "CSQLite",
      pkgConfig: "sqlite3",
      providers: [.apt(["libsqlite3-dev"])]
    ),
    // libpq's API (headers from libpq-dev), with libpq itself loaded on first use: linking it
    // would load it and its ~20 libraries in every process, +4 ms at each start (see libpq.c).
    .target(name: "CPostgres", linkerSettings: [.linkedLibrary("dl")]),

    // SHA-256, HMAC-SHA-256 and random tokens on libcrypto.
    .target(name: "Crypto", dependencies: ["CCrypto"]),
    // JSON values owned by Swift, read and written by libjansson.
    .target(name: "JSON", dependencies: ["CJansson"]),
    // The protocol-neutral service core: calls, errors, cancellation, progress, and the
    // pipeline that runs calls from any front through a service with group commit.
    .target(name: "Service", dependencies: ["JSON", .product(name: "Logging", package: "swift-log")]),
    // JSON-RPC 2.0 over stdio: framing, messages, batches, ids; one front on the Service.
    .target(name: "JSONRPC", dependencies: ["JSON", "Service", .product(name: "Logging", package: "swift-log")]),
    // A streaming RFC 4180 reader over read(2): flat memory, line numbers (for import).
    .target(name: "CSV"),
    // The petition domain: values, rules and the store protocol. No C, no I/O.
    .target(name: "Petitions"),
    // A thin owning wrapper over sqlite3: connections, statements, errors, migrations.
    // A SQLite VFS that writes a commit's WAL frames with one system call (wal_buffer.c).
    .target(name: "CSQLiteWAL", dependencies: ["CSQLite"]),
    .target(name: "SQLite", dependencies: ["CSQLite", "CSQLiteWAL"]),
    // The embedded default store: PetitionStore on SQLite.
    .target(name: "SQLiteStore", dependencies: ["SQLite", "Petitions", "Crypto"]),
    // POSIX file work: files published whole (temporary file, fsync, link/rename, directory fsync).
    .target(name: "Files"),
    // The shared store: PetitionStore on PostgreSQL through libpq.
    .target(name: "PostgresStore", dependencies: ["CPostgres", "Petitions", "Crypto"]),
    // The methods of the contract: params in, domain calls, results out.
    .target(
      name: "Server",
      dependencies: [
        "JSON", "Service", "Petitions", "Files", "Crypto", "CSV", .product(name: "Logging", package: "swift-log"),
      ]),
    // The Model Context Protocol over stdio: the methods as tools; one more front on the Service.
    .target(
      name: "MCP", dependencies: ["JSON", "JSONRPC", "Service", .product(name: "Logging", package: "swift-log")]),
    .executableTarget(
      name: "petition-rpc",
      dependencies: [
        "Server", "SQLiteStore", "PostgresStore", "JSONRPC", "Service",
        "MCP",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      // Release builds take malloc from mimalloc (Debian's libmimalloc-dev): its per-thread
      // free lists serve the ~140 small allocations a sign makes (jansson's values, SQLite's,
      // Swift's) with no arena lock: -9% instructions for pipelined signs (callgrind, see
      // Docs/Modules.md). Debug and sanitizer builds keep glibc's, which the sanitizers replace.
      linkerSettings: [.linkedLibrary("mimalloc", .when(configuration: .release))]
    ),

    // Spawns the real binary over pipes for end-to-end tests.
    .target(name: "TestSupport", path: "Tests/TestSupport"),
    // The store conformance suite: the contract's rules as test cases over any PetitionStore,
    // run by each store's test target with its own factory.
    .target(name: "StoreConformance", dependencies: ["Petitions"], path: "Tests/StoreConformance"),
    .testTarget(name: "JSONTests", dependencies: ["JSON"]),
    .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
    .testTarget(name: "CSVTests", dependencies: ["CSV"]),
    .testTarget(
      name: "JSONRPCTests",
      dependencies: ["JSONRPC", "Service", "JSON", .product(name: "Logging", package: "swift-log")]),
    .testTarget(name: "PetitionsTests", dependencies: ["Petitions"]),
    .testTarget(name: "SQLiteStoreTests", dependencies: ["SQLiteStore", "SQLite", "Petitions", "StoreConformance"]),
    .testTarget(
      name: "PostgresStoreTests",
      dependencies: ["PostgresStore", "SQLiteStore", "Petitions", "TestSupport", "StoreConformance", "petition-rpc"]),
    .testTarget(name: "ServerTests", dependencies: ["Server", "Petitions", "JSON"]),
    .testTarget(name: "MCPTests", dependencies: ["MCP", "Server", "JSON"]),
    .testTarget(name: "CommandLineTests", dependencies: ["petition-rpc"]),
    .testTarget(name: "EndToEndTests", dependencies: ["TestSupport", "petition-rpc", "SQLite"]),
  ],
  swiftLanguageModes: [.v6]
)
