#!/usr/bin/env bash
# Rough PostgreSQL figures for petition-rpc (not part of `make bench`): pipelined signs/s,
# one-at-a-time sign p50, count and grouped count p50 at the size reached, copy-store records/s.
#   scripts/pg-bench.sh [BINARY] [SIGNATURES]     (default .build/release/petition-rpc, 100000)
# Uses PETITION_RPC_TEST_PG_URI, else starts a throw-away cluster (scripts/pg-test-run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-.build/release/petition-rpc}"
count="${2:-100000}"
if [ -z "${PETITION_RPC_TEST_PG_URI:-}" ]; then exec scripts/pg-test-run.sh "$0" "$@"; fi
python3 - "$binary" "$count" "$PETITION_RPC_TEST_PG_URI" <<'PY'
import json, os, statistics, subprocess, sys, tempfile, time, uuid
binary, count, uri = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def schema(): return "bench_" + uuid.uuid4().hex[:12]

def start(args):
    return subprocess.Popen([binary] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

def call(p, method, params, rid=1):
    p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}) + "\n").encode())
    p.stdin.flush()
    return json.loads(p.stdout.readline())

def sign(i, petition="p"):
    return {"petition": petition, "signer": {"email": f"bench{i}@example.org", "firstName": "Ada", "lastName": "Lovelace",
            "postalCode": "%05d" % (10000 + i % 997)}, "source": "s%d" % (i % 7)}

def pipelined(args, n):
    p = start(args)
    call(p, "petition.create", {"id": "p", "title": "Bench", "target": "Council"}, 0)
    lines = b"".join((json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "sign", "params": sign(i)}) + "\n").encode() for i in range(n))
    t0 = time.time()
    out, _ = p.communicate(lines)
    elapsed = time.time() - t0
    errors = sum(1 for line in out.splitlines() if b'"error"' in line)
    return n / elapsed, errors

def one_at_a_time(args, n=500):
    p = start(args)
    call(p, "petition.create", {"id": "q", "title": "Bench", "target": "Council"}, 0)
    times = []
    for i in range(n):
        t0 = time.perf_counter(); call(p, "sign", sign(i, "q"), i + 1); times.append(time.perf_counter() - t0)
    counts, groups = [], []
    for i in range(200):
        t0 = time.perf_counter(); call(p, "count", {"petition": "p"}, i); counts.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); call(p, "count", {"petition": "p", "groupBy": "postalCode"}, i); groups.append(time.perf_counter() - t0)
    p.stdin.close(); p.wait()
    ms = lambda xs: "%.2f ms" % (statistics.median(xs) * 1000)
    return ms(times), ms(counts), ms(groups)

s = schema()
pg = ["--db", uri, "--pg-schema", s]
rate, errors = pipelined(pg, count)
print(f"PostgreSQL pipelined signs: {rate:,.0f}/s ({count} signs, {errors} errors)")
sign_p50, count_p50, group_p50 = one_at_a_time(pg)
print(f"PostgreSQL one-at-a-time sign p50: {sign_p50}; at {count} signatures: count p50 {count_p50}, grouped (postalCode) count p50 {group_p50}")

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "bench.sqlite3")
    rate, errors = pipelined(["--db", path], count)
    print(f"SQLite pipelined signs (same run, for comparison): {rate:,.0f}/s")
    t0 = time.time()
    r = subprocess.run([binary, "copy-store", "--from", path, "--to", uri, "--pg-schema", schema()], capture_output=True, text=True)
    elapsed = time.time() - t0
    print(f"copy-store SQLite -> PostgreSQL of {count} signatures: exit {r.returncode}, {count / elapsed:,.0f} signatures/s ({elapsed:.1f} s)")
    print("  " + r.stderr.strip().splitlines()[-1])
PY
