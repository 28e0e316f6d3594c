#!/usr/bin/env python3
"""copy-store at scale: a SQLite store of N signatures (default 1,000,000) is copied to
PostgreSQL and back, and each copy must answer like the original: the same count, the same
groups for every groupBy, the same count in a window, and the same sha256 for the same contacts
and delivery exports. Prints the rates and peak RSS of each copy.

    scripts/pg-test-run.sh python3 scripts/copy-store-check.py [--signatures N] [--binary PATH]

Needs PETITION_RPC_TEST_PG_URI (pg-test-run.sh starts a throw-away cluster and sets it).
"""
import argparse, json, os, subprocess, sys, tempfile, time, uuid


def server(binary, db, schema=None):
    args = [binary, "--db", db] + (["--pg-schema", schema] if schema else [])
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def call(p, method, params, rid=1):
    p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}) + "\n").encode())
    p.stdin.flush()
    answer = json.loads(p.stdout.readline())
    if "error" in answer:
        raise SystemExit(f"{method}: {answer['error']}")
    return answer["result"]


def seed(binary, db, n):
    p = server(binary, db)
    call(p, "petition.create", {"id": "p", "title": "Copy check", "target": "The Minister", "goal": n})
    sources, countries = ["web", "email", "partner", "social"], ["US", "GB", "FR"]
    batch, rid, started = [], 0, time.monotonic()
    for i in range(n):
        country = countries[i % 3]
        postal = "%05d" % (10000 + (i * 7919) % 40000) if country == "US" else ("SW1A %dAA" % (i % 9) if country == "GB" else "%05d" % (75000 + i % 20))
        signer = {"email": f"person{i}@example.org", "firstName": "Ada", "lastName": f"L{i % 1000}", "postalCode": postal, "country": country}
        params = {"petition": "p", "signer": signer, "source": sources[i % 4]}
        if i % 3 == 0:
            params["optIn"] = {"email": True}
        if i % 10 == 0:
            params["comment"] = f"Because {i}, \"quoted\", =formula"
        rid += 1
        batch.append({"jsonrpc": "2.0", "id": rid, "method": "sign", "params": params})
        if len(batch) == 1000 or i == n - 1:
            p.stdin.write((json.dumps(batch) + "\n").encode())
            p.stdin.flush()
            answers = json.loads(p.stdout.readline())
            bad = [a for a in answers if "error" in a]
            if bad:
                raise SystemExit(f"seed: {bad[0]}")
            batch = []
    for email in ("person3@example.org", "person6@example.org"):
        call(p, "unsubscribe", {"email": email})
    p.stdin.close()
    p.wait()
    return time.monotonic() - started


def fingerprint(binary, db, schema, folder, tag):
    p = server(binary, db, schema)
    result = {"total": call(p, "count", {"petition": "p"})["total"]}
    for group in ("day", "postalCode", "country", "source"):
        result[group] = call(p, "count", {"petition": "p", "groupBy": group})["groups"]
    result["window"] = call(p, "count", {"petition": "p", "since": "2000-01-01T00:00:00Z"})["total"]
    for audience in ("contacts", "delivery"):
        path = os.path.join(folder, f"{tag}-{audience}.csv")
        exported = call(p, "export", {"petition": "p", "audience": audience, "format": "csv", "path": path})
        result[audience] = (exported["count"], exported["sha256"])
    p.stdin.close()
    p.wait()
    return result


def copy(binary, source, target, schema_from=None, schema_to=None):
    args = [binary, "copy-store", "--from", source, "--to", target]
    if schema_from:
        args += ["--from-pg-schema", schema_from]
    if schema_to:
        args += ["--to-pg-schema", schema_to]
    started = time.monotonic()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"copy-store failed: {errors.decode()[-500:]}")
    return seconds, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--signatures", type=int, default=1_000_000)
    parser.add_argument("--binary", default=".build/release/petition-rpc")
    options = parser.parse_args()
    uri = os.environ.get("PETITION_RPC_TEST_PG_URI")
    if not uri:
        raise SystemExit("PETITION_RPC_TEST_PG_URI is not set (run through scripts/pg-test-run.sh)")
    folder = tempfile.mkdtemp(prefix="copy-store-check-")
    original = os.path.join(folder, "original.sqlite3")
    back = os.path.join(folder, "back.sqlite3")
    schema = "copy_" + uuid.uuid4().hex[:10]
    n = options.signatures
    seconds = seed(options.binary, original, n)
    print(f"seeded {n:,} signatures in {seconds:.1f} s")
    expected = fingerprint(options.binary, original, None, folder, "original")
    seconds, peak = copy(options.binary, original, uri, schema_to=schema)
    print(f"SQLite -> PostgreSQL: {seconds:.1f} s, {n / seconds:,.0f} signatures/s, peak RSS {peak:.1f} MiB")
    on_postgres = fingerprint(options.binary, uri, schema, folder, "postgres")
    seconds, peak = copy(options.binary, uri, back, schema_from=schema)
    print(f"PostgreSQL -> SQLite: {seconds:.1f} s, {n / seconds:,.0f} signatures/s, peak RSS {peak:.1f} MiB")
    returned = fingerprint(options.binary, back, None, folder, "back")
    ok = True
    for name, got in (("PostgreSQL", on_postgres), ("SQLite again", returned)):
        for key in expected:
            if got[key] != expected[key]:
                ok = False
                print(f"DIFFERS on {name}: {key}")
    print(f"total {expected['total']:,}; contacts {expected['contacts'][0]:,} rows sha256 {expected['contacts'][1][:16]}…; "
          f"delivery {expected['delivery'][0]:,} rows sha256 {expected['delivery'][1][:16]}…; "
          f"{len(expected['postalCode']):,} postal code groups")
    print("EQUAL before and after" if ok else "NOT EQUAL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
