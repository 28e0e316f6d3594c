#!/usr/bin/env python3
"""petition-rpc --mcp driven by the official MCP Python client (the `mcp` package).

Run in both of the client's connect modes: `auto` (probes `server/discover`, the stateless
2026-07-28 revision) and `legacy` (the `initialize` handshake). Every listed tool is called; the
client itself checks each result against the tool's outputSchema. Also: a tool error (isError),
an unknown tool (-32602), progress of a file export, and cancellation of a call waiting for a
locked store (the client's timeout sends notifications/cancelled; nothing may be written).

Prints one line per check and a closing `N passed, N failed` line; exits 1 on any failure.

    python3 Tests/MCP/client_test.py --binary .build/debug/petition-rpc [--mode auto --mode legacy]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sqlite3
import sys
import tempfile
import time
import traceback
from typing import Any, Awaitable, Callable

import warnings

warnings.simplefilter("ignore")  # the client marks ping as deprecated in 2026-07-28

from mcp import StdioServerParameters  # noqa: E402
from mcp.client.client import Client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

# The contract's listing order (tools of methods the document lacks are simply absent).
ORDER = [
    "petition_create", "petition_get", "petition_list", "petition_close", "sign", "confirm", "count",
    "export_page", "export_file", "import", "unsubscribe", "consent_history", "signature_invalidate",
    "signature_revalidate", "invalidation_list", "person_erase", "petition_anonymise",
]
READ_ONLY = {"petition_get", "petition_list", "count", "consent_history", "invalidation_list", "export_page"}
DESTRUCTIVE = {"person_erase", "petition_anonymise", "signature_invalidate", "petition_close"}
IDEMPOTENT = READ_ONLY | {"sign", "confirm", "unsubscribe", "import"}


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, condition: bool, what: str) -> None:
        if condition:
            self.passed += 1
            print(f"ok    {what}")
        else:
            self.failed += 1
            print(f"FAIL  {what}")


def signer(n: int, **extra: Any) -> dict[str, Any]:
    value = {"email": f"person{n}@example.org", "firstName": "Ada", "lastName": f"Person{n}", "postalCode": "12345"}
    value.update(extra)
    return value


def structured(result: Any) -> dict[str, Any]:
    return result.structured_content or {}


class Session:
    """One server process and its client, in one connect mode."""

    def __init__(self, binary: str, mode: str, directory: str, extra_args: list[str] | None = None) -> None:
        self.database = os.path.join(directory, f"store-{mode}.sqlite3")
        self.directory = directory
        self.mode = mode
        args = ["--mcp", "--db", self.database, "--busy-timeout-ms", "20000"] + (extra_args or [])
        self.client = Client(StdioServerParameters(command=binary, args=args, cwd=directory), mode=mode)

    async def __aenter__(self) -> Client:
        return await self.client.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.__aexit__(*exc)


async def run_mode(binary: str, mode: str, checks: Checks) -> None:
    directory = tempfile.mkdtemp(prefix=f"petition-mcp-{mode}-")
    session = Session(binary, mode, directory)
    started = time.perf_counter()
    async with session as client:
        elapsed = (time.perf_counter() - started) * 1000
        print(f"      [{mode}] connected in {elapsed:.1f} ms at {client.protocol_version}")
        expected_revision = "2026-07-28" if mode == "auto" else "2025-11-25"
        checks.check(client.protocol_version == expected_revision, f"[{mode}] negotiates {expected_revision}")
        if mode == "legacy":
            checks.check(
                client.server_info is not None and client.server_info.name == "petition-rpc",
                f"[{mode}] serverInfo names petition-rpc",
            )
            await client.send_ping()
            checks.check(True, f"[{mode}] ping answers")
        checks.check(bool(client.instructions), f"[{mode}] instructions given")
        checks.check(client.server_capabilities.tools is not None, f"[{mode}] tools capability")

        # tools/list
        listing = await client.list_tools()
        names = [tool.name for tool in listing.tools]
        known = [name for name in ORDER if name in names]
        checks.check(names[: len(known)] == known, f"[{mode}] tools listed in the fixed order: {names}")
        checks.check("export_page" in names and "export_file" in names and "export" not in names,
                     f"[{mode}] export is export_page and export_file")
        tools = {tool.name: tool for tool in listing.tools}
        for tool in listing.tools:
            annotations = tool.annotations
            schema = tool.input_schema
            ok = (
                annotations is not None
                and annotations.read_only_hint is (tool.name in READ_ONLY)
                and annotations.destructive_hint is (tool.name in DESTRUCTIVE)
                and annotations.idempotent_hint is (tool.name in IDEMPOTENT)
                and annotations.open_world_hint is False
                and bool(tool.title) and bool(tool.description)
                and schema.get("type") == "object" and "progressToken" not in schema.get("properties", {})
                and (tool.output_schema or {}).get("type") == "object"
            )
            checks.check(ok, f"[{mode}] {tool.name}: title, description, object schemas, four hints")

        # Every tool, with the client validating each structuredContent against its outputSchema.
        called: set[str] = set()

        async def call(name: str, arguments: dict[str, Any], **options: Any) -> Any:
            called.add(name)
            result = await client.call_tool(name, arguments, **options)
            return result

        result = await call("petition_create", {"id": "clean-air", "title": "Clean air", "target": "The council", "goal": 10})
        checks.check(not result.is_error and structured(result).get("id") == "clean-air", f"[{mode}] petition_create")
        checks.check(json.loads(result.content[0].text) == structured(result), f"[{mode}] text content is the result as JSON")
        result = await call("petition_get", {"id": "clean-air"})
        checks.check(structured(result).get("title") == "Clean air", f"[{mode}] petition_get")
        result = await call("petition_list", {"status": "open"})
        checks.check([p["id"] for p in structured(result).get("petitions", [])] == ["clean-air"], f"[{mode}] petition_list")
        for n in range(1, 4):
            opt_in = {"email": True} if n == 1 else None
            arguments = {"petition": "clean-air", "signer": signer(n), "source": "web"}
            if opt_in:
                arguments["optIn"] = opt_in
            result = await call("sign", arguments)
            checks.check(not result.is_error and structured(result).get("duplicate") is False, f"[{mode}] sign {n}")
        result = await call("sign", {"petition": "clean-air", "signer": signer(1)})
        checks.check(structured(result).get("duplicate") is True and structured(result).get("count") == 3,
                     f"[{mode}] sign again is a duplicate")
        result = await call("count", {"petition": "clean-air", "groupBy": "source"})
        checks.check(structured(result).get("total") == 3 and structured(result).get("groups") == [{"key": "web", "count": 3}],
                     f"[{mode}] count with groups")
        result = await call("export_page", {"petition": "clean-air", "audience": "delivery", "format": "json", "limit": 2})
        page = structured(result)
        checks.check(page.get("count") == 2 and page.get("nextCursor"), f"[{mode}] export_page json, first page")
        result = await call("export_page", {"petition": "clean-air", "audience": "delivery", "format": "json",
                                            "cursor": page["nextCursor"]})
        checks.check(structured(result).get("count") == 1 and structured(result).get("nextCursor") is None,
                     f"[{mode}] export_page json, last page")
        result = await call("export_page", {"petition": "clean-air", "audience": "contacts", "format": "csv"})
        checks.check(structured(result).get("count") == 1 and "person1@example.org" in structured(result).get("data", ""),
                     f"[{mode}] export_page csv of contacts")

        # Progress of a file export: strictly increasing, the last one before the result.
        progress: list[tuple[float, float | None]] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append((value, total))

        path = os.path.join(directory, "delivery.csv")
        result = await call("export_file", {"petition": "clean-air", "audience": "delivery", "format": "csv", "path": path},
                            progress_callback=on_progress)
        file_result = structured(result)
        checks.check(file_result.get("count") == 3 and os.path.exists(path) and oct(os.stat(path).st_mode & 0o777) == "0o600",
                     f"[{mode}] export_file writes the file")
        values = [value for value, _ in progress]
        checks.check(len(values) >= 1 and all(a < b for a, b in zip(values, values[1:])) and values[-1] == 3
                     and progress[-1][1] == 3, f"[{mode}] export_file progress strictly increasing to the total: {progress}")
        result = await call("export_file", {"petition": "clean-air", "audience": "delivery", "format": "csv", "path": path})
        checks.check(result.is_error and structured(result).get("code") == 1004, f"[{mode}] export_file never overwrites (1004)")

        result = await call("unsubscribe", {"email": "person1@example.org"})
        checks.check(structured(result).get("channels") == ["email", "phone", "sms"], f"[{mode}] unsubscribe")

        # v2 tools, when the document has them.
        if "confirm" in tools:
            await call("petition_create", {"id": "confirmed", "title": "Confirmed", "target": "T", "confirmation": "email"})
            result = await call("sign", {"petition": "confirmed", "signer": signer(7)})
            token = structured(result).get("confirmToken")
            checks.check(structured(result).get("status") == "pending" and bool(token), f"[{mode}] sign pending")
            result = await call("confirm", {"token": token})
            checks.check(structured(result).get("status") == "confirmed", f"[{mode}] confirm")
        if "consent_history" in tools:
            result = await call("consent_history", {"email": "person1@example.org"})
            checks.check(isinstance(structured(result).get("events"), list), f"[{mode}] consent_history")
        if "import" in tools:
            csv_path = os.path.join(directory, "import.csv")
            with open(csv_path, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["Email Address", "First Name", "Last Name", "zip"])
                writer.writerow(["imported1@example.org", "Imo", "Ported", "54321"])
                writer.writerow(["imported2@example.org", "Imo", "Ported", "54321"])
            result = await call("import", {"petition": "clean-air", "path": csv_path})
            checks.check(structured(result).get("imported") == 2, f"[{mode}] import: {structured(result)}")
            # An import's progress: rows read, strictly increasing, the last one before the result.
            big_path = os.path.join(directory, "import-big.csv")
            with open(big_path, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["email", "firstName", "lastName", "postalCode"])
                for n in range(3000):
                    writer.writerow([f"bulk{n}@example.org", "Bulk", f"Row{n}", "54321"])
            await call("petition_create", {"id": "bulk", "title": "Bulk", "target": "T"})
            import_progress: list[float] = []

            async def on_import_progress(value: float, total: float | None, message: str | None) -> None:
                import_progress.append(value)

            result = await call("import", {"petition": "bulk", "path": big_path}, progress_callback=on_import_progress)
            checks.check(structured(result).get("imported") == 3000 and len(import_progress) >= 1
                         and all(a < b for a, b in zip(import_progress, import_progress[1:])),
                         f"[{mode}] import progress strictly increasing: {import_progress}")
        if "signature_invalidate" in tools:
            result = await call("signature_invalidate", {"petition": "clean-air", "reason": "test", "match": {"email": "person3@example.org"}})
            invalidation = structured(result).get("invalidationId")
            checks.check(structured(result).get("invalidated") == 1, f"[{mode}] signature_invalidate")
            if "invalidation_list" in tools:
                result = await call("invalidation_list", {"petition": "clean-air"})
                checks.check(len(structured(result).get("invalidations", [])) == 1, f"[{mode}] invalidation_list")
            if "signature_revalidate" in tools:
                result = await call("signature_revalidate", {"petition": "clean-air", "invalidationId": invalidation})
                checks.check(structured(result).get("revalidated") == 1, f"[{mode}] signature_revalidate")
        if "person_erase" in tools:
            result = await call("person_erase", {"email": "person2@example.org"})
            checks.check(structured(result).get("signatures") == 1, f"[{mode}] person_erase")

        result = await call("petition_close", {"id": "clean-air"})
        checks.check(structured(result).get("status") == "closed", f"[{mode}] petition_close")
        if "petition_anonymise" in tools:
            result = await call("petition_anonymise", {"id": "clean-air"})
            checks.check(not result.is_error and structured(result).get("id") == "clean-air", f"[{mode}] petition_anonymise")

        missing = [name for name in names if name not in called]
        checks.check(not missing, f"[{mode}] every listed tool was called (missing: {missing})")

        # Errors: a domain error is a tool result with isError; an unknown tool is a protocol error.
        result = await client.call_tool("sign", {"petition": "no-such-petition", "signer": signer(9)})
        checks.check(result.is_error is True and structured(result).get("code") == 1001
                     and "not found" in result.content[0].text.lower(), f"[{mode}] unknown petition is isError 1001")
        result = await client.call_tool("sign", {"petition": "clean-air", "signer": {"email": "not an email"}})
        checks.check(result.is_error is True and structured(result).get("code") == -32602
                     and structured(result).get("data", {}).get("errors"), f"[{mode}] invalid arguments are isError -32602")
        try:
            await client.call_tool("no_such_tool", {})
            checks.check(False, f"[{mode}] unknown tool is refused")
        except MCPError as error:
            checks.check(error.code == -32602, f"[{mode}] unknown tool is JSON-RPC -32602")

        # Cancellation: a sign waits for a store another process holds locked; the client gives up
        # (its timeout sends notifications/cancelled) and the sign must not be written.
        await call("petition_create", {"id": "locked", "title": "Locked", "target": "T"})
        holder = sqlite3.connect(session.database, timeout=5, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            await client.call_tool("sign", {"petition": "locked", "signer": signer(11)}, read_timeout_seconds=0.5)
            checks.check(False, f"[{mode}] the waiting sign times out on the client")
        except MCPError as error:
            checks.check(True, f"[{mode}] the waiting sign times out on the client ({error.code})")
        await asyncio.sleep(0.3)  # the cancellation reaches the server while the lock is held
        holder.execute("ROLLBACK")
        holder.close()
        result = await client.call_tool("count", {"petition": "locked"})
        checks.check(structured(result).get("total") == 0, f"[{mode}] the cancelled sign wrote nothing")
        result = await client.call_tool("sign", {"petition": "locked", "signer": signer(12)})
        checks.check(structured(result).get("count") == 1, f"[{mode}] the server goes on after a cancellation")


async def run_selection(binary: str, checks: Checks) -> None:
    directory = tempfile.mkdtemp(prefix="petition-mcp-tools-")
    session = Session(binary, "legacy", directory, ["--mcp-tools", "read,sign"])
    async with session as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        expected = [name for name in ORDER if name in READ_ONLY | {"sign", "confirm", "unsubscribe"}]
        checks.check([n for n in names] == [n for n in expected if n in names] and "petition_create" not in names
                     and "sign" in names and "count" in names, f"--mcp-tools read,sign lists {names}")
        try:
            await client.call_tool("petition_create", {"id": "x", "title": "X", "target": "T"})
            checks.check(False, "an unlisted tool is refused")
        except MCPError as error:
            checks.check(error.code == -32602, "an unlisted tool is JSON-RPC -32602")


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--mode", action="append", choices=["auto", "legacy"])
    options = parser.parse_args()
    binary = os.path.abspath(options.binary)
    checks = Checks()
    for mode in options.mode or ["auto", "legacy"]:
        try:
            await run_mode(binary, mode, checks)
        except Exception:  # a crash of one mode is one failure; the other mode still runs
            traceback.print_exc()
            checks.check(False, f"[{mode}] ran to the end")
    try:
        await run_selection(binary, checks)
    except Exception:
        traceback.print_exc()
        checks.check(False, "--mcp-tools session ran to the end")
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
