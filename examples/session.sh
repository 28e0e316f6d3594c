#!/usr/bin/env bash
# A petition-rpc session in plain shell: NDJSON requests in (a heredoc), responses out.
#
# usage: examples/session.sh [BINARY]
# The binary is $1, else $PETITION_RPC_BIN, else ./.build/release/petition-rpc, else
# ./.build/debug/petition-rpc. The store is --db :memory:, so nothing is kept.
# Responses come one per line, matched to requests by id (a notification gets none; a batch gets
# one array). The server answers what it read and exits 0 when the heredoc ends.
set -euo pipefail

bin=${1:-${PETITION_RPC_BIN:-}}
if [[ -z $bin ]]; then
  for candidate in ./.build/release/petition-rpc ./.build/debug/petition-rpc; do
    if [[ -x $candidate ]]; then bin=$candidate; break; fi
  done
fi
if [[ -z $bin || ! -x $bin ]]; then
  echo "session.sh: no petition-rpc binary; build it (swift build -c release) or pass its path" >&2
  exit 1
fi

"$bin" --db :memory: <<'NDJSON'
{"jsonrpc":"2.0","id":1,"method":"petition.create","params":{"id":"end-the-program","title":"End the Example Program","target":"The Secretary of Example Affairs","body":"Dear Secretary,\n\nPlease end the Example Program.\n","goal":1000}}
{"jsonrpc":"2.0","id":2,"method":"sign","params":{"petition":"end-the-program","signer":{"email":"alex.example@example.org","firstName":"Alex","lastName":"Example","postalCode":"20500"},"optIn":{"email":true},"source":"shell"}}
{"jsonrpc":"2.0","id":3,"method":"sign","params":{"petition":"end-the-program","signer":{"email":"Alex.Example+again@Example.org","firstName":"Alex","lastName":"Example","postalCode":"20500"}}}
{"jsonrpc":"2.0","id":"count-1","method":"count","params":{"petition":"end-the-program","groupBy":"source"}}

{"jsonrpc":"2.0","method":"$/someNotification","params":{}}
[{"jsonrpc":"2.0","id":4,"method":"petition.get","params":{"id":"end-the-program"}},{"jsonrpc":"2.0","id":5,"method":"petition.get","params":{"id":"no-such-petition"}}]
{"jsonrpc":"2.0","id":6,"method":"export","params":{"petition":"end-the-program","audience":"delivery","format":"ndjson"}}
{"jsonrpc":"2.0","id":7,"method":"sign","params":{"petition":"end-the-program","signer":{"email":"not-an-email","firstName":"","lastName":"Example","postalCode":"2050"}}}
{"jsonrpc":"2.0","id":8,"method":"unsubscribe","params":{"phone":"202-555-0123"}}
{"jsonrpc":"2.0","id":9,"method":"petition.close","params":{"id":"end-the-program"}}
NDJSON
