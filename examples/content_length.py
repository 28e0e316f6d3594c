#!/usr/bin/env python3
"""petition-rpc over LSP base-protocol framing, the way an editor-style client talks.

usage: python3 examples/content_length.py [--binary PATH]

Every message is `Content-Length: N\\r\\n`, optional headers, `\\r\\n`, then N bytes of UTF-8 JSON.
N counts bytes, not characters: the petition below has non-ASCII text, so its byte count is larger
than its character count, and a client that sent the character count would cut the message short.
The framing is written out by hand here; petition_client.PetitionClient(framing="content-length")
does the same. The store is --db :memory:. Exits 1 on any unexpected answer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import unicodedata


def frame(message: dict, content_type: bool = False) -> bytes:
    body = json.dumps(message, ensure_ascii=False).encode("utf-8")
    header = f"Content-Length: {len(body)}\r\n"
    if content_type:
        header += "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
    return header.encode("ascii") + b"\r\n" + body


def read_frame(stream) -> tuple[dict, bytes]:
    """One response: its headers as a dict and its body bytes."""
    headers = {}
    while True:
        line = stream.readline()
        if not line:
            raise EOFError("the server closed its output")
        if line == b"\r\n":
            break
        name, _, value = line.decode("ascii").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers["content-length"]))
    return headers, body


def find_binary(given: str | None) -> str:
    for candidate in ([given] if given else [os.environ.get("PETITION_RPC_BIN") or "",
                                             "./.build/release/petition-rpc", "./.build/debug/petition-rpc"]):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("content_length.py: no petition-rpc binary; build it or pass --binary / set PETITION_RPC_BIN")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary")
    args = parser.parse_args()
    server = subprocess.Popen([find_binary(args.binary), "--db", ":memory:"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    # The title is given decomposed (NFD: "e" + combining accent); the server stores NFC.
    title = unicodedata.normalize("NFD", "Arrêtez le programme — «Pétition» ✊ 🌍")
    create = {"jsonrpc": "2.0", "id": 1, "method": "petition.create",
              "params": {"id": "arretez-le-programme", "title": title,
                         "target": "Ministère des Exemples", "body": "Madame la Ministre,\n\n…"}}
    sign = {"jsonrpc": "2.0", "id": 2, "method": "sign",
            "params": {"petition": "arretez-le-programme",
                       "signer": {"email": "zoe.exemple@example.org", "firstName": "Zoë", "lastName": "Exemple",
                                  "postalCode": "75001", "country": "FR"},
                       "comment": "Ça suffit ! 🙏"}}
    get = {"jsonrpc": "2.0", "id": 3, "method": "petition.get", "params": {"id": "arretez-le-programme"}}

    first = frame(create)
    header, body = first.split(b"\r\n\r\n", 1)
    print(f"-> petition.create: body of {len(body.decode('utf-8'))} characters and {len(body)} bytes, "
          f"sent as {header.decode('ascii')!r}")
    # Both requests in one write, the second with a Content-Type header: framing is per message.
    server.stdin.write(first + frame(sign, content_type=True) + frame(get))
    server.stdin.close()

    responses = {}
    for _ in range(3):
        headers, raw = read_frame(server.stdout)
        response = json.loads(raw.decode("utf-8"))
        responses[response["id"]] = response
        print(f"<- id {response['id']}: Content-Length {headers['content-length']}, "
              f"{len(raw.decode('utf-8'))} characters")
    trailing = server.stdout.read()
    code = server.wait(10)

    problems = []
    for id in (1, 2, 3):
        if "result" not in responses.get(id, {}):
            problems.append(f"request {id}: {responses.get(id)}")
    if not problems:
        petition = responses[3]["result"]
        print(f"stored title: {petition['title']}")
        if petition["title"] != unicodedata.normalize("NFC", title):
            problems.append("the title was not stored in NFC")
        if responses[2]["result"]["count"] != 1 or petition["count"] != 1:
            problems.append(f"count is not 1: {responses[2]['result']}, {petition['count']}")
    if trailing:
        problems.append(f"unexpected output after the responses: {trailing[:100]!r}")
    if code != 0:
        problems.append(f"the server exited with {code}")
    for problem in problems:
        print(f"UNEXPECTED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
