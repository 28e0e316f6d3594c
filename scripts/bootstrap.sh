#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test petition-rpc:
# the C libraries' -dev packages (jansson, sqlite3, libpq, libssl, mimalloc), pkg-config, and python3's jsonschema
# (used by schema/check_examples.py). Installs nothing that is already there.
set -euo pipefail

say() { printf 'bootstrap: %s\n' "$*" >&2; }
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

if ! command -v swift >/dev/null 2>&1; then
  for candidate in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
    if [ -x "$candidate/swift" ]; then export PATH="$candidate:$PATH"; break; fi
  done
fi
command -v swift >/dev/null 2>&1 || { say "Swift 6 is required (https://www.swift.org/install/)"; exit 1; }

missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
dpkg -s libjansson-dev >/dev/null 2>&1 || missing+=(libjansson-dev)
dpkg -s libsqlite3-dev >/dev/null 2>&1 || missing+=(libsqlite3-dev)
dpkg -s libpq-dev >/dev/null 2>&1 || missing+=(libpq-dev)
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
dpkg -s libmimalloc-dev >/dev/null 2>&1 || missing+=(libmimalloc-dev)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--with-jsonschema" ] && ! python3 -c 'import jsonschema' >/dev/null 2>&1; then
  say "installing python3 jsonschema"
  python3 -m pip install --quiet jsonschema 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages jsonschema 2>/dev/null \
    || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-jsonschema >/dev/null; }
fi
