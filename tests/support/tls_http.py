"""An emulator's HTTPS server on 127.0.0.1: a thread serving a handler class bound to it."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def serve_tls(
    emulator: Any, handler: type[BaseHTTPRequestHandler], certfile: Path | str, keyfile: Path | str
) -> tuple[ThreadingHTTPServer, threading.Thread, int]:
    """Starts serving `handler` (given `emulator` as its class attribute) over TLS on a free
    port; (the server, its thread, the port)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    return serve_http(emulator, handler, context)


def serve_http(
    emulator: Any, handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext | None = None
) -> tuple[ThreadingHTTPServer, threading.Thread, int]:
    """As serve_tls, over plain HTTP on 127.0.0.1 unless a TLS context is given."""
    bound = type("Handler", (handler,), {"emulator": emulator})
    server = ThreadingHTTPServer(("127.0.0.1", 0), bound)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return server, thread, int(server.server_address[1])


class JsonHandler(BaseHTTPRequestHandler):
    """An emulator's request handler: HTTP/1.1 keep-alive, quiet, answering JSON."""

    protocol_version = "HTTP/1.1"
    wbufsize = -1
    # an answer larger than the write buffer goes out in several writes: with Nagle's algorithm
    # the last one waits for the client's delayed ACK, 40 ms a page
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class Served:
    """What an emulator started by serve_tls / serve_http shares: its address and its end."""

    server: ThreadingHTTPServer
    port: int
    scheme = "https"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"
