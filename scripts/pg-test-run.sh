#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster (scripts/pg-test-cluster.sh) started
# before it and stopped after it, whatever happens, with PETITION_RPC_TEST_PG_URI exported.
#   scripts/pg-test-run.sh swift test --skip-build
# A PETITION_RPC_TEST_PG_URI already set is used as it is (no cluster is started).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PETITION_RPC_TEST_PG_URI:-}" ]; then
  exports="$(scripts/pg-test-cluster.sh start)"
  eval "$exports"
  trap 'scripts/pg-test-cluster.sh stop "$PG_TEST_CLUSTER_DIR"' EXIT
fi
export PETITION_RPC_TEST_PG_URI
"$@"
