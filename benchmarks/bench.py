#!/usr/bin/env python3
"""petition-rpc benchmarks, side by side with a minimal C reference (the limit of this machine).

Drives any executable that speaks petition-rpc's NDJSON protocol and takes `--db PATH`, over
pipes, for each scenario, several runs each, and prints medians as a table of
petition-rpc / reference / ratio / target / PASS-FAIL. Python 3 standard library only.

    python3 benchmarks/bench.py [--server PATH] [--reference PATH] [--quick] [--only a,b] [--postgres]

See benchmarks/README.md for what is measured and how to read the table.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MiB = 1024 * 1024


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Requests (fake data only: example.org addresses, fixed names).

SIGN = ('{"jsonrpc":"2.0","id":%d,"method":"sign","params":{"petition":"%s","signer":'
        '{"email":"%s@example.org","firstName":"Ada","lastName":"Lovelace","postalCode":"%05d",'
        '"country":"US","phone":"+1202555%04d"},"optIn":{"email":true},"source":"bench"}}')


def sign_req(rid: int, petition: str, local: str, i: int) -> str:
    return SIGN % (rid, petition, local, i % 100000, i % 10000)


def req(rid, method, params) -> bytes:
    return (json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params},
                       separators=(",", ":")) + "\n").encode()


def create_req(rid, pid):
    return req(rid, "petition.create", {"id": pid, "title": "Benchmark petition " + pid,
                                        "target": "The benchmark committee"})


def count_req(rid, pid):
    return req(rid, "count", {"petition": pid})


# --------------------------------------------------------------------------------------------
# A server process over pipes.

class Server:
    """One child process. Reads are blocking; a watchdog kills the child if a scenario overruns,
    which turns a hang into an EOF and a BenchError instead of a stuck suite."""

    def __init__(self, binary: str, db: str, workdir: str, timeout: float):
        self.log_path = os.path.join(workdir, "stderr.log")
        self.log = open(self.log_path, "ab")
        self.t_spawn = time.perf_counter()
        self.proc = subprocess.Popen([binary, "--db", db], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, cwd=workdir,
                                     bufsize=0, close_fds=True)
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        self.buf = bytearray()
        self.timed_out = False
        self.watchdog = threading.Timer(timeout, self._kill)
        self.watchdog.daemon = True
        self.watchdog.start()

    def _kill(self):
        self.timed_out = True
        try:
            self.proc.kill()
        except OSError:
            pass

    def send(self, data: bytes):
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.wfd, view)
                view = view[n:]
        except BrokenPipeError:
            raise BenchError(self._why("server closed its input"))

    def _fill(self):
        chunk = os.read(self.rfd, 1 << 20)
        if not chunk:
            raise BenchError(self._why("server closed its output"))
        self.buf += chunk

    def read_line(self) -> bytes:
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 1]
                return line
            self._fill()

    def call(self, data: bytes) -> dict:
        self.send(data)
        return json.loads(self.read_line())

    def read_lines_raw(self, n: int) -> bytes:
        """Read exactly n response lines, counting newlines only (cheap), return the raw bytes."""
        chunks = []
        seen = self.buf.count(b"\n")
        pending = bytes(self.buf)
        self.buf = bytearray()
        chunks.append(pending)
        while seen < n:
            chunk = os.read(self.rfd, 1 << 20)
            if not chunk:
                raise BenchError(self._why("server closed its output after %d of %d responses" % (seen, n)))
            seen += chunk.count(b"\n")
            chunks.append(chunk)
        data = b"".join(chunks)
        if seen > n:  # keep what belongs to later reads
            cut = -1
            for _ in range(n):
                cut = data.index(b"\n", cut + 1)
            self.buf += data[cut + 1:]
            data = data[:cut + 1]
        return data

    def proc_status(self, field: str) -> int:
        """A /proc/PID/status field in bytes (VmRSS, VmHWM)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise BenchError("no %s in /proc status" % field)

    def close(self, timeout: float = 60.0) -> float:
        """Close stdin (end of input), wait for exit 0; returns the time of exit."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise BenchError("server did not exit within %gs after end of input" % timeout)
        finally:
            self.watchdog.cancel()
        t = time.perf_counter()
        self.proc.stdout.close()
        self.log.close()
        if rc != 0:
            raise BenchError(self._why("server exited with %d" % rc))
        return t

    def kill(self):
        self.watchdog.cancel()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.log):
            try:
                f.close()
            except Exception:
                pass

    def _why(self, what: str) -> str:
        if self.timed_out:
            what += " (killed by the watchdog: scenario timed out)"
        try:
            with open(self.log_path, "rb") as f:
                tail = f.read()[-600:].decode("utf-8", "replace").strip().splitlines()[-3:]
            if tail:
                what += "; stderr tail: " + " | ".join(l[:160] for l in tail)
        except OSError:
            pass
        return what


def expect_result(resp, what: str):
    if not isinstance(resp, dict) or "result" not in resp:
        err = resp.get("error") if isinstance(resp, dict) else None
        if not isinstance(err, dict):
            raise BenchError("%s: the answer is not a JSON-RPC response" % what)
        raise BenchError("%s failed: error %s %s" % (what, err.get("code"), str(err.get("message"))[:120]))
    return resp["result"]


def writer_thread(server: Server, chunks):
    """Send an iterable of byte chunks from a thread, so the pipe never deadlocks."""
    failure = []

    def run():
        try:
            for c in chunks:
                server.send(c)
        except BaseException as e:  # reported by the reader side
            failure.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, failure


def percentile(sorted_values, p):
    k = max(0, math.ceil(p / 100.0 * len(sorted_values)) - 1)
    return sorted_values[k]


# --------------------------------------------------------------------------------------------
# Scenarios. Each run returns a dict of figures; the suite keeps the median of each over runs.

class Side:
    def __init__(self, name, binary, root, timeout, pg=None):
        self.name = name
        self.binary = binary
        self.root = os.path.join(root, name)
        self.shared = root  # files both sides read (sign files)
        self.timeout = timeout
        self.pg = pg  # a PostgresCluster: stores are databases in it
        os.makedirs(self.root)
        self.n = 0
        self.seeded = None  # (big, mid) sizes once seeded

    def fresh_db(self, workdir):
        """A new empty store: a SQLite file in workdir, or a new database in the cluster."""
        if self.pg:
            return self.pg.new_database("bench_%d" % self.n)
        return os.path.join(workdir, "store.sqlite3")

    def workdir(self, label):
        self.n += 1
        d = os.path.join(self.root, "%02d-%s" % (self.n, label))
        os.makedirs(d)
        return d

    def spawn(self, db, workdir):
        return Server(self.binary, db, workdir, self.timeout)


def scenario_cold(side: Side, state: dict):
    if "cold_db" not in state:
        d = side.workdir("cold")
        state["cold_db"] = os.path.join(d, "store.sqlite3")
        s = side.spawn(state["cold_db"], d)
        try:
            expect_result(s.call(create_req(1, "cold")), "petition.create")
            s.close()
        finally:
            s.kill()
    d = os.path.dirname(state["cold_db"])
    s = side.spawn(state["cold_db"], d)
    try:
        t0 = s.t_spawn
        s.send(count_req(1, "cold"))
        line = s.read_line()
        t1 = time.perf_counter()
        rss = s.proc_status("VmRSS")
        expect_result(json.loads(line), "count")
        t2 = s.close()
    finally:
        s.kill()
    return {"cold_start": t2 - t0, "first_response": t1 - t0, "idle_rss": rss}


def scenario_throughput(side: Side, state: dict, n: int):
    d = side.workdir("throughput")
    db = side.fresh_db(d)
    lines = [sign_req(i + 1, "tp", "tp%d" % i, i) for i in range(n)]
    payload = ("\n".join(lines) + "\n").encode()
    del lines
    chunks = [payload[i:i + (256 << 10)] for i in range(0, len(payload), 256 << 10)]
    s = side.spawn(db, d)
    try:
        expect_result(s.call(create_req(0, "tp")), "petition.create")
        t0 = time.perf_counter()
        th, failure = writer_thread(s, chunks)
        data = s.read_lines_raw(n)
        t1 = time.perf_counter()
        th.join()
        if failure:
            raise BenchError(str(failure[0]))
        s.close()
    finally:
        s.kill()
    ids, top = set(), 0
    for line in data.splitlines():
        r = expect_result(json.loads(line), "sign")
        if r.get("duplicate") is not False:
            raise BenchError("a distinct email was answered as a duplicate")
        ids.add(r["signatureId"])
        top = max(top, r["count"])
    if len(ids) != n or top != n:
        raise BenchError("expected %d distinct signatures, got %d ids, count %d" % (n, len(ids), top))
    shutil.rmtree(d, ignore_errors=True)
    return {"sign_throughput": n / (t1 - t0)}


def scenario_sign_latency(side: Side, state: dict, n: int):
    d = side.workdir("latency")
    db = side.fresh_db(d)
    reqs = [(sign_req(i + 1, "lat", "lat%d" % i, i) + "\n").encode() for i in range(n + 50)]
    s = side.spawn(db, d)
    lat = []
    try:
        expect_result(s.call(create_req(0, "lat")), "petition.create")
        clock = time.perf_counter_ns
        for i, r in enumerate(reqs):
            t0 = clock()
            s.send(r)
            line = s.read_line()
            t1 = clock()
            if i >= 50:  # the first 50 warm up
                lat.append(t1 - t0)
            resp = json.loads(line)
            if expect_result(resp, "sign").get("duplicate") is not False:
                raise BenchError("a distinct email was answered as a duplicate")
        s.close()
    finally:
        s.kill()
    shutil.rmtree(d, ignore_errors=True)
    lat.sort()
    return {"sign_p50": percentile(lat, 50) / 1e9, "sign_p99": percentile(lat, 99) / 1e9}


def seed(side: Side, state: dict, big: int, mid: int, cache_dir):
    """1M (big) and 100k (mid) signatures through the binary itself: pipelined JSON-RPC batches of
    1000 signs, 4 sources, 3 countries, ~40,000 postal codes. A SQLite store is cached under
    cache_dir by the binary's sha256 and the sizes, and copied from there on later runs."""
    d = side.workdir("seeded")
    state["seed_dir"] = d
    cache = None
    if not side.pg and cache_dir:
        cache = os.path.join(cache_dir, "%s-%s-%d-%d.sqlite3" % (side.name, file_digest(side.binary), big, mid))
        db = os.path.join(d, "store.sqlite3")
        if os.path.exists(cache) and os.path.exists(cache + ".json"):
            with open(cache + ".json") as f:
                meta = json.load(f)
            for suffix in ("", "-wal"):
                if os.path.exists(cache + suffix):
                    shutil.copyfile(cache + suffix, db + suffix)
            state["seed_db"], state["seed_since"] = db, meta["since"]
            side.seeded = (big, mid)
            return {"seed_cached": 1}
    db = side.fresh_db(d)
    state["seed_db"] = db
    batch = 1000
    plan = [("big", big), ("mid", mid)]
    nbatches = sum(math.ceil(k / batch) for _, k in plan)

    def gen():
        rid = 1
        for pid, total in plan:
            for start in range(0, total, batch):
                end = min(total, start + batch)
                items = [seed_sign_req(rid + j, pid, "%s%d" % (pid, i), i) for j, i in enumerate(range(start, end))]
                rid += end - start
                yield ("[" + ",".join(items) + "]\n").encode()

    s = side.spawn(db, d)
    try:
        for pid, _ in plan:
            expect_result(s.call(create_req(0, pid)), "petition.create")
        started = time.time()
        t0 = time.perf_counter()
        th, failure = writer_thread(s, gen())
        data = s.read_lines_raw(nbatches)
        t1 = time.perf_counter()
        th.join()
        if failure:
            raise BenchError(str(failure[0]))
        totals = {}
        for pid, _ in plan:
            totals[pid] = expect_result(s.call(count_req(0, pid)), "count")["total"]
        s.close()
    finally:
        s.kill()
    fresh = 0
    for line in data.splitlines():
        arr = json.loads(line)
        if not isinstance(arr, list):
            expect_result(arr, "sign batch")
            raise BenchError("a batch was not answered with an array")
        for r in arr:
            if expect_result(r, "sign").get("duplicate") is False:
                fresh += 1
    del data
    if fresh != big + mid or totals != {"big": big, "mid": mid}:
        raise BenchError("seeding: %d new signatures, totals %s" % (fresh, totals))
    # The window of the `since` scenario: an hour before the first signature, not on a day boundary.
    state["seed_since"] = iso_ms(started - 3600)
    side.seeded = (big, mid)
    if cache:
        os.makedirs(cache_dir, exist_ok=True)
        for suffix in ("", "-wal"):
            if os.path.exists(db + suffix):
                shutil.copyfile(db + suffix, cache + suffix + ".part")
                os.replace(cache + suffix + ".part", cache + suffix)
            elif os.path.exists(cache + suffix):
                os.unlink(cache + suffix)
        with open(cache + ".json", "w") as f:
            json.dump({"since": state["seed_since"], "binary": side.binary, "rate": (big + mid) / (t1 - t0)}, f)
    return {"seed_rate": (big + mid) / (t1 - t0)}


