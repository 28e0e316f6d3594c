#!/usr/bin/env bash
# The whole test suite under one sanitizer, beside a throw-away PostgreSQL cluster:
#   scripts/sanitized-test.sh thread     # ThreadSanitizer, in .build-tsan
#   scripts/sanitized-test.sh address    # AddressSanitizer, in .build-asan
# Every process (the test runner and the sanitized servers the end-to-end tests spawn) writes
# its reports to <build path>/reports; any report, a failed test or a run past the time limit
# fails this script, and the reports are printed, symbolized by scripts/sanitizer-reports.py.
#
# Reports are written unsymbolized (symbolize=0): a sanitizer that symbolizes in the process
# starts llvm-symbolizer as a helper that inherits the test runner's output pipe and outlives
# the runner, so `swift test` never sees the end of its output. CI once lost 40 minutes that
# way, with the reports unread. SANITIZED_TEST_SECONDS (default 900; a run takes ~3 minutes
# here) bounds the run all the same.
set -uo pipefail
cd "$(dirname "$0")/.."

kind="${1:?usage: scripts/sanitized-test.sh thread|address}"
case "$kind" in
  thread)
    build=.build-tsan
    export TSAN_OPTIONS="second_deadlock_stack=1 symbolize=0 log_path=$PWD/$build/reports/tsan"
    ;;
  address)
    build=.build-asan
    export ASAN_OPTIONS="detect_leaks=0 verify_asan_link_order=0 quarantine_size_mb=16 symbolize=0 log_path=$PWD/$build/reports/asan"
    export SWIFT_BACKTRACE=enable=no
    ;;
  *) echo "sanitized-test: unknown sanitizer '$kind' (thread or address)" >&2; exit 2 ;;
esac
# Sanitized servers are slower and larger: the tests' time and memory bounds scale by this.
export PETITION_RPC_TEST_MEMORY_FACTOR=4
export PETITION_RPC_TEST_TIME_FACTOR=4

swift build --build-tests --sanitize="$kind" --build-path "$build" || exit 1
rm -rf "$build/reports" && mkdir -p "$build/reports"

status=0
scripts/pg-test-run.sh timeout --kill-after=10 "${SANITIZED_TEST_SECONDS:-900}" \
  swift test --skip-build --sanitize="$kind" --build-path "$build" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "sanitized-test ($kind): the run passed its time limit; processes still alive:" >&2
  ps -eo pid,ppid,etime,args | grep -E 'petition|xctest|symbolizer|sqlite3|psql|python' | grep -v grep >&2 || true
fi
scripts/sanitizer-reports.py "$build/reports" || status=1
exit "$status"
