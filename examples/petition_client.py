"""A small stdlib-only client for petition-rpc.

It spawns the server, talks JSON-RPC 2.0 over its stdin/stdout and matches responses to requests
by id (the server answers each request as soon as it is done, not necessarily in order):

    from petition_client import PetitionClient, RpcError

    with PetitionClient("./.build/release/petition-rpc", "--db", ":memory:") as client:
        petition = client.call("petition.create", id="end-the-program", title="End the Program",
                               target="The Secretary of Example Affairs")
        try:
            client.call("petition.get", id="no-such-petition")
        except RpcError as error:
            print(error.code, error.message)          # 1001 ...

        # Pipelining: send many requests, then collect the answers by id.
        ids = [client.send("count", petition="end-the-program") for _ in range(10)]
        totals = [client.wait(i)["total"] for i in ids]

Framing is NDJSON (one JSON text per line) unless `framing="content-length"` is given, in which
case every message is sent with an LSP-style `Content-Length` header (counting UTF-8 bytes).
Responses are read in whatever framing the server writes them.

Server-sent notifications (`$/progress`) are collected in `client.notifications` and passed to
`on_notification` when one is given (called on the reader thread).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
from typing import Any, Callable, Iterable

__all__ = ["PetitionClient", "RpcError", "ServerExited", "encode_ndjson", "encode_content_length", "read_message"]


class RpcError(Exception):
    """An error response: `code`, `message` and `data` as the server sent them."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data

    @classmethod
    def from_object(cls, error: dict) -> "RpcError":
        return cls(error.get("code"), error.get("message"), error.get("data"))


class ServerExited(ConnectionError):
    """The server closed its stdout before answering."""