def need_seed(side: Side):
    if not side.seeded:
        raise BenchError("no seeded store (seeding failed)")


def scenario_count(side: Side, state: dict, n: int):
    need_seed(side)
    big = side.seeded[0]
    s = side.spawn(state["seed_db"], state["seed_dir"])
    reqs = [count_req(i, "big") for i in range(n + 200)]
    lat = []
    try:
        clock = time.perf_counter_ns
        for i, r in enumerate(reqs):
            t0 = clock()
            s.send(r)
            line = s.read_line()
            t1 = clock()
            if i >= 200:  # the first 200 warm up
                lat.append(t1 - t0)
            if i % 100 == 0 and expect_result(json.loads(line), "count")["total"] != big:
                raise BenchError("count total is not %d" % big)
        # The floor under any answer: a round trip through the pipes for a request the server
        # refuses before it looks at the store (-32601), in the same process and window.
        floor = []
        for i in range(n + 200):
            t0 = clock()
            s.send(req(i, "bench.no_such_method", {}))
            line = s.read_line()
            t1 = clock()
            if i >= 200:
                floor.append(t1 - t0)
            if i == 0 and json.loads(line).get("error", {}).get("code") != -32601:
                raise BenchError("an unknown method was not answered -32601: %r" % line[:200])
        s.close()
    finally:
        s.kill()
    lat.sort()
    floor.sort()
    return {"count_p50": percentile(lat, 50) / 1e9, "count_p99": percentile(lat, 99) / 1e9,
            "roundtrip_p50": percentile(floor, 50) / 1e9}


def scenario_export(side: Side, state: dict, which: str, verify: bool):
    need_seed(side)
    rows = side.seeded[0 if which == "big" else 1]
    d = state["seed_dir"]
    side.n += 1
    path = os.path.join(d, "export-%d-%s.csv" % (side.n, which))
    s = side.spawn(state["seed_db"], d)
    try:
        expect_result(s.call(count_req(0, which)), "count")  # started up and answering
        t0 = time.perf_counter()
        r = expect_result(s.call(req(1, "export", {"petition": which, "audience": "contacts",
                                                   "format": "csv", "path": path})), "export")
        t1 = time.perf_counter()
        peak = s.proc_status("VmHWM")
        s.close()
    finally:
        s.kill()
    try:
        if r.get("count") != rows:
            raise BenchError("export count %r, expected %d" % (r.get("count"), rows))
        size = os.path.getsize(path)
        if r.get("bytes") != size:
            raise BenchError("export bytes %r, file has %d" % (r.get("bytes"), size))
        if verify:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            if r.get("sha256") not in ("", h.hexdigest()):
                raise BenchError("export sha256 does not match the file")
            lines, last = 0, b""
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    lines += block.count(b"\r\n") + (last == b"\r" and block[:1] == b"\n")
                    last = block[-1:]
            if lines != rows + 1:
                raise BenchError("export file has %d CRLF lines, expected %d" % (lines, rows + 1))
    finally:
        if os.path.exists(path):
            os.unlink(path)
    return {"export_%s_rate" % which: rows / (t1 - t0), "export_%s_peak" % which: peak,
            "export_%s_time" % which: t1 - t0}


# --------------------------------------------------------------------------------------------
# Seeding: 1M (big) and 100k (mid) signatures with 4 sources, 3 countries and ~40,000 postal
# codes, through each binary's own `sign`, cached per binary (sha256 of its file) and size.

SOURCES = ("web", "email", "social", "partner")
COUNTRIES = ("US", "GB", "DE")
POSTAL_CODES = 40_000

SEED_SIGN = ('{"jsonrpc":"2.0","id":%d,"method":"sign","params":{"petition":"%s","signer":'
             '{"email":"%s@example.org","firstName":"Ada","lastName":"Lovelace","postalCode":"%05d",'
             '"country":"%s","phone":"+1202555%04d"},"optIn":{"email":true},"source":"%s"}}')


def seed_sign_req(rid: int, petition: str, local: str, i: int) -> str:
    return SEED_SIGN % (rid, petition, local, i % POSTAL_CODES, COUNTRIES[i % 3], i % 10000, SOURCES[i % 4])


def file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def iso_ms(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def rusage_run(argv, stdin_path, cwd, timeout):
    """Run argv with stdin from a file and stdout to /dev/null; (elapsed, user CPU s, peak RSS bytes).

    Measured by GNU time (/usr/bin/time) when present: a child forked from this Python process
    would count Python's own RSS in its ru_maxrss (the high-water mark survives exec)."""
    report = os.path.join(cwd, "rusage.txt")
    timed = os.path.exists("/usr/bin/time")
    if timed:
        argv = ["/usr/bin/time", "-f", "%M %U", "-o", report] + argv
    with open(stdin_path, "rb") as fin, open(os.path.join(cwd, "stderr.log"), "ab") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=fin, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd, close_fds=True)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise BenchError("did not finish within %gs reading signs from a file" % timeout)
        t1 = time.perf_counter()
    if rc != 0:
        raise BenchError("exited with %d reading signs from a file" % rc)
    if timed:
        with open(report) as f:
            last = f.read().strip().splitlines()[-1].split()
        return t1 - t0, float(last[1]), int(last[0]) * 1024
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # cumulative: only right for the first run
    return t1 - t0, ru.ru_utime, ru.ru_maxrss * 1024


def sign_file(root: str, n: int) -> str:
    """n pipelined signs (after a petition.create) in one NDJSON file, shared by both sides."""
    path = os.path.join(root, "signs-%d.ndjson" % n)
    if not os.path.exists(path):
        with open(path + ".part", "w") as f:
            f.write(create_req(0, "feed").decode())
            for start in range(0, n, 10000):
                f.write("\n".join(seed_sign_req(i + 1, "feed", "feed%d" % i, i) for i in range(start, min(n, start + 10000))) + "\n")
        os.rename(path + ".part", path)
    return path


def scenario_feed(side, state: dict, n: int, label: str):
    """`petition-rpc --db fresh < file > /dev/null` for n signs: peak RSS and user CPU (wait4)."""
    path = sign_file(side.shared, n)
    d = side.workdir("feed%d" % n)
    db = os.path.join(d, "store.sqlite3")
    elapsed, user, peak = rusage_run([side.binary, "--db", db], path, d, side.timeout)
    s = side.spawn(db, d)
    try:
        total = expect_result(s.call(count_req(1, "feed")), "count")["total"]
        s.close()
    finally:
        s.kill()
    if total != n:
        raise BenchError("after feeding %d signs the count is %d" % (n, total))
    shutil.rmtree(d, ignore_errors=True)
    return {"%s_peak" % label: peak, "%s_user" % label: user, "%s_rate" % label: n / elapsed}


class RSSWatch:
    """Samples a process's VmRSS every 20 ms; kills it past `cap` bytes (a runaway must not take
    the machine's memory from its neighbours)."""

    def __init__(self, server, cap):
        self.server, self.cap = server, cap
        self.peak, self.capped, self.stop = 0, False, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                rss = self.server.proc_status("VmRSS")
            except Exception:
                return
            self.peak = max(self.peak, rss)
            if rss > self.cap:
                self.capped = True
                self.server._kill()
                return
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        self.thread.join()
        try:
            self.peak = max(self.peak, self.server.proc_status("VmHWM"))
        except Exception:
            pass
        return self.peak


RSS_CAP = 1536 * MiB


