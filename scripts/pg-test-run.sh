#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster (scripts/pg-test-cluster.sh) started
# before it and stopped after it, whatever happens, with PETITION_RPC_TEST_PG_URI exported.
#   scripts/pg-test-run.sh swift test --skip-build
# A PETITION_RPC_TEST_PG_URI already set is used as it is (no cluster is started).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PETITION_RPC_TEST_PG_URI:-}" ]; then
  if exports="$(scripts/pg-test-cluster.sh start)"; then
    eval "$exports"
    trap 'scripts/pg-test-cluster.sh stop "$PG_TEST_CLUSTER_DIR"' EXIT
  elif [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
    echo "pg-test-run: no PostgreSQL cluster could be started (CI): failing" >&2
    exit 1
  else
    echo "pg-test-run: no PostgreSQL cluster could be started: the PostgreSQL tests will be skipped" >&2
  fi
fi
if [ -n "${PETITION_RPC_TEST_PG_URI:-}" ]; then export PETITION_RPC_TEST_PG_URI; fi
"$@"
