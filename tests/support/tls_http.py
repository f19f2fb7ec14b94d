"""An emulator's HTTPS server on 127.0.0.1: a thread serving a handler class bound to it."""

from __future__ import annotations

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
    bound = type("Handler", (handler,), {"emulator": emulator})
    server = ThreadingHTTPServer(("127.0.0.1", 0), bound)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return server, thread, int(server.server_address[1])
