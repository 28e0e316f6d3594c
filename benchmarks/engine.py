#!/usr/bin/env python3
"""The JSON-RPC engine's throughput: messages/s for trivial requests (petition.list on an empty
store, and an unknown method, which touches no store), pipelined, in NDJSON and in Content-Length framing, for petition-rpc and for a plain C
loop over jansson (benchmarks/jansson_loop.c) measured in the same run. Median of several runs.

    python3 benchmarks/engine.py --server .build/release/petition-rpc --loop benchmarks/bin/jansson_loop
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import threading
import time


def requests(n: int, framed: bool, method: bytes) -> bytes:
    parts = []
    for i in range(n):
        body = b'{"jsonrpc":"2.0","id":%d,"method":"%s"}' % (i, method)
        parts.append(b"Content-Length: %d\r\n\r\n%s" % (len(body), body) if framed else body + b"\n")
    return b"".join(parts)


def run_once(argv, data: bytes, n: int, framed: bool) -> float:
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    marker = b"Content-Length:" if framed else b"\n"

    def write():
        process.stdin.write(data)
        process.stdin.close()

    start = time.perf_counter()
    threading.Thread(target=write, daemon=True).start()
    seen = 0
    carry = b""  # a marker may be split between two reads
    while seen < n:
        chunk = process.stdout.read1(1 << 20)
        if not chunk:
            break
        window = carry + chunk
        seen += window.count(marker)
        carry = window[-(len(marker) - 1):] if len(marker) > 1 else b""
        if len(marker) > 1 and marker in carry:
            carry = b""
    elapsed = time.perf_counter() - start
    process.wait()
    if seen < n:
        raise SystemExit(f"{argv[0]}: {seen} of {n} answers")
    return n / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=".build/release/petition-rpc")
    parser.add_argument("--loop", default="benchmarks/bin/jansson_loop")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="petition-engine-")
    rows = []
    # petition.list reads the (empty) store; an unknown method exercises the engine alone
    # (framing, parsing, dispatch, an error response) and touches no store.
    for method in (b"petition.list", b"engine.unknown"):
        for framed in (False, True):
            data = requests(args.messages, framed, method)
            server_rates, loop_rates = [], []
            for run in range(args.runs):
                store = os.path.join(directory, f"engine-{framed}-{run}.sqlite3")
                server_rates.append(run_once([args.server, "--db", store], data, args.messages, framed))
                loop_rates.append(run_once([args.loop], data, args.messages, framed))
            server, loop = statistics.median(server_rates), statistics.median(loop_rates)
            framing = "Content-Length" if framed else "NDJSON"
            rows.append((method.decode(), framing, server, loop, server / loop))
    print("| method | framing | petition-rpc (msg/s) | C loop over jansson (msg/s) | ratio |")
    print("| --- | --- | ---: | ---: | ---: |")
    for method, framing, server, loop, ratio in rows:
        print(f"| {method} | {framing} | {server:,.0f} | {loop:,.0f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
