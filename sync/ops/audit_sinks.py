"""Where the audit stream sends its events (SPEC §19, docs/audit.md): a syslog receiver (RFC 5424
messages in RFC 6587 octet-counted frames over TCP, optionally TLS) or an HTTPS endpoint (a JSON
batch signed with HMAC-SHA256). Every failure is a TransientError: the stream tries again later
from its cursor. The frames are built here (a dozen lines) rather than through a logging
handler: a handler swallows send errors, and the stream must know a batch was not delivered."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import ssl
from collections.abc import Sequence
from typing import Any, Protocol

import requests

from sync.config.audit import HttpsStream, SyslogStream, host_port
from sync.errors import TransientError

APP_NAME = "clomo-sync"
# facility 13 (log audit), severity 6 (informational): RFC 5424 §6.2.1
PRIORITY = 13 * 8 + 6
BOM = "\ufeff"  # RFC 5424 §6.4: a UTF-8 MSG starts with the byte order mark
SIGNATURE_HEADER = "X-Clomo-Signature"

Event = dict[str, Any]


class Sink(Protocol):
    def send(self, events: Sequence[Event]) -> None:
        """Delivers the batch, or raises TransientError (nothing of it counts as sent)."""


def syslog_frame(event: Event, hostname: str, procid: str) -> bytes:
    """One octet-counted frame (RFC 6587 §3.4.1): `LENGTH SP SYSLOG-MSG`, the message RFC 5424
    with the event as JSON, the action as MSGID, the event's time as TIMESTAMP."""
    timestamp = str(event["at"]).replace("+00:00", "Z")
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    message = f"<{PRIORITY}>1 {timestamp} {hostname} {APP_NAME} {procid} {event['action']} - {BOM}"
    data = message.encode() + body.encode()
    return str(len(data)).encode() + b" " + data


class SyslogSink:
    """A connection per batch: after the frames the sending side is shut and the batch counts as
    sent only when the receiver has closed its side in turn, having read everything. Plain TCP
    syslog has no acknowledgement; without this, frames in the kernel's buffers when a receiver
    died would be lost while counted as sent."""

    def __init__(self, settings: SyslogStream) -> None:
        self.host, self.port = host_port(settings.address)
        self.timeout = settings.timeout_seconds
        self.context: ssl.SSLContext | None = None
        if settings.tls:
            cafile = str(settings.ca_file) if settings.ca_file else None
            self.context = ssl.create_default_context(cafile=cafile)
        self.hostname = socket.gethostname() or "-"
        self.procid = str(os.getpid())

    def send(self, events: Sequence[Event]) -> None:
        data = b"".join(syslog_frame(e, self.hostname, self.procid) for e in events)
        try:
            with socket.create_connection((self.host, self.port), self.timeout) as raw:
                conn: socket.socket = raw
                if self.context is not None:
                    conn = self.context.wrap_socket(raw, server_hostname=self.host)
                conn.sendall(data)
                _finish(conn)
        except (OSError, ssl.SSLError) as exc:
            raise TransientError(f"syslog {self.host}:{self.port}: {exc}") from None


def _finish(conn: socket.socket) -> None:
    """Shuts the sending side and waits for the receiver to close: a clean close (FIN, or TLS's
    close_notify) comes only after it read every frame; a receiver that dies with frames unread
    resets the connection instead (ConnectionResetError, a failure)."""
    if isinstance(conn, ssl.SSLSocket):
        try:
            conn = conn.unwrap()  # our close_notify, then theirs
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
            return  # closed without its close_notify, after reading ours: everything was read
    conn.shutdown(socket.SHUT_WR)
    while conn.recv(4096):
        pass


class HttpsSink:
    """POSTs `{"events": [...]}`; `X-Clomo-Signature: sha256=HEX` is the body's HMAC-SHA256 with
    the key from `secret_env`. Any answer but 2xx is a failure, tried again later."""

    def __init__(self, settings: HttpsStream, key: str) -> None:
        self.url = settings.url
        self.key = key.encode()
        self.timeout = settings.timeout_seconds
        self.session = requests.Session()
        # given with each request: requests lets REQUESTS_CA_BUNDLE override a session's verify
        self.verify: str | bool = str(settings.ca_file) if settings.ca_file else True

    def send(self, events: Sequence[Event]) -> None:
        body = json.dumps({"events": list(events)}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(self.key, body)}
        try:
            answer = self.session.post(
                self.url, data=body, headers=headers, timeout=self.timeout, verify=self.verify
            )
        except requests.RequestException as exc:
            raise TransientError(f"audit stream POST {self.url}: {type(exc).__name__}") from None
        if not 200 <= answer.status_code < 300:
            hint = answer.headers.get("Retry-After", "")
            raise TransientError(
                f"audit stream POST {self.url}: HTTP {answer.status_code}",
                float(hint) if hint.isdigit() else 0,
            )


def signature(key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
