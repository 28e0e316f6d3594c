#!/usr/bin/env bash
# Runs Tests/MCP/client_test.py against the binary given (default .build/debug/petition-rpc),
# installing the official MCP Python client (`mcp` from PyPI) first when it is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="${1:-$here/../../.build/debug/petition-rpc}"
if ! python3 -c 'import mcp.client.client' >/dev/null 2>&1; then
  echo "installing the MCP Python client (mcp 2.3.0)" >&2
  python3 -m pip install --quiet 'mcp==2.3.0' 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages 'mcp==2.3.0'
fi
exec python3 "$here/client_test.py" --binary "$binary"
