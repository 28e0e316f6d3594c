#!/usr/bin/env python3
"""Imports a generated CSV of N rows through the real binary and reports rows/s and peak RSS.

usage: python3 scripts/import-benchmark.py [--rows 1000000] [--binary .build/release/petition-rpc] [--db PATH]

Not part of `make test` (it takes a while): run it on demand, on a release build
(`swift build -c release`). It checks what the contract promises of a big import:
- the result's counts agree with the file (imported + rejected = rows; the petition's count),
- a contacts export (to a file) has exactly the rows that opted in to a channel,
- importing the same file again adds nothing (every row a duplicate),
and prints the import's wall time, rows/s and the server's peak RSS (VmHWM).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HEADER = "first_name,last_name,email,zip_code,can2_phone,created_date,can2_country,email_opt_in,sms_opt_in,comments,utm_source\n"


def generate(path, rows):
    """Action Network-style rows; every 10th opts in to email, every 50th to sms; every 7th has a
    quoted multi-line comment. Returns the number of rows that opt in to some channel."""
    contacts = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        chunk = []
        for i in range(rows):
            email_opt = "yes" if i % 10 == 0 else "no"
            sms_opt = "1" if i % 50 == 0 else ""
            if i % 10 == 0 or i % 50 == 0:
                contacts += 1
            comment = f"\"Line one, \"\"quoted\"\"\nline two {i}\"" if i % 7 == 0 else ""
            day = 1 + i % 28
            chunk.append(
                f"Ann{i % 997},Smith{i % 991},person{i}@example.org,{10000 + i % 89999:05d},"
                f"202555{i % 10000:04d},2025-03-{day:02d} 12:{i % 60:02d}:00,US,{email_opt},{sms_opt},{comment},src{i % 5}\r\n")
            if len(chunk) == 10000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
    return contacts


class Server:
    def __init__(self, binary, db):
        self.process = subprocess.Popen([binary, "--db", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.next_id = 0

    def call(self, method, params):
        self.next_id += 1
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        progress = 0
        while True:
            message = json.loads(self.process.stdout.readline())
            if message.get("method") == "$/progress":
                progress += 1
                continue
            if "error" in message:
                sys.exit(f"{method}: {message['error']}")
            return message["result"], progress

    def peak_rss_kib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return None

    def cpu_seconds(self):
        """User + system CPU time of the server so far (on a busy machine wall time overstates)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        self.process.stdin.close()
        self.process.wait(60)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--binary", default=".build/release/petition-rpc")
    parser.add_argument("--db")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        csv_path = os.path.join(directory, "import.csv")
        started = time.monotonic()
        contacts = generate(csv_path, args.rows)
        print(f"generated {args.rows} rows, {os.path.getsize(csv_path) / 1e6:.1f} MB in {time.monotonic() - started:.1f}s")
        server = Server(args.binary, args.db or os.path.join(directory, "store.sqlite3"))
        server.call("petition.create", {"id": "bench", "title": "Bench", "target": "Someone"})
        started = time.monotonic()
        cpu_before = server.cpu_seconds()
        result, progress = server.call(
            "import", {"petition": "bench", "path": csv_path, "source": "bench", "progressToken": "p"})
        elapsed = time.monotonic() - started
        cpu = server.cpu_seconds() - cpu_before
        peak = server.peak_rss_kib()
        print(f"import: {elapsed:.2f}s, {args.rows / elapsed:,.0f} rows/s (CPU {cpu:.2f}s, "
              f"{args.rows / max(cpu, 0.01):,.0f} rows per CPU second), peak RSS {peak / 1024:.1f} MiB, "
              f"{progress} progress notifications")
        summary = {k: result[k] for k in ("imported", "duplicates", "rejected", "count")}
        print("result:", summary)
        ok = result["imported"] == args.rows and result["rejected"] == 0 and result["count"] == args.rows
        export_path = os.path.join(directory, "contacts.csv")
        exported, _ = server.call(
            "export", {"petition": "bench", "audience": "contacts", "format": "csv", "path": export_path})
        print(f"contacts export: {exported['count']} rows (file opted in: {contacts})")
        ok = ok and exported["count"] == contacts
        started = time.monotonic()
        cpu_before = server.cpu_seconds()
        again, _ = server.call("import", {"petition": "bench", "path": csv_path})
        elapsed = time.monotonic() - started
        cpu = server.cpu_seconds() - cpu_before
        print(f"again: {elapsed:.2f}s, {args.rows / elapsed:,.0f} rows/s (CPU {cpu:.2f}s), "
              f"imported {again['imported']}, duplicates {again['duplicates']}, count {again['count']}")
        ok = ok and again["imported"] == 0 and again["duplicates"] == args.rows and again["count"] == args.rows
        print(f"peak RSS after both: {server.peak_rss_kib() / 1024:.1f} MiB")
        server.close()
        print("ok" if ok else "MISMATCH")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
