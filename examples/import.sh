#!/usr/bin/env bash
# Imports examples/import-sample.csv (an Action Network-style export: can2_* columns, a BOM, CRLF,
# a quoted comment over two lines, a bad ZIP, a duplicate) into a throw-away store, with progress.
# usage: examples/import.sh [path/to/petition-rpc]   (run from the package root)
set -euo pipefail
binary="${1:-${PETITION_RPC_BIN:-}}"
if [ -z "$binary" ]; then
  if [ -x .build/release/petition-rpc ]; then binary=.build/release/petition-rpc; else binary=.build/debug/petition-rpc; fi
fi
printf '%s\n' \
  '{"jsonrpc":"2.0","id":1,"method":"petition.create","params":{"id":"end-the-program","title":"End the program","target":"The Secretary"}}' \
  '{"jsonrpc":"2.0","id":2,"method":"import","params":{"petition":"end-the-program","path":"examples/import-sample.csv","source":"action-network","timeZone":"America/New_York","progressToken":"import-1"}}' \
  '{"jsonrpc":"2.0","id":3,"method":"export","params":{"petition":"end-the-program","audience":"contacts","format":"csv"}}' \
  | "$binary" --db :memory:
