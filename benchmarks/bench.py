#!/usr/bin/env python3
"""petition-rpc benchmarks, side by side with a minimal C reference (the limit of this machine).

Drives any executable that speaks petition-rpc's NDJSON protocol and takes `--db PATH`, over
pipes, for each scenario, several runs each, and prints medians as a table of
petition-rpc / reference / ratio / target / PASS-FAIL. Python 3 standard library only.

    python3 benchmarks/bench.py [--server PATH] [--reference PATH] [--quick] [--only a,b]

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
    def __init__(self, name, binary, root, timeout):
        self.name = name
        self.binary = binary
        self.root = os.path.join(root, name)
        self.timeout = timeout
        os.makedirs(self.root)
        self.n = 0
        self.seeded = None  # (big, mid) sizes once seeded

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
    db = os.path.join(d, "store.sqlite3")
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
    db = os.path.join(d, "store.sqlite3")
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


def seed(side: Side, state: dict, big: int, mid: int):
    """1M (big) and 100k (mid) signatures, through the server itself: pipelined batches of 1000."""
    d = side.workdir("seeded")
    db = os.path.join(d, "store.sqlite3")
    state["seed_db"], state["seed_dir"] = db, d
    batch = 1000
    plan = [("big", big), ("mid", mid)]
    nbatches = sum(math.ceil(k / batch) for _, k in plan)

    def gen():
        rid = 1
        for pid, total in plan:
            for start in range(0, total, batch):
                end = min(total, start + batch)
                items = [sign_req(rid + j, pid, "%s%d" % (pid, i), i) for j, i in enumerate(range(start, end))]
                rid += end - start
                yield ("[" + ",".join(items) + "]\n").encode()

    s = side.spawn(db, d)
    try:
        for pid, _ in plan:
            expect_result(s.call(create_req(0, pid)), "petition.create")
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
    side.seeded = (big, mid)
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
        s.close()
    finally:
        s.kill()
    lat.sort()
    return {"count_p50": percentile(lat, 50) / 1e9, "count_p99": percentile(lat, 99) / 1e9}


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
# The suite.

def fmt_value(kind, v):
    if v is None:
        return "error"
    if kind == "time":
        return "%.0f µs" % (v * 1e6) if v < 0.01 else "%.1f ms" % (v * 1e3) if v < 10 else "%.1f s" % v
    if kind == "rate":
        return "{:,.0f}/s".format(v)
    if kind == "bytes":
        return "%.1f MiB" % (v / MiB)
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
    ap.add_argument("--only", default="", help="comma-separated subset of: cold,throughput,latency,count,export")
    ap.add_argument("--runs", type=int, help="runs of the quick scenarios (default 5, --quick 3)")
    ap.add_argument("--heavy-runs", type=int, help="runs of the heavy scenarios (default 3, --quick 1)")
    ap.add_argument("--tmpdir", help="where the temporary stores go (default: the system temp dir, "
                                     "unless it is tmpfs, then benchmarks/results/)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds before a server run is killed")
    ap.add_argument("--output", default=os.path.join(HERE, "results", "latest.md"))
    a = ap.parse_args()

    if a.quick:
        sizes = dict(throughput=10_000, latency=500, count=500, big=100_000, mid=10_000)
        runs, heavy = a.runs or 3, a.heavy_runs or 1
    else:
        sizes = dict(throughput=100_000, latency=2_000, count=2_000, big=1_000_000, mid=100_000)
        runs, heavy = a.runs or 5, a.heavy_runs or 3
    known = {"cold", "throughput", "latency", "count", "export"}
    only = set(x.strip() for x in a.only.split(",") if x.strip()) or known
    if only - known:
        ap.error("--only: unknown scenario(s) %s; known: %s" % (",".join(sorted(only - known)), ",".join(sorted(known))))

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
    states = {s.name: {} for s in sides}
    samples = {s.name: {} for s in sides}
    errors = {s.name: {} for s in sides}
    started = time.time()

    def log(msg):
        print("[%6.1fs] %s" % (time.time() - started, msg), file=sys.stderr, flush=True)

    def measure(name, nruns, fn, *args):
        """Interleave the two sides run by run, so drift on a shared machine hits both alike."""
        for r in range(nruns):
            for side in sides:
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

    try:
        if "cold" in only:
            measure("cold", max(runs, 7) if not a.quick else runs, scenario_cold)
        if "throughput" in only:
            measure("throughput", heavy, scenario_throughput, sizes["throughput"])
        if "latency" in only:
            measure("latency", runs, scenario_sign_latency, sizes["latency"])
        if "count" in only or "export" in only:
            measure("seed", 1, seed, sizes["big"], sizes["mid"])
        if "count" in only:
            measure("count", runs, scenario_count, sizes["count"])
        if "export" in only:
            measure("export-big", heavy, lambda s, st: scenario_export(s, st, "big", not samples[s.name].get("export_big_rate")))
            measure("export-mid", heavy, lambda s, st: scenario_export(s, st, "mid", not samples[s.name].get("export_mid_rate")))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    med = {n: {k: statistics.median(v) for k, v in samples[n].items()} for n in samples}
    S, R = med["server"], med["reference"]
    big, mid = sizes["big"], sizes["mid"]

    rows = []  # (scenario, title, kind, key, target text, check(s, r) -> bool or None)

    def ratio_ge(x):
        return lambda s, r: s / r >= x

    def ratio_le(x):
        return lambda s, r: s / r <= x

    def n(v):
        return "{:,}".format(v)

    rows += [
        ("cold", "cold start: spawn → first response → exit", "time", "cold_start", "≤ 2.5× ref", ratio_le(2.5)),
        ("cold", "  spawn → first response", "time", "first_response", "", None),
        ("cold", "idle RSS after start-up", "bytes", "idle_rss", "≤ 16 MiB", lambda s, r: s <= 16 * MiB),
        ("throughput", "sign throughput, pipelined, %s signs" % n(sizes["throughput"]), "rate", "sign_throughput",
         "≥ 0.8× ref", ratio_ge(0.8)),
        ("latency", "sign latency p50, one at a time (%s)" % n(sizes["latency"]), "time", "sign_p50", "≤ 1.3× ref",
         ratio_le(1.3)),
        ("latency", "sign latency p99", "time", "sign_p99", "", None),
        ("seed", "seeding rate, batches of 1000", "rate", "seed_rate", "", None),
        ("count", "count latency p50 at %s signatures (%s)" % (n(big), n(sizes["count"])), "time", "count_p50",
         "≤ 1.5× ref, ≤ 100 µs", lambda s, r: s / r <= 1.5 and s <= 100e-6),
        ("count", "count latency p99", "time", "count_p99", "", None),
        ("export", "export %s rows (contacts csv → file)" % n(big), "rate", "export_big_rate", "≥ 0.7× ref", ratio_ge(0.7)),
        ("export", "  export %s rows, time" % n(big), "time", "export_big_time", "", None),
        ("export", "  peak RSS, export of %s rows" % n(big), "bytes", "export_big_peak", "≤ 64 MiB",
         lambda s, r: s <= 64 * MiB),
        ("export", "  peak RSS, export of %s rows" % n(mid), "bytes", "export_mid_peak", "", None),
        ("export", "  export %s rows" % n(mid), "rate", "export_mid_rate", "", None),
    ]
    ran = set(only) | ({"seed"} if only & {"count", "export"} else set())

    table = ["| scenario | petition-rpc | reference | ratio | target | result |",
             "| --- | ---: | ---: | ---: | --- | --- |"]
    verdicts = []
    for scen, title, kind, key, target, check in rows:
        if scen not in ran:
            continue
        s, r = S.get(key), R.get(key)
        ratio = "%.2f×" % (s / r) if s is not None and r else "–"
        if check is None:
            verdict = ""
        elif s is None:
            verdict = "FAIL (error)"
        elif r is None:
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

    passed = sum(v == "PASS" for v in verdicts)
    failed = sum(v.startswith("FAIL") for v in verdicts)
    header = [
        "# petition-rpc benchmarks%s" % (" (--quick: smaller sizes, not the targets' sizes)" if a.quick else ""),
        "",
        "- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "- machine: %s" % machine_info(os.path.realpath(base)),
        "- petition-rpc: %s (%s)" % (a.server, version_of(a.server)),
        "- reference: %s (C, jansson + sqlite3, WAL, synchronous=FULL, group commit)" % a.reference,
        "- runs: %d per quick scenario, %d per heavy scenario (throughput, export); figures are medians"
        % (runs, heavy),
        "- suite time: %.0f s" % (time.time() - started),
        "",
    ]
    notes = []
    for side in sides:
        for name, msg in errors[side.name].items():
            notes.append("- %s, %s: %s" % (side.name, name, msg))
    out = "\n".join(header + table + ["", "%d PASS, %d FAIL" % (passed, failed)]
                    + (["", "Errors:"] + notes if notes else [])) + "\n"
    print(out)
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    with open(a.output, "w") as f:
        f.write(out)
    with open(os.path.splitext(a.output)[0] + ".json", "w") as f:
        json.dump({"sizes": sizes, "runs": runs, "heavy_runs": heavy, "samples": samples,
                   "errors": errors}, f, indent=1)
    log("written to %s" % a.output)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
