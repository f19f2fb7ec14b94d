"""Real receivers for the audit stream: a TCP syslog server reading RFC 6587 octet-counted
frames of RFC 5424 messages (optionally in TLS), and an HTTP server checking the HMAC signature.
Each fails loudly on what it does not expect: a malformed frame is recorded as a problem."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import socketserver
import ssl
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# RFC 5424 §6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
HEADER = re.compile(
    rb"<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<proc>\S+) (?P<msgid>\S+) "
    rb"(?P<sd>-|\[.*?\]) (?P<msg>.*)",
    re.DOTALL,
)
BOM = "\ufeff".encode()


@dataclass
class Received:
    """What a receiver took in: each event with the message's header fields."""

    events: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[int]:
        with self.lock:
            return [int(e["id"]) for e in self.events]


def parse_frames(data: bytes) -> tuple[list[tuple[dict[str, str], dict[str, Any]]], bytes]:
    """The complete octet-counted frames of `data` and what is left of an incomplete one."""
    out = []
    while data:
        space = data.find(b" ")
        if space < 1 or not data[:space].isdigit():
            raise ValueError(f"not an octet count: {data[:20]!r}")
        length = int(data[:space])
        frame = data[space + 1 : space + 1 + length]
        if len(frame) < length:
            break
        data = data[space + 1 + length :]
        match = HEADER.fullmatch(frame)
        if match is None or not match["msg"].startswith(BOM):
            raise ValueError(f"not an RFC 5424 message with a UTF-8 MSG: {frame[:80]!r}")
        header = {k: v.decode() for k, v in match.groupdict().items() if k != "msg"}
        out.append((header, json.loads(match["msg"][len(BOM) :].decode("utf-8"))))
    return out, data


class SyslogReceiver:
    """RFC 5424 over TCP on 127.0.0.1, a free port. `refuse`: connections are reset at once
    (a receiver that is down). `die_after`: the next connection is reset after this many frames
    (a receiver dying mid-batch). `tls`: (certificate, key) to serve TLS."""

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self.received = Received()
        self.refuse = False
        self.die_after: int | None = None
        self.connections = 0
        self.context: ssl.SSLContext | None = None
        if tls is not None:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(*tls)
        receiver = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                receiver._serve(self.request)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _serve(self, conn: socket.socket) -> None:
        self.connections += 1
        if self.refuse:
            _reset(conn)
            return
        if self.context is not None:
            conn = self.context.wrap_socket(conn, server_side=True)
        buffer, frames = b"", 0
        while chunk := conn.recv(65536):
            try:
                parsed, buffer = parse_frames(buffer + chunk)
            except ValueError as exc:
                self.received.problems.append(str(exc))
                return
            for header, event in parsed:
                if self.die_after is not None and frames >= self.die_after:
                    self.die_after = None
                    _reset(conn)
                    return
                frames += 1
                with self.received.lock:
                    self.received.headers.append(header)
                    self.received.events.append(event)
        if buffer:
            self.received.problems.append(f"an incomplete frame at the end: {buffer[:40]!r}")
        if isinstance(conn, ssl.SSLSocket):
            conn.unwrap()


def _reset(conn: socket.socket) -> None:
    """Closes with a TCP reset (SO_LINGER 0), as a receiver that crashed."""
    raw = conn
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()


class HttpsReceiver:
    """POSTed batches on 127.0.0.1, a free port (TLS with `tls`, (certificate, key)), each
    signature checked with `key`. `fail` more
    requests answer 503; while `gate` is clear, requests wait (a slow receiver)."""

    def __init__(self, key: str, tls: tuple[str, str] | None = None) -> None:
        self.key = key.encode()
        self.scheme = "http" if tls is None else "https"
        self.received = Received()
        self.fail = 0
        self.requests = 0
        self.gate = threading.Event()
        self.gate.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                receiver._post(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}/audit"

    def stop(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def _post(self, request: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        self.gate.wait()
        body = request.rfile.read(int(request.headers["Content-Length"]))
        expected = "sha256=" + hmac.new(self.key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Clomo-Signature", ""), expected):
            self.received.problems.append("a batch with a wrong signature")
            status = 401
        elif self.fail > 0:
            self.fail -= 1
            status = 503
        else:
            with self.received.lock:
                self.received.events.extend(json.loads(body)["events"])
            status = 204
        request.send_response(status)
        request.send_header("Content-Length", "0")
        request.end_headers()


def first_arrivals(ids: list[int]) -> list[int]:
    """Each id at its first arrival, in arrival order (a resent one is a duplicate, allowed)."""
    seen: set[int] = set()
    out = []
    for i in ids:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out
