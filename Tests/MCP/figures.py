#!/usr/bin/env python3
"""Figures of petition-rpc --mcp: cold start to the `initialize` answer, and `tools/call` of
`sign` pipelined (the client writes every request before reading, from another thread).

    python3 Tests/MCP/figures.py --binary .build/release/petition-rpc [--signs 100000]

`--server-command` measures the start-up of another MCP server command instead (e.g. a probe
built on another SDK); its signs are skipped.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import threading
import time

INITIALIZE = json.dumps({
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "figures", "version": "1"}},
}) + "\n"


def cold_start(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        process.stdin.write(INITIALIZE.encode())
        process.stdin.flush()
        line = process.stdout.readline()
        times.append((time.perf_counter() - started) * 1000)
        assert b'"protocolVersion"' in line, line
        process.stdin.close()
        process.wait()
    return times


def pipelined_signs(binary: str, database: str, count: int, mcp: bool = True) -> float:
    """Signs per second; with `mcp` false, the same signs as JSON-RPC `sign` requests (the baseline)."""
    process = subprocess.Popen([binary] + (["--mcp"] if mcp else []) + ["--db", database], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=1 << 20)

    def request(number: int, name: str, arguments: dict) -> dict:
        if mcp:
            return {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
        return {"jsonrpc": "2.0", "id": number, "method": name.replace("_", "."), "params": arguments}

    create = request(0, "petition_create", {"id": "fig", "title": "Figures", "target": "T"})
    process.stdin.write((json.dumps(create) + "\n").encode())
    process.stdin.flush()
    process.stdout.readline()
    lines = []
    for number in range(1, count + 1):
        arguments = {"petition": "fig", "signer": {"email": f"p{number}@example.org", "firstName": "Ada",
                                                    "lastName": "Lovelace", "postalCode": "12345"}}
        lines.append(json.dumps(request(number, "sign", arguments)) + "\n")
    payload = "".join(lines).encode()

    def write() -> None:
        process.stdin.write(payload)
        process.stdin.close()

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    writer = threading.Thread(target=write)
    writer.start()
    answered = 0
    for line in process.stdout:
        if b'"isError"' in line:
            raise SystemExit(f"sign failed: {line[:300]!r}")
        answered += 1
    elapsed = time.perf_counter() - started
    writer.join()
    process.wait()
    assert answered == count, answered
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"server CPU for {count} signs: {cpu:.2f} s ({cpu / count * 1e6:.1f} us per sign, user+system)")
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--signs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--server-command", nargs="*")
    parser.add_argument("--start-only", action="store_true", help="measure the cold start only")
    options = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="petition-mcp-figures-")
    command = options.server_command or [options.binary, "--mcp", "--db", os.path.join(directory, "start.sqlite3")]
    times = cold_start(command, options.runs)
    print(f"cold start to the initialize answer: median {statistics.median(times):.2f} ms, "
          f"min {min(times):.2f} ms, max {max(times):.2f} ms over {len(times)} runs ({' '.join(command[:1])})")
    if options.server_command or options.start_only:
        return
    rate = pipelined_signs(options.binary, os.path.join(directory, "signs.sqlite3"), options.signs)
    print(f"tools/call sign pipelined: {rate:,.0f} signs/s ({options.signs} signs, SQLite, synchronous=FULL)")
    rate = pipelined_signs(options.binary, os.path.join(directory, "jsonrpc.sqlite3"), options.signs, mcp=False)
    print(f"JSON-RPC sign pipelined (baseline, same run): {rate:,.0f} signs/s")


if __name__ == "__main__":
    main()
