#!/usr/bin/env python3
"""Which b-tree pages a one-at-a-time sign writes to SQLite's WAL, by table and index.

    scripts/wal-frames.py [BINARY] [SIGNS]
    scripts/wal-frames.py benchmarks/bin/reference     # the C reference, for comparison

Runs BINARY (default .build/release/petition-rpc) on a fresh store, sends SIGNS (default 400)
bench signs one at a time (benchmarks/bench.py's requests: phone, email opt-in), copies the
WAL before anything checkpoints it, and reads its frames: each commit's frames are counted
by the b-tree their page belongs to (sqlite3's dbstat). Every frame is a page written (two
pwrite calls) and synced at commit, so frames per commit is the I/O cost of a sign.
Needs the sqlite3 command-line tool.
"""

import collections
import os
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import bench  # noqa: E402


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "release", "petition-rpc")
    signs = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    directory = tempfile.mkdtemp()
    db = os.path.join(directory, "store.sqlite3")
    server = subprocess.Popen([binary, "--db", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def call(request):
        if isinstance(request, str):
            request = request.encode()
        if not request.endswith(b"\n"):
            request += b"\n"
        server.stdin.write(request)
        server.stdin.flush()
        return server.stdout.readline()

    try:
        call(bench.create_req(0, "wal"))
        for i in range(signs):
            call(bench.sign_req(i + 1, "wal", "wal%d" % i, i))
        with open(db + "-wal", "rb") as f:
            wal = f.read()
        copy = os.path.join(directory, "copy.sqlite3")
        shutil.copyfile(db, copy)
        with open(copy + "-wal", "wb") as f:
            f.write(wal)
    finally:
        server.kill()
        server.wait()
    page_size = struct.unpack(">I", wal[8:12])[0]
    commits, frames, offset = [], [], 32
    while offset + 24 + page_size <= len(wal):
        page, size_after_commit = struct.unpack(">II", wal[offset:offset + 8])
        frames.append(page)
        if size_after_commit:
            commits.append(frames)
            frames = []
        offset += 24 + page_size
    pages = subprocess.run(["sqlite3", copy, "SELECT pageno, name FROM dbstat"], capture_output=True, text=True).stdout
    owner = dict((int(n), name) for n, name in (line.split("|", 1) for line in pages.splitlines() if "|" in line))
    shutil.rmtree(directory, ignore_errors=True)
    last = commits[-100:]
    if not last:
        print("no commit found in the WAL")
        return 1
    counts = collections.Counter(owner.get(page, "page %d" % page) for commit in last for page in commit)
    print("%s: %.2f frames per commit (last %d commits)" % (os.path.basename(binary), sum(map(len, last)) / len(last), len(last)))
    for name, count in counts.most_common():
        print("  %-36s %.2f" % (name, count / len(last)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
