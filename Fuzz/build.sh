#!/usr/bin/env bash
# Builds the libFuzzer targets into .build-fuzz/bin: fuzz-frames, fuzz-requests, fuzz-params,
# fuzz-rfc3339, fuzz-csv. The project's modules are built by SwiftPM with coverage instrumentation
# (-sanitize=fuzzer) and AddressSanitizer, release-optimised and with -enable-testing (the
# params target reaches the Server's internal readers through @testable import); each target
# (Fuzz/Targets/NAME.swift) is then compiled and linked against their objects by swiftc.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
scratch=.build-fuzz
flags=(-Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing)
# Server (the methods) and JSONRPC (framing, requests) are separate trees of modules.
for target in Server JSONRPC; do
  swift build -c release --build-path "$scratch" --target "$target" "${flags[@]}"
done
products="$scratch/release"
objects=()
for module in JSON JSONRPC Petitions Crypto CSV Files Service Logging Server; do
  [ -d "$products/$module.build" ] || continue
  objects+=("$products/$module.build"/*.o)
done
mkdir -p "$scratch/bin"
for target in Frames Requests Params RFC3339 CSV; do
  name=fuzz-$(echo "$target" | tr '[:upper:]' '[:lower:]')
  swiftc -O -sanitize=fuzzer,address -parse-as-library -enable-testing \
    -I "$products/Modules" -I "$products" \
    $(for map in Sources/C*/module.modulemap; do echo -Xcc -fmodule-map-file="$map"; done) \
    "Fuzz/Targets/$target.swift" "${objects[@]}" -ljansson -lcrypto \
    -o "$scratch/bin/$name"
  echo "built $scratch/bin/$name"
done
