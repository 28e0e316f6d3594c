#!/usr/bin/env bash
# petition-rpc benchmarks: build the C reference and the release server, then run bench.py.
#   benchmarks/run.sh [--quick] [--only cold,throughput,...] [--server PATH] [--postgres] ...
# Every argument is passed to bench.py. With --server PATH the Swift build is skipped
# (and SKIP_SWIFT_BUILD=1 skips it too). --postgres (or --postgres-only) also measures the
# PostgreSQL store on a throw-away cluster, installing PostgreSQL with apt when it is missing.
# Results: stdout and benchmarks/results/latest.md.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'bench: %s\n' "$*" >&2; }

# 1. Dependencies, from apt only when something is missing.
missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if ! pkg-config --exists jansson sqlite3 libcrypto >/dev/null 2>&1; then
  missing+=(libjansson-dev libsqlite3-dev libssl-dev)
fi
postgres=0
for a in "$@"; do case "$a" in --postgres | --postgres-only) postgres=1 ;; esac; done
if [ "$postgres" = 1 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  say "installing ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

# 2. The reference: the limit of this machine.
mkdir -p benchmarks/bin benchmarks/results
say "building benchmarks/bin/reference"
# shellcheck disable=SC2046
cc -O2 -pthread benchmarks/reference.c $(pkg-config --cflags --libs jansson sqlite3 libcrypto) -o benchmarks/bin/reference
# shellcheck disable=SC2046
cc -O2 benchmarks/jansson_loop.c $(pkg-config --cflags --libs jansson) -o benchmarks/bin/jansson_loop

# 3. The server, in release, unless another binary is given.
server=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --server) server="${args[i + 1]:-}" ;;
    --server=*) server="${args[i]#--server=}" ;;
  esac
done
if [ -z "$server" ]; then
  if [ "${SKIP_SWIFT_BUILD:-0}" = 1 ]; then
    server=.build/release/petition-rpc
  else
    say "building petition-rpc (swift build -c release --static-swift-stdlib)"
    swift build -c release --static-swift-stdlib --product petition-rpc
    server="$(swift build -c release --static-swift-stdlib --show-bin-path)/petition-rpc"
  fi
  args=(--server "$server" "${args[@]}")
fi

# 4. Measure: the product scenarios against the reference (their exit status is the verdict),
# then the engine alone against a plain C loop over jansson.
status=0
python3 benchmarks/bench.py --reference benchmarks/bin/reference "${args[@]}" || status=$?
for a in "${args[@]}"; do [ "$a" = --postgres-only ] && exit "$status"; done
say "engine: petition.list pipelined, NDJSON and Content-Length, against benchmarks/bin/jansson_loop"
quick=()
for a in "${args[@]}"; do [ "$a" = --quick ] && quick=(--messages 50000 --runs 3); done
python3 benchmarks/engine.py --server "$server" --loop benchmarks/bin/jansson_loop "${quick[@]}" \
  | tee benchmarks/results/engine.md
exit "$status"