def encode_ndjson(message: Any) -> bytes:
    """One JSON text on one line. json.dumps escapes every line break inside strings."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def encode_content_length(message: Any, content_type: str | None = None) -> bytes:
    """LSP base protocol: the header counts the bytes of the UTF-8 body, not its characters."""
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header = f"Content-Length: {len(body)}\r\n"
    if content_type:
        header += f"Content-Type: {content_type}\r\n"
    return header.encode("ascii") + b"\r\n" + body


def read_message(stream) -> Any | None:
    """Read one message in either framing from a binary stream; None at end of stream.

    A line that starts with a header name is read as an LSP header block, anything else as one
    NDJSON line. Blank lines between messages are skipped.
    """
    while True:
        line = stream.readline()
        if not line:
            return None
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[:1] in (b"{", b"["):
            return json.loads(stripped.decode("utf-8"))
        length = None
        while stripped:
            name, _, value = stripped.decode("ascii").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
            line = stream.readline()
            if not line:
                return None
            stripped = line.strip()
        if length is None:
            raise ValueError("a header block without Content-Length")
        body = stream.read(length)
        if len(body) < length:
            return None
        return json.loads(body.decode("utf-8"))


class PetitionClient:
    """A running petition-rpc process and a JSON-RPC connection to it."""

    def __init__(
        self,
        binary: str,
        *args: str,
        framing: str = "ndjson",
        timeout: float = 30.0,
        env: dict | None = None,
        cwd: str | None = None,
        stderr=None,
        on_notification: Callable[[dict], None] | None = None,
    ):
        if framing not in ("ndjson", "content-length"):
            raise ValueError("framing must be 'ndjson' or 'content-length'")
        self.framing = framing
        self.timeout = timeout
        self.notifications: list[dict] = []
        # Error responses whose id is null (a parse error, an oversized message): nothing to match.
        self.unmatched: list[dict] = []
        self._on_notification = on_notification
        self._ids = itertools.count(1)
        self._responses: dict[Any, dict] = {}
        self._condition = threading.Condition()
        self._write_lock = threading.Lock()
        self._eof = False
        self.process = subprocess.Popen(
            [binary, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=cwd
        )
        # A reader thread drains stdout, so pipelining many requests cannot deadlock on full pipes.
        self._reader = threading.Thread(target=self._read_loop, name="petition-rpc-reader", daemon=True)
        self._reader.start()

    # --- sending -------------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (for framing experiments); flushed at once."""
        with self._write_lock:
            self.process.stdin.write(data)
            self.process.stdin.flush()

    def _send(self, message: Any) -> None:
        if self.framing == "ndjson":
            self.send_raw(encode_ndjson(message))
        else:
            self.send_raw(encode_content_length(message))

    @staticmethod
    def _message(method: str, params: dict | None, id: Any = None, with_id: bool = False) -> dict:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params:
            message["params"] = params
        if with_id:
            message["id"] = id
        return message

    @staticmethod
    def _merge(params: dict | None, keywords: dict) -> dict | None:
        merged = dict(params or {})
        merged.update(keywords)
        return merged or None

    def send(self, method: str, params: dict | None = None, /, **keywords) -> int:
        """Send a request without waiting; returns its id for `wait`."""
        id = next(self._ids)
        self._send(self._message(method, self._merge(params, keywords), id, with_id=True))
        return id

    def notify(self, method: str, params: dict | None = None, /, **keywords) -> None:
        """Send a notification (no id, never answered)."""
        self._send(self._message(method, self._merge(params, keywords)))

    def cancel(self, id: Any) -> None:
        """Ask the server to cancel a request; that request is then answered with -32800."""
        self.notify("$/cancelRequest", id=id)

    # --- receiving -----------------------------------------------------------------------------
    def _read_loop(self) -> None:
        try:
            while True:
                message = read_message(self.process.stdout)
                if message is None:
                    break
                for item in message if isinstance(message, list) else [message]:
                    self._dispatch(item)
        finally:
            with self._condition:
                self._eof = True
                self._condition.notify_all()

    def _dispatch(self, item: Any) -> None:
        if isinstance(item, dict) and "method" in item and "id" not in item:
            self.notifications.append(item)
            if self._on_notification:
                self._on_notification(item)
            return
        with self._condition:
            if not isinstance(item, dict) or item.get("id") is None:
                self.unmatched.append(item)
            else:
                self._responses[_key(item["id"])] = item
            self._condition.notify_all()

    def response(self, id: Any, timeout: float | None = None) -> dict:
        """Wait for the whole response object with this id."""
        key = _key(id)
        with self._condition:
            ready = self._condition.wait_for(
                lambda: key in self._responses or self._eof, timeout if timeout is not None else self.timeout
            )
            if key in self._responses:
                return self._responses.pop(key)
        if not ready:
            raise TimeoutError(f"no response to request {id!r}")
        raise ServerExited(f"the server closed its output before answering request {id!r}")

    def wait(self, id: Any, timeout: float | None = None) -> Any:
        """Wait for the response with this id: its result, or RpcError."""
        response = self.response(id, timeout)
        if "error" in response:
            raise RpcError.from_object(response["error"])
        return response.get("result")

    def call(self, method: str, params: dict | None = None, /, **keywords) -> Any:
        """Send a request and wait for it: the result, or RpcError."""
        return self.wait(self.send(method, params, **keywords))

    def pipeline(self, calls: Iterable[tuple[str, dict | None]]) -> list[Any]:
        """Send every (method, params) at once, then collect: results and RpcErrors, in order."""
        ids = [self.send(method, params) for method, params in calls]
        outcomes: list[Any] = []
        for id in ids:
            try:
                outcomes.append(self.wait(id))
            except RpcError as error:
                outcomes.append(error)
        return outcomes

    def batch(self, calls: Iterable[tuple[str, dict | None]]) -> list[Any]:
        """Send one JSON-RPC batch (an array); results and RpcErrors, in the order asked."""
        messages, ids = [], []
        for method, params in calls:
            id = next(self._ids)
            ids.append(id)
            messages.append(self._message(method, params, id, with_id=True))
        self._send(messages)
        outcomes: list[Any] = []
        for id in ids:
            try:
                outcomes.append(self.wait(id))
            except RpcError as error:
                outcomes.append(error)
        return outcomes

    # --- shutting down -------------------------------------------------------------------------
    def close(self, timeout: float | None = None) -> int:
        """Close the server's stdin (it answers what it read, then exits) and wait; the exit code."""
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            code = self.process.wait(timeout if timeout is not None else self.timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        self._reader.join(5)
        return code

    def __enter__(self) -> "PetitionClient":
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.close()


def _key(id: Any) -> Any:
    # 1 and 1.0 are the same JSON number, "1" is not: keep strings apart from numbers.
    return ("s", id) if isinstance(id, str) else ("n", id)
