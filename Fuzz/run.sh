#!/usr/bin/env bash
# Runs each libFuzzer target (built by Fuzz/build.sh) on the committed seeds plus a working
# corpus in .build-fuzz/corpus/NAME, for FUZZ_RUNS executions (default 10 million) or
# FUZZ_SECONDS seconds each, whichever comes first (FUZZ_SECONDS=0: no time limit). Crashes
# are written to .build-fuzz/crashes/; the summary line of each target (executions, exec/s,
# cov) is printed at the end. Usage: Fuzz/run.sh [target...]  (frames requests params rfc3339 csv)
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${FUZZ_RUNS:-10000000}
seconds=${FUZZ_SECONDS:-0}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frames requests params rfc3339 csv)
status=0
# A failed precondition is reported by libFuzzer; Swift's own backtracer would then read
# memory that AddressSanitizer flags, burying the real report.
export SWIFT_BACKTRACE=enable=no
mkdir -p .build-fuzz/crashes .build-fuzz/logs
for target in "${targets[@]}"; do
  mkdir -p ".build-fuzz/corpus/$target"
  log=".build-fuzz/logs/$target.log"
  echo "fuzz-$target: up to $runs runs$([ "$seconds" != 0 ] && echo ", $seconds s") ..."
  if ! .build-fuzz/bin/fuzz-"$target" -runs="$runs" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=".build-fuzz/crashes/$target-" \
    ".build-fuzz/corpus/$target" "Fuzz/corpus/$target" >"$log" 2>&1; then
    status=1
    echo "fuzz-$target: FAILED (see $log and .build-fuzz/crashes/)"
    grep -E "ERROR|Fatal error|precondition|SUMMARY" "$log" | head -5
  fi
  done_line=$(grep -E "^#[0-9]+.*(DONE|pulse|NEW|REDUCE)" "$log" | tail -1)
  runs_done=$(grep -E "stat::number_of_executed_units" "$log" | awk '{print $2}')
  speed=$(grep -E "stat::average_exec_per_sec" "$log" | awk '{print $2}')
  echo "fuzz-$target: ${runs_done:-?} executions, ${speed:-?} exec/s, $(echo "$done_line" | grep -oE 'cov: [0-9]+ ft: [0-9]+')"
done
exit $status
