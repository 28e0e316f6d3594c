#!/usr/bin/env python3
"""A guided petition-rpc session: create a petition, collect signatures, count, export, unsubscribe,
confirm signatures by email, set fraud aside, erase a person, close and anonymise.

usage: python3 examples/demo.py [--binary PATH] [--db PATH] [--keep]

The binary is --binary, else $PETITION_RPC_BIN, else ./.build/release/petition-rpc, else
./.build/debug/petition-rpc. The store is --db, else a new file in a fresh temporary directory
(export files go there too; it is removed at the end unless --keep). Every answer is checked
against the contract: the demo exits 1 at the first unexpected one. All people are made up.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import io
import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from petition_client import PetitionClient, RpcError  # noqa: E402

PETITION = "end-the-program"
DELIVERY_COLUMNS = ["signatureId", "firstName", "lastName", "postalCode", "country", "comment", "signedAt"]
CONTACT_COLUMNS = ["signatureId", "email", "firstName", "lastName", "postalCode", "country", "phone",
                   "optInEmail", "optInPhone", "optInSms", "source", "signedAt"]

ALEX = {"email": "Alex.Example@example.org", "firstName": "Alex", "lastName": "Example", "postalCode": "20500"}
SAM = {"email": "sam.sample@example.com", "firstName": "Sam", "lastName": "Sample", "postalCode": "10001",
       "country": "US", "phone": "(202) 555-0147"}
PAT = {"email": "pat.placeholder@example.net", "firstName": "Pat", "lastName": "Placeholder", "postalCode": "SW1A 1AA",
       "country": "GB"}


class Unexpected(Exception):
    pass


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise Unexpected(what)


def step(title: str) -> None:
    print(f"\n== {title}")


def say(text: str = "") -> None:
    print(f"   {text}" if text else "")


def find_binary(given: str | None) -> str:
    candidates = [given] if given else (
        [os.environ["PETITION_RPC_BIN"]] if os.environ.get("PETITION_RPC_BIN")
        else ["./.build/release/petition-rpc", "./.build/debug/petition-rpc"])
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    sys.exit(f"demo: no petition-rpc binary at {' or '.join(candidates)}: build it (swift build -c release) "
             "or pass --binary / set PETITION_RPC_BIN")


def expect_error(code: int, call, what: str) -> RpcError:
    try:
        result = call()
    except RpcError as error:
        expect(error.code == code, f"{what}: expected error {code}, got {error.code} {error.message}")
        return error
    raise Unexpected(f"{what}: expected error {code}, got result {json.dumps(result)[:200]}")


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def run(client: PetitionClient, workdir: pathlib.Path) -> None:
    step("Create a petition")
    petition = client.call(
        "petition.create", id=PETITION, title="End the Example Program",
        target="The Secretary of Example Affairs",
        body="Dear Secretary,\n\nWe, the undersigned, ask you to end the Example Program this year.\n",
        goal=1000)
    expect(petition["id"] == PETITION and petition["status"] == "open" and petition["count"] == 0,
           f"petition.create returned {petition}")
    expect(petition["closedAt"] is None and petition["goal"] == 1000, f"petition.create returned {petition}")
    say(f"created {petition['id']!r}: {petition['title']!r} to {petition['target']!r}, goal {petition['goal']}, "
        f"at {petition['createdAt']}")
    expect_error(1002, lambda: client.call("petition.create", id=PETITION, title="Again", target="Someone"),
                 "creating the same id again")
    say("creating it again is refused with 1002 (petition already exists)")

    step("Collect signatures")
    alex = client.call("sign", petition=PETITION, signer=ALEX, comment="End it, please.",
                       optIn={"email": True}, source="newsletter")
    expect(alex["duplicate"] is False and alex["count"] == 1, f"first sign returned {alex}")
    say(f"Alex signs and agrees to email          -> {alex['signatureId']}, count {alex['count']}")
    sam = client.call("sign", petition=PETITION, signer=SAM, optIn={"phone": True, "sms": True},
                      source="street-team")
    expect(sam["duplicate"] is False and sam["count"] == 2, f"second sign returned {sam}")
    say(f"Sam signs and agrees to phone and sms   -> {sam['signatureId']}, count {sam['count']}")
    pat = client.call("sign", petition=PETITION, signer=PAT, comment="Greetings from London.\nEnd it.")
    expect(pat["duplicate"] is False and pat["count"] == 3, f"third sign returned {pat}")
    say(f"Pat signs (no contact consent, no source) -> {pat['signatureId']}, count {pat['count']}")
    ids = {alex["signatureId"], sam["signatureId"], pat["signatureId"]}
    expect(len(ids) == 3, f"three signers got signature ids {sorted(ids)}")

    again = client.call("sign", petition=PETITION,
                        signer=dict(ALEX, email="  ALEX.EXAMPLE+petitions@Example.ORG ", firstName="Alexander"))
    expect(again == {"signatureId": alex["signatureId"], "petition": PETITION, "duplicate": True,
                     "status": "confirmed", "count": 3},
           f"duplicate sign returned {again}")
    say(f"Alex signs again with another spelling of the address -> duplicate, same {again['signatureId']}, "
        f"count stays {again['count']}")
    error = expect_error(-32602, lambda: client.call("sign", petition=PETITION, signer=ALEX, optIn={"sms": True}),
                         "sms opt-in without a phone")
    paths = [entry.get("path") for entry in (error.data or {}).get("errors", [])]
    expect("/optIn/sms" in paths, f"-32602 without /optIn/sms in data.errors: {error.data}")
    say(f"an sms opt-in without a phone number is refused: -32602 at {', '.join(paths)}")

    step("Count")
    count = client.call("count", petition=PETITION)
    expect(count["total"] == 3 and count["goal"] == 1000 and "groups" not in count, f"count returned {count}")
    say(f"total {count['total']} of goal {count['goal']}")
    by_day = client.call("count", petition=PETITION, groupBy="day")
    expect(sum(g["count"] for g in by_day["groups"]) == 3, f"count by day returned {by_day}")
    for group in by_day["groups"]:
        datetime.date.fromisoformat(group["key"])
        say(f"  {group['key']}: {group['count']}")
    by_source = client.call("count", petition=PETITION, groupBy="source")
    expect(by_source["groups"] == [{"key": "", "count": 1}, {"key": "newsletter", "count": 1},
                                   {"key": "street-team", "count": 1}], f"count by source returned {by_source}")
    for group in by_source["groups"]:
        say(f"  source {group['key'] or '(none)'}: {group['count']}")

    step("Export for delivery (csv, one inline page)")
    page = client.call("export", petition=PETITION, audience="delivery", format="csv", limit=100)
    rows = csv_rows(page["data"])
    expect(page["count"] == 3 and page["nextCursor"] is None, f"delivery page: count {page['count']}, "
           f"nextCursor {page['nextCursor']}")
    expect(rows and rows[0] == DELIVERY_COLUMNS and len(rows) == 4, f"delivery csv rows: {rows}")
    expect("@" not in page["data"] and "555" not in page["data"], "delivery export contains contact details")
    expect(page["data"].endswith("\r\n"), "csv lines do not end with CRLF")
    expect([row[0] for row in rows[1:]] == [alex["signatureId"], sam["signatureId"], pat["signatureId"]],
           "delivery rows are not in signing order")
    expect(rows[1][1] == "Alex", "the duplicate changed the first signature's data")
    for line in page["data"].rstrip("\r\n").split("\r\n"):
        say(line.replace("\n", "\\n"))  # records end with CRLF; a bare LF is inside a quoted comment
    say("(no email or phone: this is what the Secretary receives)")

    step("Export contacts to a file")
    target = workdir / "exports" / "contacts.csv"
    target.parent.mkdir(mode=0o700)
    first = export_contacts(client, target, overwrite=False)
    expect(first["count"] == 2, f"contacts export has {first['count']} rows; expected Alex and Sam, not Pat")
    rows = csv_rows(target.read_text(encoding="utf-8"))
    expect(rows[0] == CONTACT_COLUMNS, f"contacts header: {rows[0]}")
    by_id = {row[0]: dict(zip(rows[0], row)) for row in rows[1:]}
    expect(set(by_id) == {alex["signatureId"], sam["signatureId"]}, f"contacts rows: {sorted(by_id)}")
    expect(by_id[sam["signatureId"]]["phone"] == "'+12025550147", "the phone cell is not E.164 with a ' guard")
    expect(by_id[alex["signatureId"]]["optInEmail"] == "true", "Alex's email consent is missing")
    for row in rows[1:]:
        say(", ".join(f"{name}={value}" for name, value in zip(rows[0], row)
                      if name in ("signatureId", "optInEmail", "optInPhone", "optInSms", "source")))
    expect_error(1004, lambda: client.call("export", petition=PETITION, audience="contacts", format="csv",
                                           path=str(target)),
                 "exporting over an existing file without overwrite")
    say("exporting to the same path again without overwrite is refused with 1004")

    step("Unsubscribe")
    result = client.call("unsubscribe", email="alex.example+unsubscribe@EXAMPLE.org", channels=["email"])
    expect(result == {"channels": ["email"]}, f"unsubscribe returned {result}")
    say(f"Alex unsubscribes from email (another spelling of the address) -> {result}")
    unknown = client.call("unsubscribe", email="nobody@example.com")
    expect(unknown == {"channels": ["email", "phone", "sms"]}, f"unsubscribe of an unknown address returned {unknown}")
    say(f"an address the store does not know gets the same kind of answer -> {unknown}")

    step("Count and export contacts again")
    count = client.call("count", petition=PETITION)
    expect(count["total"] == 3, f"count after unsubscribe returned {count}")
    say(f"total is still {count['total']}: unsubscribing does not remove a signature")
    second = export_contacts(client, target, overwrite=True)
    expect(second["count"] == 1, f"contacts export after unsubscribe has {second['count']} rows; expected Sam only")
    rows = csv_rows(target.read_text(encoding="utf-8"))
    expect([row[0] for row in rows[1:]] == [sam["signatureId"]], f"contacts rows after unsubscribe: {rows[1:]}")
    say(f"Alex is gone from the contacts list: {first['count']} rows before, {second['count']} now")

    confirmation_flow(client)
    fraud(client, sam)
    erasure(client, pat)

    step("Close the petition")
    closed = client.call("petition.close", id=PETITION)
    expect(closed["status"] == "closed" and closed["closedAt"] and closed["count"] == 3, f"petition.close returned {closed}")
    say(f"closed at {closed['closedAt']} with {closed['count']} signatures")
    late = {"email": "lee.late@example.com", "firstName": "Lee", "lastName": "Late", "postalCode": "94105"}
    expect_error(1003, lambda: client.call("sign", petition=PETITION, signer=late), "signing a closed petition")
    say("a late signature is refused with 1003 (petition is closed)")
    anonymise(client)


ROBIN = {"email": "robin.roe@example.net", "firstName": "Robin", "lastName": "Roe", "postalCode": "30301"}
CONFIRMED = "clean-water"


def confirmation_flow(client: PetitionClient) -> None:
    step("A petition that counts only confirmed signatures")
    created = client.call("petition.create", id=CONFIRMED, title="Clean Water for Example Town",
                          target="Example Town Council", goal=1, confirmation="email")
    expect(created["confirmation"] == "email" and created["pending"] == 0, f"petition.create returned {created}")
    say(f"created {CONFIRMED!r} with confirmation {created['confirmation']!r}")
    first = client.call("sign", petition=CONFIRMED, signer=ROBIN,
                        optIn={"email": True, "notice": "privacy-notice-2026-11"})
    expect(first["status"] == "pending" and first["count"] == 0 and len(first.get("confirmToken", "")) >= 22,
           f"sign on a confirmation petition returned {dict(first, confirmToken='...')}")
    say(f"Robin signs -> {first['signatureId']} is pending, count {first['count']}; "
        "the answer carries a token to mail to Robin (not shown)")
    petition = client.call("petition.get", id=CONFIRMED)
    expect(petition["count"] == 0 and petition["pending"] == 1, f"petition.get returned {petition}")
    say(f"petition: count {petition['count']}, pending {petition['pending']}")
    again = client.call("sign", petition=CONFIRMED, signer=dict(ROBIN, email="Robin.Roe@example.net"))
    expect(again["duplicate"] is True and again["status"] == "pending"
           and again["confirmToken"] != first["confirmToken"], "a repeat sign did not answer a new token")
    say("Robin signs again (the mail got lost) -> the same signature, a new token")
    expect_error(1005, lambda: client.call("confirm", token=first["confirmToken"]), "confirming with the old token")
    say("the first token no longer works: 1005 (confirmation token unknown)")
    confirmed = client.call("confirm", token=again["confirmToken"])
    expect(confirmed == {"signatureId": first["signatureId"], "petition": CONFIRMED, "status": "confirmed",
                         "count": 1}, f"confirm returned {confirmed}")
    say(f"Robin follows the link -> {confirmed['status']}, count {confirmed['count']}")
    expect(client.call("confirm", token=again["confirmToken"]) == confirmed, "confirming twice changed the answer")
    say("following the link twice gets the same answer")
    expect(client.call("petition.get", id=CONFIRMED)["goalReachedAt"] is not None, "goalReachedAt is not set")
    events = client.call("consent.history", email="ROBIN.ROE@example.net")["events"]
    expect(len(events) == 1 and events[0]["via"] == "confirm" and events[0]["notice"] == "privacy-notice-2026-11",
           f"consent.history returned {events}")
    say(f"consent.history: {events[0]['channel']} granted via {events[0]['via']} at {events[0]['at']} "
        f"under notice {events[0]['notice']!r}")


def fraud(client: PetitionClient, sam: dict) -> None:
    step("Set fraud aside, and undo it")
    dry = client.call("signature.invalidate", petition=PETITION, reason="Signed by a bot",
                      match={"postalCode": "10001"}, dryRun=True)
    expect(dry == {"invalidationId": None, "invalidated": 1, "count": 3}, f"dry run returned {dry}")
    say(f"dry run by postal code 10001 -> would set aside {dry['invalidated']}; nothing written")
    real = client.call("signature.invalidate", petition=PETITION, reason="Signed by a bot",
                       match={"signatureIds": [sam["signatureId"]]})
    expect(real["invalidated"] == 1 and real["count"] == 2, f"signature.invalidate returned {real}")
    say(f"invalidate Sam's signature -> {real['invalidationId']}, count {real['count']}")
    listed = client.call("invalidation.list", petition=PETITION)["invalidations"]
    expect([r["invalidationId"] for r in listed] == [real["invalidationId"]], f"invalidation.list returned {listed}")
    say(f"invalidation.list: {listed[0]['reason']!r}, match {json.dumps(listed[0]['match'])}")
    back = client.call("signature.revalidate", petition=PETITION, invalidationId=real["invalidationId"])
    expect(back == {"revalidated": 1, "count": 3}, f"signature.revalidate returned {back}")
    say(f"it was a mistake: revalidate -> count {back['count']} again")


def erasure(client: PetitionClient, pat: dict) -> None:
    step("Erase a person")
    before = {g: client.call("count", petition=PETITION, groupBy=g)["groups"]
              for g in ("day", "postalCode", "country", "source")}
    erased = client.call("person.erase", email=PAT["email"].upper())
    expect(erased == {"signatures": 1}, f"person.erase returned {erased}")
    say(f"Pat asks to be forgotten -> {erased['signatures']} signature erased")
    after = {g: client.call("count", petition=PETITION, groupBy=g)["groups"] for g in before}
    expect(after == before and client.call("count", petition=PETITION)["total"] == 3, "counts changed by erasure")
    say("count and every groupBy are as before (postal code, country, day and source remain)")
    page = client.call("export", petition=PETITION, audience="delivery", format="json")
    expect(pat["signatureId"] not in [r["signatureId"] for r in page["records"]], "Pat is still exported")
    expect(client.call("consent.history", email=PAT["email"]) == {"events": []}, "Pat still has consent events")
    say(f"Pat is no longer exported ({page['count']} rows) and has no consent events left")


def anonymise(client: PetitionClient) -> None:
    step("Anonymise the closed petition")
    expect_error(1006, lambda: client.call("petition.anonymise", id=CONFIRMED), "anonymising an open petition")
    say(f"{CONFIRMED!r} is still open: 1006")
    before = client.call("count", petition=PETITION, groupBy="postalCode")
    done = client.call("petition.anonymise", id=PETITION)
    expect(done["anonymisedAt"] is not None and done["count"] == 3, f"petition.anonymise returned {done}")
    expect(client.call("count", petition=PETITION, groupBy="postalCode") == before, "counts changed")
    say(f"anonymised at {done['anonymisedAt']}; count {done['count']} and groups unchanged")
    expect_error(1007, lambda: client.call("export", petition=PETITION, audience="delivery", format="csv"),
                 "exporting an anonymised petition")
    say("its signatures can no longer be exported: 1007")


def export_contacts(client: PetitionClient, target: pathlib.Path, overwrite: bool) -> dict:
    result = client.call("export", petition=PETITION, audience="contacts", format="csv", path=str(target),
                         overwrite=overwrite, progressToken="contacts-export")
    data = target.read_bytes()
    expect(result["sha256"] == hashlib.sha256(data).hexdigest(), "sha256 does not match the file")
    expect(result["bytes"] == len(data), f"bytes {result['bytes']} but the file has {len(data)}")
    mode = stat.S_IMODE(target.stat().st_mode)
    expect(mode == 0o600, f"the export file has mode {oct(mode)}, expected 0o600")
    say(f"path   {result['path']}")
    say(f"count  {result['count']}   bytes {result['bytes']}   mode {oct(mode)}")
    say(f"sha256 {result['sha256']}")
    progress = [n["params"]["value"]["kind"] for n in client.notifications
                if n.get("method") == "$/progress" and n["params"].get("token") == "contacts-export"]
    client.notifications.clear()
    expect(progress[:1] == ["begin"] and progress[-1:] == ["end"], f"$/progress kinds: {progress}")
    say(f"progress: {' -> '.join(progress)}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", help="the petition-rpc executable")
    parser.add_argument("--db", help="the store (default: a new file in a fresh temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    binary = find_binary(args.binary)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="petition-rpc-demo-"))
    db = args.db or str(workdir / "petitions.sqlite3")
    print(f"petition-rpc demo: {binary} --db {db}")
    code = 1
    try:
        client = PetitionClient(binary, "--db", db)
        try:
            run(client, workdir)
        finally:
            exit_code = client.close()
        expect(exit_code == 0, f"the server exited with {exit_code}")
        print("\nAll answers were as the contract says. The server exited 0.")
        code = 0
    except Unexpected as problem:
        print(f"\nUNEXPECTED: {problem}", file=sys.stderr)
    except RpcError as error:
        print(f"\nUNEXPECTED error {error.code}: {error.message} {json.dumps(error.data) if error.data else ''}",
              file=sys.stderr)
        if error.code == 1002 and args.db:
            print(f"(the store {args.db} already has {PETITION!r}: run without --db for a fresh one)", file=sys.stderr)
    except (ConnectionError, TimeoutError, OSError, subprocess.TimeoutExpired) as error:
        print(f"\nUNEXPECTED: {type(error).__name__}: {error}", file=sys.stderr)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
