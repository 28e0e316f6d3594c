// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "petition-rpc",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "petition-rpc", targets: ["petition-rpc"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
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

    // SHA-256, HMAC-SHA-256 and random tokens on libcrypto.
    .target(name: "Crypto", dependencies: ["CCrypto"]),
    // JSON values owned by Swift, read and written by libjansson.
    .target(name: "JSON", dependencies: ["CJansson"]),
    // JSON-RPC 2.0: framing, messages, errors, dispatch on stdio.
    .target(name: "JSONRPC", dependencies: ["JSON"]),
    // The petition domain: values, rules and the store protocol. No C, no I/O.
    .target(name: "Petitions"),
    // A thin owning wrapper over sqlite3: connections, statements, errors, migrations.
    .target(name: "SQLite", dependencies: ["CSQLite"]),
    // The embedded default store: PetitionStore on SQLite.
    .target(name: "SQLiteStore", dependencies: ["SQLite", "Petitions", "Crypto"]),
    // The methods of the contract: params in, domain calls, results out.
    .target(name: "Server", dependencies: ["JSON", "JSONRPC", "Petitions", "Crypto"]),
    .executableTarget(
      name: "petition-rpc",
      dependencies: [
        "Server", "SQLiteStore", "JSONRPC",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),

    // Spawns the real binary over pipes for end-to-end tests.
    .target(name: "TestSupport", path: "Tests/TestSupport"),
    // The store conformance suite: the contract's rules as test cases over any PetitionStore,
    // run by each store's test target with its own factory.
    .target(name: "StoreConformance", dependencies: ["Petitions"], path: "Tests/StoreConformance"),
    .testTarget(name: "JSONTests", dependencies: ["JSON"]),
    .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
    .testTarget(name: "JSONRPCTests", dependencies: ["JSONRPC", "JSON"]),
    .testTarget(name: "PetitionsTests", dependencies: ["Petitions"]),
    .testTarget(name: "SQLiteStoreTests", dependencies: ["SQLiteStore", "SQLite", "Petitions", "StoreConformance"]),
    .testTarget(name: "ServerTests", dependencies: ["Server", "Petitions", "JSON"]),
    .testTarget(name: "EndToEndTests", dependencies: ["TestSupport", "petition-rpc"]),
  ],
  swiftLanguageModes: [.v6]
)