def scenario_slow_reader(side, state: dict, kind: str, n: int, stall: float):
    """A client that pipelines n requests but reads nothing for `stall` seconds, then reads all
    answers: the server's peak RSS. kind "signs": n signs, one per line; kind "big": n requests of
    ~1 MB each: a `count` whose string id is 1,000,000 bytes long (valid, cheap to serve, and
    answered with the id echoed), so both the requests waiting to be served and the answers
    waiting for the client are ~1 MB each."""
    d = side.workdir("slow-" + kind)
    db = side.fresh_db(d)
    if kind == "signs":
        def gen():
            for start in range(0, n, 5000):
                yield ("\n".join(sign_req(i + 1, "slow", "slow%d" % i, i) for i in range(start, min(n, start + 5000))) + "\n").encode()
    else:
        pad = "x" * 999_990

        def gen():
            for i in range(n):
                yield ('{"jsonrpc":"2.0","id":"%s%010d","method":"count","params":{"petition":"slow"}}\n' % (pad, i)).encode()
    s = side.spawn(db, d)
    try:
        expect_result(s.call(create_req(0, "slow")), "petition.create")
        watch = RSSWatch(s, RSS_CAP)
        th, failure = writer_thread(s, gen())
        time.sleep(stall)  # reading nothing meanwhile
        try:
            data = s.read_lines_raw(n)
        except BenchError:
            if watch.capped:
                raise BenchError("RSS went over %d MiB while the client did not read: killed" % (RSS_CAP // MiB))
            raise
        peak = watch.finish()
        th.join()
        if failure:
            raise BenchError(str(failure[0]))
        s.close()
    finally:
        s.kill()
    lines = data.splitlines()
    if len(lines) != n:
        raise BenchError("%d answers for %d requests" % (len(lines), n))
    if kind == "big":
        r = json.loads(lines[0])
        if expect_result(r, "count").get("total") != 0 or len(r.get("id", "")) != 1_000_000:
            raise BenchError("a count with a 1,000,000-byte id was not answered with its id")
    else:
        expect_result(json.loads(lines[-1]), "sign")
    del data, lines
    shutil.rmtree(d, ignore_errors=True)
    return {"slow_%s_peak" % kind: peak}


def scenario_pages(side, state: dict, n: int, limit: int):
    """n page exports (contacts CSV, `limit` rows, no path) of the big petition written at once;
    the client reads answers as they come: time to the first answer, to the last, peak RSS."""
    need_seed(side)
    s = side.spawn(state["seed_db"], state["seed_dir"])
    body = b"".join(req(i + 1, "export", {"petition": "big", "audience": "contacts", "format": "csv", "limit": limit})
                    for i in range(n))
    try:
        expect_result(s.call(count_req(0, "big")), "count")
        watch = RSSWatch(s, RSS_CAP)
        t0 = time.perf_counter()
        th, failure = writer_thread(s, [body])
        try:
            first = s.read_line()
            t1 = time.perf_counter()
            rest = s.read_lines_raw(n - 1)
        except BenchError:
            if watch.capped:
                raise BenchError("RSS went over %d MiB: killed" % (RSS_CAP // MiB))
            raise
        t2 = time.perf_counter()
        peak = watch.finish()
        th.join()
        if failure:
            raise BenchError(str(failure[0]))
        s.close()
    finally:
        s.kill()
    page = expect_result(json.loads(first), "export page")
    want = min(limit, side.seeded[0])
    if page.get("count") != want or not isinstance(page.get("data"), str):
        raise BenchError("a page export answered count %r, expected %d" % (page.get("count"), want))
    del rest
    return {"pages_first": t1 - t0, "pages_all": t2 - t0, "pages_peak": peak}


def scenario_count_query(side, state: dict, kind: str, n: int, budget: float):
    """`count` with groupBy day|country|source|postalCode, or a `since` window, on the seeded 1M
    petition, one at a time: p50 over at most n requests or `budget` seconds (at least 5)."""
    need_seed(side)
    big = side.seeded[0]
    params = {"petition": "big"}
    if kind == "since":
        params["since"] = state["seed_since"]
    else:
        params["groupBy"] = kind
    warm = 3 if kind == "postalCode" else 20
    s = side.spawn(state["seed_db"], state["seed_dir"])
    lat = []
    try:
        clock = time.perf_counter_ns
        start = time.perf_counter()
        i = 0
        while len(lat) < n and (len(lat) < 5 or time.perf_counter() - start < budget):
            r = req(i, "count", params)
            t0 = clock()
            s.send(r)
            line = s.read_line()
            t1 = clock()
            if i >= warm:
                lat.append(t1 - t0)
            if i == 0:
                res = expect_result(json.loads(line), "count " + kind)
                if res.get("total") != big:
                    raise BenchError("count %s: total %r, expected %d" % (kind, res.get("total"), big))
                if kind != "since":
                    groups = res.get("groups") or []
                    expected = {"country": len(COUNTRIES), "source": len(SOURCES),
                                "postalCode": min(POSTAL_CODES, big)}.get(kind)
                    if sum(g["count"] for g in groups) != big or (expected and len(groups) != expected):
                        raise BenchError("count groupBy %s: %d groups summing to %d, expected %s groups summing to %d"
                                         % (kind, len(groups), sum(g["count"] for g in groups), expected, big))
            i += 1
        s.close()
    finally:
        s.kill()
    lat.sort()
    return {"group_%s_p50" % kind: percentile(lat, 50) / 1e9, "group_%s_n" % kind: len(lat)}


def scenario_parallel_signs(side, state: dict, procs: int, n_each: int):
    """`procs` server processes on one store, each pipelining n_each signs (distinct people) into
    one petition: aggregate signs/s (first byte written → last answer read, over all)."""
    d = side.workdir("parallel%d" % procs)
    db = side.fresh_db(d)
    pid = "par%d-%d" % (procs, side.n)
    s0 = side.spawn(db, d)
    try:
        expect_result(s0.call(create_req(0, pid)), "petition.create")
        s0.close()
    finally:
        s0.kill()
    servers = [side.spawn(db, d) for _ in range(procs)]
    results = [None] * procs
    try:
        for k, s in enumerate(servers):  # started and answering before the clock starts
            expect_result(s.call(count_req(0, pid)), "count")
        barrier = threading.Barrier(procs + 1)

        def one(k):
            s = servers[k]
            payload = ("\n".join(sign_req(i + 1, pid, "p%d-%d" % (k, i), i) for i in range(n_each)) + "\n").encode()
            barrier.wait()
            th, failure = writer_thread(s, [payload])
            try:
                s.read_lines_raw(n_each)
                results[k] = time.perf_counter()
            except BenchError as e:
                results[k] = e
            th.join()

        threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(procs)]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        for r in results:
            if isinstance(r, Exception) or r is None:
                raise BenchError("parallel signs: %s" % r)
        t1 = max(results)
        total = expect_result(servers[0].call(count_req(1, pid)), "count")["total"]
        for s in servers:
            s.close()
    finally:
        for s in servers:
            s.kill()
    if total != procs * n_each:
        raise BenchError("parallel signs: count %d, expected %d" % (total, procs * n_each))
    return {"parallel_%d_rate" % procs: procs * n_each / (t1 - t0)}


def pg_floor_sql(n: int, batch: int = 1000) -> str:
    """What the pipelined-sign scenario's signs leave in PostgreSQL, made by PostgreSQL itself: per
    1,000-row transaction, the signature rows (ON CONFLICT on one signature per person, RETURNING
    as sign_batch does), one consent event each (every bench sign opts in to email), the counter
    and the per-key and per-hour aggregate upserts (every bench signer has their own postal
    code). No client, no parsing, no network: the database's floor for these signs here."""
    out = ["SET synchronous_commit TO on;"]
    key = "md5(i::text) || md5((i + 1)::text)"  # 64 hex characters, as the HMAC person keys
    for a in range(0, n, batch):
        b = min(n, a + batch) - 1
        rows = "FROM generate_series(%d, %d) AS i" % (a, b)
        out.append(
            "BEGIN;\n"
            "INSERT INTO signatures AS s (petition, person_key, email, first_name, last_name, postal_code, country, "
            "phone, comment, source, signed_at, status) SELECT 1, %s, 'floor' || i || '@example.org', 'Ada', "
            "'Lovelace', lpad((i %% 100000)::text, 5, '0'), 'US', '+1202555' || lpad((i %% 10000)::text, 4, '0'), "
            "NULL, 'bench', 1764800000000, 'confirmed' %s ORDER BY i ON CONFLICT (petition, person_key) DO NOTHING "
            "RETURNING s.id, s.petition, s.person_key \\g /dev/null\n"
            "INSERT INTO consent_events (person_key, channel, granted, at, petition, source, via) SELECT %s, "
            "'email', true, 1764800000000, 'floor', 'bench', 'sign' %s ORDER BY i;\n"
            "INSERT INTO counters AS c (petition, slot, confirmed, pending) VALUES (1, 1, %d, 0) "
            "ON CONFLICT (petition, slot) DO UPDATE SET confirmed = c.confirmed + excluded.confirmed;\n"
            "INSERT INTO group_counts AS g (petition, dimension, key, slot, n) SELECT 1, 1, "
            "lpad((i %% 100000)::text, 5, '0'), 1, 1 %s UNION ALL SELECT 1, 0, '20424', 1, %d UNION ALL "
            "SELECT 1, 2, 'US', 1, %d UNION ALL SELECT 1, 3, 'bench', 1, %d "
            "ON CONFLICT (petition, dimension, key, slot) DO UPDATE SET n = g.n + excluded.n;\n"
            "INSERT INTO hourly_counts AS o (petition, dimension, hour, key, slot, n) SELECT 1, 1, 490222, "
            "lpad((i %% 100000)::text, 5, '0'), 1, 1 %s UNION ALL SELECT 1, 0, 490222, '', 1, %d UNION ALL "
            "SELECT 1, 2, 490222, 'US', 1, %d UNION ALL SELECT 1, 3, 490222, 'bench', 1, %d "
            "ON CONFLICT (petition, dimension, hour, key, slot) DO UPDATE SET n = o.n + excluded.n;\n"
            "COMMIT;" % (key, rows, key, rows, b - a + 1, rows, b - a + 1, b - a + 1, b - a + 1, rows,
                         b - a + 1, b - a + 1, b - a + 1))
    return "\n".join(out) + "\n"


def scenario_pg_floor(side, state: dict, n: int):
    """The database's own floor for the pipelined-sign scenario's rows (see pg_floor_sql), in a
    schema made by petition-rpc itself (so the tables, indexes and constraints are the real ones)."""
    d = side.workdir("pg-floor")
    db = side.fresh_db(d)
    s = side.spawn(db, d)
    try:
        expect_result(s.call(create_req(0, "floor")), "petition.create")
        s.close()
    finally:
        s.kill()
    script = pg_floor_sql(n)
    name = db.split("///", 1)[1].split("?", 1)[0]
    t0 = time.perf_counter()
    side.pg.psql_script(script, database=name, search_path="petition_rpc")
    t1 = time.perf_counter()
    total = int(side.pg.psql("SELECT count(*) FROM petition_rpc.signatures", database=name).strip())
    if total != n:
        raise BenchError("database floor: %d rows, expected %d" % (total, n))
    return {"pg_floor_rate": n / (t1 - t0)}


# --------------------------------------------------------------------------------------------
# PostgreSQL: a throw-away cluster (PostgreSQL 15 from Debian), run as the `postgres` user.

class PostgresCluster:
    def __init__(self, base: str, log):
        self.log = log
        bindir = os.environ.get("PG_BINDIR") or self._find_bindir()
        if not bindir:
            raise BenchError("PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin; "
                             "apt-get install postgresql)")
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="petition-bench-pg-", dir=base)
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        os.makedirs(self.sock)
        self.port = self._free_port()
        self.as_postgres = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
            os.chmod(self.dir, 0o755)
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run([os.path.join(bindir, "initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                   "--no-sync", "-E", "UTF8"])
        opts = ("-c listen_addresses='' -c unix_socket_directories=%s -p %d -c synchronous_commit=on "
                "-c fsync=on -c max_connections=50 -c shared_buffers=128MB" % (self.sock, self.port))
        self._run([os.path.join(bindir, "pg_ctl"), "-D", self.data, "-o", opts, "-l",
                   os.path.join(self.dir, "server.log"), "-w", "-t", "60", "start"])
        self.uri = "postgresql:///postgres?host=%s&port=%d&user=postgres" % (self.sock, self.port)
        log("postgres: cluster up (%s, port %d)" % (self.bindir, self.port))

    @staticmethod
    def _find_bindir():
        import glob
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
        return os.path.dirname(found[-1]) if found else None

    @staticmethod
    def _free_port():
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def _run(self, argv):
        out = subprocess.run(self.as_postgres + argv, capture_output=True, timeout=120)
        if out.returncode != 0:
            raise BenchError("%s failed: %s" % (os.path.basename(argv[0]), out.stderr.decode("utf-8", "replace")[-400:]))

    def psql(self, sql, database="postgres"):
        argv = [os.path.join(self.bindir, "psql"), "-h", self.sock, "-p", str(self.port), "-U", "postgres",
                "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql]
        out = subprocess.run(self.as_postgres + argv, capture_output=True, timeout=120)
        if out.returncode != 0:
            raise BenchError("psql: %s" % out.stderr.decode("utf-8", "replace")[-300:])
        return out.stdout.decode()

    def psql_script(self, script: str, database, search_path):
        """Runs a script given on psql's standard input (so no file needs to be readable by
        the postgres user)."""
        argv = [os.path.join(self.bindir, "psql"), "-h", self.sock, "-p", str(self.port), "-U", "postgres",
                "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-f", "-"]
        env = dict(os.environ, PGOPTIONS="-c search_path=%s" % search_path)
        out = subprocess.run(self.as_postgres + argv, input=script.encode(), capture_output=True, timeout=600,
                             env=env)
        if out.returncode != 0:
            raise BenchError("psql: %s" % out.stderr.decode("utf-8", "replace")[-300:])

    def new_database(self, name):
        self.psql("DROP DATABASE IF EXISTS %s" % name)
        self.psql("CREATE DATABASE %s" % name)
        return "postgresql:///%s?host=%s&port=%d&user=postgres" % (name, self.sock, self.port)

    def stop(self):
        try:
            self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"])
        except Exception as e:
            self.log("postgres: stop failed: %s" % e)
        shutil.rmtree(self.dir, ignore_errors=True)


def postgres_supported(binary: str, uri: str, workdir: str):
    """None when the binary serves `--db URI`, else the reason (its first stderr line)."""
    try:
        p = subprocess.run([binary, "--db", uri], input=create_req(1, "pg-probe") + count_req(2, "pg-probe"),
                           capture_output=True, timeout=60, cwd=workdir)
    except subprocess.TimeoutExpired:
        return "no answer within 60 s"
    lines = p.stdout.splitlines()
    if p.returncode == 0 and lines:
        try:
            if all("result" in json.loads(l) or (json.loads(l).get("error") or {}).get("code") == 1002 for l in lines):
                return None
        except ValueError:
            pass
    err = p.stderr.decode("utf-8", "replace").strip().splitlines()
    return "exit %d: %s" % (p.returncode, (err[0] if err else "no message")[:200])


# --------------------------------------------------------------------------------------------
# The suite.

def fmt_value(kind, v):
    if v is None:
        return "error"
    if isinstance(v, str):
        return v
    if kind == "time":
        return "%.0f µs" % (v * 1e6) if v < 0.01 else "%.1f ms" % (v * 1e3) if v < 10 else "%.1f s" % v
    if kind == "rate":
        return "{:,.0f}/s".format(v)
    if kind == "bytes":
        return "%.1f MiB" % (v / MiB)
    if kind == "cpu":
        return "%.2f s" % v
    return str(v)


def tmpfs_warning(path):
    """The filesystem type of path, from /proc/mounts (longest matching mount point)."""
    best, fstype = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1].replace("\\040", " ")
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                    best, fstype = mnt, parts[2]
    except OSError:
        pass
    return fstype


def machine_info(tmp):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = "%.1f GiB" % (int(f.readline().split()[1]) / 1024 / 1024)
    except OSError:
        pass
    return "%s, %d cores, %s RAM, %s %s; store on %s (%s)" % (
        cpu, os.cpu_count() or 0, mem, platform.system(), platform.release(), tmp, tmpfs_warning(tmp))


def version_of(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.decode("utf-8", "replace").strip().splitlines()[0][:80]
    except Exception:
        pass
    return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default=os.path.join(ROOT, ".build", "release", "petition-rpc"),
                    help="the binary under test (default: .build/release/petition-rpc)")
    ap.add_argument("--reference", default=os.path.join(HERE, "bin", "reference"),
                    help="the C reference (default: benchmarks/bin/reference)")
    ap.add_argument("--quick", action="store_true", help="smoke check: fewer runs, smaller sizes")
    ap.add_argument("--only", default="", help="comma-separated subset of: " + ",".join(SCENARIOS))
    ap.add_argument("--runs", type=int, help="runs of the quick scenarios (default 5, --quick 3)")
    ap.add_argument("--heavy-runs", type=int, help="runs of the heavy scenarios (default 3, --quick 1)")
    ap.add_argument("--tmpdir", help="where the temporary stores go (default: the system temp dir, "
                                     "unless it is tmpfs, then benchmarks/results/)")
    ap.add_argument("--seed-cache", default=os.path.join(HERE, "results", "seed-cache"),
                    help="where seeded SQLite stores are kept per binary (sha256) and size; '' to seed every time")
    ap.add_argument("--postgres", action="store_true",
                    help="also run the PostgreSQL scenarios against a throw-away cluster (petition-rpc only; "
                         "skipped with a message when the binary does not take --db postgresql://...)")
    ap.add_argument("--postgres-only", action="store_true", help="only the PostgreSQL scenarios")
    ap.add_argument("--timeout", type=float, default=300, help="seconds before a server run is killed")
    ap.add_argument("--output", default=os.path.join(HERE, "results", "latest.md"))
    a = ap.parse_args()

    if a.quick:
        sizes = dict(throughput=10_000, latency=500, count=500, big=100_000, mid=10_000, feed=100_000, cpu=10_000,
                     slow_signs=20_000, slow_big=200, stall=1.0, pages=40, page_limit=10_000, group_n=50,
                     group_budget=2.0, parallel=2_000)
        runs, heavy = a.runs or 3, a.heavy_runs or 1
    else:
        sizes = dict(throughput=100_000, latency=2_000, count=2_000, big=1_000_000, mid=100_000, feed=1_000_000,
                     cpu=100_000, slow_signs=200_000, slow_big=2_000, stall=3.0, pages=400, page_limit=10_000,
                     group_n=200, group_budget=5.0, parallel=20_000)
        runs, heavy = a.runs or 5, a.heavy_runs or 3
    only = set(x.strip() for x in a.only.split(",") if x.strip()) or set(SCENARIOS) - {"postgres"}
    if a.postgres or a.postgres_only:
        only.add("postgres")
    if a.postgres_only:
        only = {"postgres"}
    if only - set(SCENARIOS):
        ap.error("--only: unknown scenario(s) %s; known: %s" % (",".join(sorted(only - set(SCENARIOS))), ",".join(SCENARIOS)))

    for label, b in (("server", a.server), ("reference", a.reference)):
        if not (os.path.isfile(b) and os.access(b, os.X_OK)):
            sys.exit("bench.py: the %s binary %s is missing or not executable" % (label, b))

    base = a.tmpdir or tempfile.gettempdir()
    if not a.tmpdir and tmpfs_warning(os.path.realpath(base)) in ("tmpfs", "ramfs"):
        base = os.path.join(HERE, "results")  # fsync on tmpfs is free: measure on a real disk
    os.makedirs(base, exist_ok=True)
    root = tempfile.mkdtemp(prefix="petition-bench-", dir=base)
    sides = [Side("server", os.path.abspath(a.server), root, a.timeout),
             Side("reference", os.path.abspath(a.reference), root, a.timeout)]
    states = {"server": {}, "reference": {}, "postgres": {}}
    samples = {"server": {}, "reference": {}, "postgres": {}}
    errors = {"server": {}, "reference": {}, "postgres": {}}
    started = time.time()
    pg_note = None

    def log(msg):
        print("[%6.1fs] %s" % (time.time() - started, msg), file=sys.stderr, flush=True)

    def measure(name, nruns, fn, *args, on=None):
        """Interleave the sides run by run, so drift on a shared machine hits both alike."""
        for r in range(nruns):
            for side in on or sides:
                if name in errors[side.name]:
                    continue
                try:
                    res = fn(side, states[side.name], *args)
                except BenchError as e:
                    errors[side.name][name] = str(e)
                    log("%s: %s: %s" % (side.name, name, e))
                    continue
                except Exception as e:  # a harness bug: say where, go on
                    errors[side.name][name] = "%s: %s" % (type(e).__name__, e)
                    log("%s: %s: %s" % (side.name, name, traceback.format_exc()))
                    continue
                for k, v in res.items():
                    samples[side.name].setdefault(k, []).append(v)
            log("%s: run %d/%d done" % (name, r + 1, nruns))

    cache_dir = a.seed_cache or None
    grouped = ("day", "country", "source", "since", "postalCode")
    try:
        if "cold" in only:
            measure("cold", max(runs, 7) if not a.quick else runs, scenario_cold)
        if "throughput" in only:
            measure("throughput", heavy, scenario_throughput, sizes["throughput"])
        if "latency" in only:
            measure("latency", runs, scenario_sign_latency, sizes["latency"])
        if "cpu" in only:
            measure("cpu", heavy, scenario_feed, sizes["cpu"], "cpu")
        if "feed" in only:
            measure("feed", 1, scenario_feed, sizes["feed"], "feed")
            feed_file = os.path.join(root, "signs-%d.ndjson" % sizes["feed"])
            if os.path.exists(feed_file):
                os.unlink(feed_file)
        if "slow" in only:
            measure("slow-signs", 1, scenario_slow_reader, "signs", sizes["slow_signs"], sizes["stall"])
            measure("slow-big", 1, scenario_slow_reader, "big", sizes["slow_big"], sizes["stall"])
        if only & {"count", "groups", "export", "pages"}:
            measure("seed", 1, seed, sizes["big"], sizes["mid"], cache_dir)
        if "count" in only:
            measure("count", runs, scenario_count, sizes["count"])
        if "groups" in only:
            for kind in grouped:
                measure("count-" + kind, 1, scenario_count_query, kind,
                        sizes["group_n"] // (4 if kind == "postalCode" else 1), sizes["group_budget"] * (2 if kind == "postalCode" else 1))
        if "pages" in only:
            measure("pages", 1, scenario_pages, sizes["pages"], sizes["page_limit"])
        if "export" in only:
            measure("export-big", heavy, lambda s, st: scenario_export(s, st, "big", not samples[s.name].get("export_big_rate")))
            measure("export-mid", heavy, lambda s, st: scenario_export(s, st, "mid", not samples[s.name].get("export_mid_rate")))
        if "postgres" in only:
            pg_note = run_postgres(a, sizes, base, root, samples, errors, states, measure, log, grouped, cache_dir)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    med = {n: {k: statistics.median(v) for k, v in samples[n].items()} for n in samples}
    S, R, P = med["server"], med["reference"], med["postgres"]
    big, mid = sizes["big"], sizes["mid"]

    def n(v):
        return "{:,}".format(v)

    def ref_ge(x):
        return lambda s, r: s / r >= x

    def ref_le(x):
        return lambda s, r: s / r <= x

    # (scenario, title, kind, key, target text, check(s, r) -> bool, needs the reference)
    rows = [
        ("cold", "cold start: spawn → first response → exit", "time", "cold_start", "≤ 2× ref", ref_le(2.0), True),
        ("cold", "  spawn → first response", "time", "first_response", "", None, False),
        ("cold", "idle RSS after start-up", "bytes", "idle_rss", "≤ 16 MiB", lambda s, r: s <= 16 * MiB, False),
        ("throughput", "sign throughput, pipelined, %s signs" % n(sizes["throughput"]), "rate", "sign_throughput",
         "≥ 0.8× ref", ref_ge(0.8), True),
        ("latency", "sign latency p50, one at a time (%s)" % n(sizes["latency"]), "time", "sign_p50", "≤ 1.2× ref",
         ref_le(1.2), True),
        ("latency", "sign latency p99", "time", "sign_p99", "", None, False),
        ("cpu", "user CPU, %s signs fed from a file" % n(sizes["cpu"]), "cpu", "cpu_user", "", None, False),
        ("cpu", "  peak RSS, %s signs fed from a file" % n(sizes["cpu"]), "bytes", "cpu_peak", "", None, False),
        ("feed", "peak RSS, %s signs fed from a file" % n(sizes["feed"]), "bytes", "feed_peak", "≤ 48 MiB",
         lambda s, r: s <= 48 * MiB, False),
        ("feed", "  signs/s, %s fed from a file" % n(sizes["feed"]), "rate", "feed_rate", "", None, False),
        ("slow", "peak RSS, client not reading for %gs: %s signs" % (sizes["stall"], n(sizes["slow_signs"])), "bytes",
         "slow_signs_peak", "< 64 MiB", lambda s, r: s < 64 * MiB, False),
        ("slow", "peak RSS, client not reading for %gs: %s requests of ~1 MB (1 MB ids)" % (sizes["stall"], n(sizes["slow_big"])),
         "bytes", "slow_big_peak", "< 64 MiB", lambda s, r: s < 64 * MiB, False),
        ("seed", "seeding rate, batches of 1000 (fresh seeds only)", "rate", "seed_rate", "", None, False),
        ("count", "count latency p50 at %s signatures (%s)" % (n(big), n(sizes["count"])), "time", "count_p50",
         "≤ 1.2× ref, ≤ 60 µs", lambda s, r: s / r <= 1.2 and s <= 60e-6, True),
        ("count", "count latency p99", "time", "count_p99", "", None, False),
        ("count", "  round trip p50, unknown method (-32601): the pipes' floor", "time", "roundtrip_p50", "", None,
         False),
        ("groups", "count groupBy day p50 at %s" % n(big), "time", "group_day_p50", "≤ 1 ms", lambda s, r: s <= 1e-3, False),
        ("groups", "count groupBy country p50", "time", "group_country_p50", "≤ 1 ms", lambda s, r: s <= 1e-3, False),
        ("groups", "count groupBy source p50", "time", "group_source_p50", "≤ 1 ms", lambda s, r: s <= 1e-3, False),
        ("groups", "count since (window) p50", "time", "group_since_p50", "≤ 1 ms", lambda s, r: s <= 1e-3, False),
        ("groups", "count groupBy postalCode p50 (%s groups)" % n(min(POSTAL_CODES, big)), "time",
         "group_postalCode_p50", "≤ 25 ms", lambda s, r: s <= 25e-3, False),
        ("pages", "%d pipelined page exports (%s rows each): first answer" % (sizes["pages"], n(sizes["page_limit"])),
         "time", "pages_first", "≤ 100 ms", lambda s, r: s <= 0.1, False),
        ("pages", "  peak RSS, %d page exports" % sizes["pages"], "bytes", "pages_peak", "< 64 MiB",
         lambda s, r: s < 64 * MiB, False),
        ("pages", "  all %d answers" % sizes["pages"], "time", "pages_all", "", None, False),
        ("export", "export %s rows (contacts csv → file)" % n(big), "rate", "export_big_rate", "≥ 0.7× ref", ref_ge(0.7), True),
        ("export", "  export %s rows, time" % n(big), "time", "export_big_time", "", None, False),
        ("export", "  peak RSS, export of %s rows" % n(big), "bytes", "export_big_peak", "≤ 64 MiB",
         lambda s, r: s <= 64 * MiB, False),
        ("export", "  peak RSS, export of %s rows" % n(mid), "bytes", "export_mid_peak", "", None, False),
        ("export", "  export %s rows" % n(mid), "rate", "export_mid_rate", "", None, False),
    ]
    ran = set(only) | ({"seed"} if only & {"count", "groups", "export", "pages"} else set())

    table = ["| scenario | petition-rpc | reference | ratio | target | result |",
             "| --- | ---: | ---: | ---: | --- | --- |"]
    verdicts = []
    for scen, title, kind, key, target, check, needs_ref in rows:
        if scen not in ran:
            continue
        s, r = S.get(key), R.get(key)
        ratio = "%.2f×" % (s / r) if s is not None and r else "–"
        if key == "seed_rate":  # a store copied from the seed cache has no rate
            s = "cached" if s is None and "seed_cached" in S else s
            r = "cached" if r is None and "seed_cached" in R else r
            ratio = "–" if isinstance(s, str) or isinstance(r, str) else ratio
        if check is None:
            verdict = ""
        elif s is None:
            verdict = "FAIL (error)"
        elif r is None and needs_ref:
            verdict = "n/a (reference error)"
        else:
            verdict = "PASS" if check(s, r) else "FAIL"
        if verdict:
            verdicts.append(verdict)
        table.append("| %s | %s | %s | %s | %s | %s |" % (title, fmt_value(kind, s), fmt_value(kind, r), ratio,
                                                         target, verdict))
    # Flat memory: the peak of the big export against the mid one.
    sb, sm, rb, rm = S.get("export_big_peak"), S.get("export_mid_peak"), R.get("export_big_peak"), R.get("export_mid_peak")
    if "export" in ran:
        def growth(b, m):
            return "%.2f× (%+.1f MiB)" % (b / m, (b - m) / MiB) if b and m else "error"
        flat = sb is not None and sm is not None and sb <= 1.25 * sm
        verdicts.append("PASS" if flat else "FAIL")
        table.append("| peak RSS flat in rows: %s vs %s rows | %s | %s | – | ≤ 1.25× | %s |" % (
            n(big), n(mid), growth(sb, sm), growth(rb, rm), "PASS" if flat else "FAIL"))

    pg_table = []
    if "postgres" in only:
        pg_table = ["", "## PostgreSQL store (petition-rpc `--db postgresql://...`, throw-away local cluster, "
                    "synchronous_commit on)", ""]
        if pg_note:
            pg_table.append("Skipped: %s" % pg_note)
        else:
            pg_rows = [
                ("sign throughput, pipelined, %s signs" % n(sizes["throughput"]), "rate", "sign_throughput",
                 "≥ 40,000/s", lambda v: v >= 40_000),
                ("  database floor: the same signs' rows made inside PostgreSQL (1,000 per transaction)", "rate",
                 "pg_floor_rate", "", None),
                ("sign latency p50, one at a time", "time", "sign_p50", "", None),
                ("seeding rate, batches of 1000", "rate", "seed_rate", "", None),
                ("count latency p50 at %s" % n(big), "time", "count_p50", "", None),
                ("count groupBy day p50", "time", "group_day_p50", "", None),
                ("count groupBy country p50", "time", "group_country_p50", "", None),
                ("count groupBy source p50", "time", "group_source_p50", "", None),
                ("count since (window) p50", "time", "group_since_p50", "", None),
                ("count groupBy postalCode p50", "time", "group_postalCode_p50", "", None),
                ("export %s rows (contacts csv → file)" % n(big), "rate", "export_big_rate", "", None),
                ("  peak RSS, export of %s rows" % n(big), "bytes", "export_big_peak", "", None),
                ("1 process signing into one petition (%s signs each)" % n(sizes["parallel"]), "rate", "parallel_1_rate", "", None),
                ("2 processes, aggregate", "rate", "parallel_2_rate", "", None),
                ("4 processes, aggregate", "rate", "parallel_4_rate", "", None),
            ]
            pg_table += ["| scenario | petition-rpc on PostgreSQL | petition-rpc on SQLite (this run) | target | result |",
                         "| --- | ---: | ---: | --- | --- |"]
            for title, kind, key, target, check in pg_rows:
                v = P.get(key)
                verdict = "" if check is None else ("FAIL (error)" if v is None else "PASS" if check(v) else "FAIL")
                if verdict:
                    verdicts.append(verdict)
                pg_table.append("| %s | %s | %s | %s | %s |" % (title, fmt_value(kind, v),
                                                                 fmt_value(kind, S.get(key)) if key in S else "–",
                                                                 target, verdict))

    passed = sum(v == "PASS" for v in verdicts)
    failed = sum(v.startswith("FAIL") for v in verdicts)
    header = [
        "# petition-rpc benchmarks%s" % (" (--quick: smaller sizes, not the targets' sizes)" if a.quick else ""),
        "",
        "- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "- machine: %s" % machine_info(os.path.realpath(base)),
        "- petition-rpc: %s (%s)" % (a.server, version_of(a.server)),
        "- reference: %s (C, jansson + sqlite3, WAL, synchronous=FULL, one transaction per group, "
        "maintained aggregates)" % a.reference,
        "- runs: %d per quick scenario, %d per heavy scenario (throughput, CPU, exports); 1 for feeding, pages, "
        "slow readers, seeding and grouped counts (p50 over up to %d requests or %g s); figures are medians"
        % (runs, heavy, sizes["group_n"], sizes["group_budget"]),
        "- suite time: %.0f s" % (time.time() - started),
        "",
    ]
    notes = []
    for side in ("server", "reference", "postgres"):
        for name, msg in errors[side].items():
            notes.append("- %s, %s: %s" % (side, name, msg))
    out = "\n".join(header + (table if len(only - {"postgres"}) else []) + pg_table
                    + ["", "%d PASS, %d FAIL" % (passed, failed)] + (["", "Errors:"] + notes if notes else [])) + "\n"
    print(out)
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    with open(a.output, "w") as f:
        f.write(out)
    with open(os.path.splitext(a.output)[0] + ".json", "w") as f:
        json.dump({"sizes": sizes, "runs": runs, "heavy_runs": heavy, "samples": samples,
                   "errors": errors}, f, indent=1)
    log("written to %s" % a.output)
    return 1 if failed else 0


SCENARIOS = ("cold", "throughput", "latency", "cpu", "feed", "slow", "count", "groups", "pages", "export", "postgres")


def run_postgres(a, sizes, base, root, samples, errors, states, measure, log, grouped, cache_dir):
    """The PostgreSQL scenarios, petition-rpc only. Returns a note when they were skipped."""
    try:
        cluster = PostgresCluster(base, log)
    except BenchError as e:
        log("postgres: %s" % e)
        return str(e)
    try:
        probe_dir = tempfile.mkdtemp(prefix="pg-probe-", dir=root)
        why = postgres_supported(os.path.abspath(a.server), cluster.new_database("bench_probe"), probe_dir)
        if why:
            note = "petition-rpc does not serve `--db postgresql://...` (%s)" % why
            log("postgres: skipped: " + note)
            return note
        side = Side("postgres", os.path.abspath(a.server), root, a.timeout, pg=cluster)
        on = [side]
        measure("pg-throughput", 1, scenario_throughput, sizes["throughput"], on=on)
        measure("pg-floor", 1, scenario_pg_floor, sizes["throughput"], on=on)
        measure("pg-latency", 1, scenario_sign_latency, sizes["latency"], on=on)
        measure("pg-seed", 1, seed, sizes["big"], sizes["mid"], None, on=on)
        measure("pg-count", 1, scenario_count, sizes["count"], on=on)
        for kind in grouped:
            measure("pg-count-" + kind, 1, scenario_count_query, kind,
                    sizes["group_n"] // (4 if kind == "postalCode" else 1), sizes["group_budget"], on=on)
        measure("pg-export-big", 1, lambda s, st: scenario_export(s, st, "big", True), on=on)
        for procs in (1, 2, 4):
            measure("pg-parallel-%d" % procs, 1, scenario_parallel_signs, procs, sizes["parallel"], on=on)
        return None
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
