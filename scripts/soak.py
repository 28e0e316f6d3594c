#!/usr/bin/env python3
"""Soak test: mixed traffic from several clients on one store, for a while.

Each client is its own petition-rpc process (the transport is one client per process) on the
same SQLite store, driven by one thread with a mix of: signs of new people, duplicate signs,
counts, export pages, file exports, exports cancelled with $/cancelRequest, unsubscribes,
petition.create/close, batches, and garbage (malformed JSON, invalid requests, bad params).

Every minute it samples, per server process, the resident memory (VmRSS), the open file
descriptors and the answer latency of that minute (p50/p99/max), and prints a table. At the
end it checks the store (each client's acknowledged new signatures are all counted;
PRAGMA integrity_check) and fails (exit 1) if any server's RSS at the end is more than 10%
above its RSS at minute 5 (or at the middle of a run shorter than 10 minutes), if its open
descriptors grew, or if any answer was malformed or an unexpected error.

    SOAK_MINUTES=30 python3 scripts/soak.py --binary .build/release/petition-rpc
"""

import argparse
import json
import os
import select
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def percentile(values, fraction):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Client(threading.Thread):
    """One server process and the thread that drives it."""

    ROTATE_AFTER = 2000  # new signatures before the client moves to a fresh petition

    def __init__(self, number, binary, store, folder, deadline, seed):
        super().__init__(daemon=True)
        self.number = number
        self.folder = folder
        self.deadline = deadline
        self.random = random.Random(seed)
        self.process = subprocess.Popen(
            [binary, "--db", store, "--busy-timeout-ms", "10000"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(folder, f"stderr-{number}"), "wb"),
            bufsize=0)
        self.pending = b""
        self.next_id = 0
        self.lock = threading.Lock()
        self.latencies = []  # seconds, of this minute
        self.requests = 0
        self.problems = []
        self.signed = {}  # petition -> set of emails acknowledged as new
        self.emails = []
        self.petition = None
        self.petition_count = 0
        self.unavailable = 0
        self.last_action = None

    # Protocol

    def send(self, text):
        self.process.stdin.write(text.encode() + b"\n")

    def read_line(self, timeout=60):
        """The next line of stdout; a server silent for `timeout` seconds is a hang."""
        descriptor = self.process.stdout.fileno()
        while b"\n" not in self.pending:
            ready, _, _ = select.select([descriptor], [], [], timeout)
            if not ready:
                raise TimeoutError(f"no answer for {timeout} s (last request id {self.next_id})")
            chunk = os.read(descriptor, 1 << 16)
            if not chunk:
                raise EOFError("server closed stdout")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line

    def read_message(self):
        line = self.read_line()
        try:
            return json.loads(line)
        except ValueError:
            self.problems.append(f"malformed frame: {line[:200]!r}")
            return None

    def call(self, method, params=None, notification_ok=True):
        self.next_id += 1
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            request["params"] = params
        started = time.monotonic()
        self.send(json.dumps(request))
        while True:
            message = self.read_message()
            if message is None:
                continue
            if "method" in message:  # $/progress
                continue
            break
        self.record(time.monotonic() - started)
        if message.get("id") != self.next_id:
            self.problems.append(f"answer for id {message.get('id')} while waiting for {self.next_id}")
        return message

    def record(self, seconds):
        with self.lock:
            self.latencies.append(seconds)
            self.requests += 1

    def take_latencies(self):
        with self.lock:
            values, self.latencies = self.latencies, []
            return values

    def expect_result(self, message, what):
        if "result" in message:
            return message["result"]
        code = message.get("error", {}).get("code")
        if code == -32000:
            self.unavailable += 1  # locked past the timeout: allowed, counted
        else:
            self.problems.append(f"{what}: {json.dumps(message)[:300]}")
        return None

    # Traffic

    def new_petition(self):
        if self.petition is not None and self.random.random() < 0.8:
            self.expect_result(self.call("petition.close", {"id": self.petition}), "petition.close")
        self.petition_count += 1
        self.petition = f"soak-{self.number}-{self.petition_count}"
        self.expect_result(
            self.call("petition.create", {"id": self.petition, "title": "Soak test petition", "target": "Nobody"}),
            "petition.create")
        self.signed[self.petition] = set()

    def signer(self, email):
        return {"email": email, "firstName": "Soak", "lastName": f"Tester{self.random.randrange(1000)}",
                "postalCode": "20001", "country": "US"}

    def sign_new(self):
        email = f"c{self.number}-{self.petition_count}-{len(self.signed[self.petition])}-{self.random.randrange(1 << 30)}@example.org"
        opt = {"email": self.random.random() < 0.5}
        result = self.expect_result(
            self.call("sign", {"petition": self.petition, "signer": self.signer(email), "optIn": opt}), "sign")
        if result is not None:
            if result.get("duplicate"):
                self.problems.append(f"a new signer was a duplicate: {result}")
            self.signed[self.petition].add(email)
            self.emails.append(email)
            if len(self.emails) > 5000:
                self.emails = self.emails[-2500:]

    def sign_duplicate(self):
        if not self.signed[self.petition]:
            return self.sign_new()
        email = self.random.choice(sorted(self.signed[self.petition])[-200:])
        result = self.expect_result(
            self.call("sign", {"petition": self.petition, "signer": self.signer(email.upper())}), "duplicate sign")
        if result is not None and not result.get("duplicate"):
            self.problems.append(f"a duplicate sign was not a duplicate: {result}")

    def count(self):
        result = self.expect_result(self.call("count", {"petition": self.petition}), "count")
        if result is not None and result.get("total") != len(self.signed[self.petition]):
            self.problems.append(f"count {result.get('total')} != {len(self.signed[self.petition])} signed")

    def export_page(self):
        self.expect_result(
            self.call("export", {"petition": self.petition, "audience": self.random.choice(["delivery", "contacts"]),
                                 "format": self.random.choice(["json", "csv", "ndjson"]), "limit": 100}),
            "export page")

    def export_file(self):
        path = os.path.join(self.folder, f"export-{self.number}.csv")
        result = self.expect_result(
            self.call("export", {"petition": self.petition, "audience": "delivery", "format": "csv", "path": path,
                                 "overwrite": True}),
            "file export")
        if result is not None and result.get("count") != len(self.signed[self.petition]):
            self.problems.append(f"file export count {result.get('count')} != {len(self.signed[self.petition])}")

    def cancelled_export(self):
        self.next_id += 1
        export_id = f"x{self.next_id}"
        path = os.path.join(self.folder, f"cancelled-{self.number}.json")
        started = time.monotonic()
        self.send(json.dumps({"jsonrpc": "2.0", "id": export_id, "method": "export",
                              "params": {"petition": self.petition, "audience": "contacts", "format": "json",
                                         "path": path, "overwrite": True, "progressToken": export_id}}))
        self.send(json.dumps({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": export_id}}))
        while True:
            message = self.read_message()
            if message is None or "method" in message:
                continue
            break
        self.record(time.monotonic() - started)
        code = message.get("error", {}).get("code")
        if "result" not in message and code not in (-32800, -32000):
            self.problems.append(f"cancelled export: {json.dumps(message)[:300]}")

    def unsubscribe(self):
        if not self.emails:
            return
        email = self.random.choice(self.emails)
        self.expect_result(self.call("unsubscribe", {"email": email}), "unsubscribe")

    def garbage(self):
        kind = self.random.randrange(5)
        started = time.monotonic()
        if kind == 0:
            self.send('{"jsonrpc": "2.0", "id": 1, "method": "sign", "params": {"petition": ')
            expected = -32700
        elif kind == 1:
            # No ':' (a first line "name: value" waits for LSP headers before engine 252da02).
            self.send(bytes(self.random.randrange(32, 127) for _ in range(40)).decode().replace(":", ";") + "x{")
            expected = -32700
        elif kind == 2:
            self.send(json.dumps({"jsonrpc": "1.0", "id": "g", "method": "count"}))
            expected = -32600
        elif kind == 3:
            self.send(json.dumps({"jsonrpc": "2.0", "id": "g", "method": "sign",
                                  "params": {"petition": self.petition, "signer": {"email": "not an email"}}}))
            expected = -32602
        else:
            self.send(json.dumps({"jsonrpc": "2.0", "id": "g", "method": "no.such.method"}))
            expected = -32601
        message = self.read_message()
        self.record(time.monotonic() - started)
        if message is not None and message.get("error", {}).get("code") != expected:
            self.problems.append(f"garbage {kind}: expected {expected}, got {json.dumps(message)[:200]}")

    def batch(self):
        emails = [f"b{self.number}-{self.petition_count}-{self.random.randrange(1 << 40)}@example.org" for _ in range(20)]
        requests = [{"jsonrpc": "2.0", "id": f"b{index}", "method": "sign",
                     "params": {"petition": self.petition, "signer": self.signer(email)}}
                    for index, email in enumerate(emails)]
        started = time.monotonic()
        self.send(json.dumps(requests))
        message = self.read_message()
        self.record(time.monotonic() - started)
        if not isinstance(message, list) or len(message) != 20:
            self.problems.append(f"batch answer: {json.dumps(message)[:200]}")
            return
        for answer, email in zip(sorted(message, key=lambda m: int(m["id"][1:])), emails):
            if self.expect_result(answer, "batch sign") is not None:
                self.signed[self.petition].add(email)

    def run(self):
        actions = ([self.sign_new] * 30 + [self.sign_duplicate] * 8 + [self.count] * 10 + [self.export_page] * 6
                   + [self.export_file] * 1 + [self.cancelled_export] * 1 + [self.unsubscribe] * 3
                   + [self.garbage] * 4 + [self.batch] * 2)
        try:
            self.new_petition()
            while time.monotonic() < self.deadline:
                if len(self.signed[self.petition]) >= self.ROTATE_AFTER:
                    self.new_petition()
                action = self.random.choice(actions)
                self.last_action = action.__name__
                action()
                time.sleep(0.002)
        except (EOFError, BrokenPipeError, TimeoutError) as error:
            self.problems.append(f"server gone or hanging: {error} (after {self.last_action})")

    def stop(self):
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=None, help="petition-rpc (default: .build/release, else .build/debug)")
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "30")))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("SOAK_CLIENTS", "4")))
    parser.add_argument("--seed", type=int, default=11)
    arguments = parser.parse_args()
    binary = arguments.binary
    if binary is None:
        for candidate in (".build/release/petition-rpc", ".build/debug/petition-rpc"):
            if os.access(candidate, os.X_OK):
                binary = candidate
                break
    if binary is None:
        sys.exit("soak: no petition-rpc binary (make release, or pass --binary)")
    binary = os.path.abspath(binary)

    folder = tempfile.mkdtemp(prefix="petition-rpc-soak-")
    store = os.path.join(folder, "soak.sqlite3")
    deadline = time.monotonic() + arguments.minutes * 60
    clients = [Client(number, binary, store, folder, deadline, arguments.seed * 100 + number)
               for number in range(arguments.clients)]
    # The first client creates the schema; the others start once the store exists.
    clients[0].start()
    time.sleep(0.5)
    for client in clients[1:]:
        client.start()

    minutes = max(1, int(round(arguments.minutes)))
    interval = arguments.minutes * 60 / minutes
    samples = []  # per minute: list of (rss, fds) per client, latencies, requests
    print(f"soak: {arguments.clients} clients on {store} for {arguments.minutes:g} min ({binary})", flush=True)
    header = f"{'min':>4} {'requests':>9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} " \
             f"{'RSS MiB (per server)':>28} {'fds':>12}"
    print(header, flush=True)
    started = time.monotonic()
    previous_requests = 0
    for minute in range(1, minutes + 1):
        time.sleep(max(0, started + minute * interval - time.monotonic()))
        latencies = [value for client in clients for value in client.take_latencies()]
        requests = sum(client.requests for client in clients)
        memory = [rss_kib(client.process.pid) for client in clients]
        fds = [open_fds(client.process.pid) for client in clients]
        samples.append({"rss": memory, "fds": fds})
        rate = (requests - previous_requests) / interval
        previous_requests = requests
        print(f"{minute:>4} {requests:>9} {rate:>7.0f} {percentile(latencies, 0.5) * 1000:>7.2f} "
              f"{percentile(latencies, 0.99) * 1000:>7.2f} {max(latencies, default=0) * 1000:>7.1f} "
              f"{' '.join(f'{value / 1024:6.1f}' for value in memory):>28} {' '.join(str(f) for f in fds):>12}",
              flush=True)

    for client in clients:
        client.join(timeout=120)
    statuses = [client.stop() for client in clients]

    failures = []
    for client, status in zip(clients, statuses):
        if status != 0:
            failures.append(f"client {client.number}: server exit status {status}")
        for problem in client.problems[:5]:
            failures.append(f"client {client.number}: {problem}")
        if len(client.problems) > 5:
            failures.append(f"client {client.number}: ... {len(client.problems) - 5} more problems")

    # Every acknowledged new signature is in the store.
    connection = sqlite3.connect(store)
    integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
    if integrity != "ok":
        failures.append(f"integrity_check: {integrity}")
    acknowledged = sum(len(emails) for client in clients for emails in client.signed.values())
    try:
        stored = connection.execute("SELECT count(*) FROM signatures").fetchone()[0]
        if stored != acknowledged:
            failures.append(f"{acknowledged} new signatures acknowledged, {stored} stored")
    except sqlite3.Error as error:
        stored = f"? ({error})"
    connection.close()

    baseline_minute = 5 if minutes >= 10 else max(1, minutes // 2)
    for number in range(len(clients)):
        start_rss = samples[baseline_minute - 1]["rss"][number]
        end_rss = samples[-1]["rss"][number]
        if start_rss > 0 and end_rss > start_rss * 1.10:
            failures.append(f"server {number}: RSS {end_rss / 1024:.1f} MiB at the end, "
                            f"more than 10% above {start_rss / 1024:.1f} MiB at minute {baseline_minute}")
        start_fds = samples[baseline_minute - 1]["fds"][number]
        end_fds = samples[-1]["fds"][number]
        if end_fds > start_fds + 2:
            failures.append(f"server {number}: open descriptors grew from {start_fds} to {end_fds}")

    unavailable = sum(client.unavailable for client in clients)
    print(f"soak: {sum(c.requests for c in clients)} answers, {acknowledged} new signatures acknowledged, "
          f"{stored} stored, {unavailable} -32000 (lock waits past the timeout), integrity {integrity}; "
          f"RSS baseline minute {baseline_minute}")
    if failures:
        print("soak: FAILED", file=sys.stderr)
        for failure in failures:
            print("  " + failure, file=sys.stderr)
        print(f"soak: files kept in {folder}", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(folder, ignore_errors=True)
    print("soak: passed")


if __name__ == "__main__":
    main()
