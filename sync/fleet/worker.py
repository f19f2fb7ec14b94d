"""`clomo-sync worker`: one Procrastinate worker process, and its optional `/metrics` endpoint.

SIGTERM (or SIGINT): no new job starts; runs in progress get `fleet.stop_timeout_seconds` to
finish. A run still going after that is returned: the process exits, PostgreSQL rolls back the
run's open transaction, and the job (its worker gone) is retried by another worker's
stalled-job check within a minute.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine

from sync.config import Settings
from sync.fleet.app import Fleet, make_app

log = logging.getLogger(__name__)
EXIT_RETURNED = 1


class Busy:
    """Counts runs in progress on this worker's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __enter__(self) -> None:
        with self._lock:
            self.count += 1

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self.count -= 1


BUSY = Busy()


def serve(settings: Settings, engine: Engine, concurrency: int) -> int:
    fleet = make_app(settings, engine)
    if settings.fleet.metrics_port is not None:
        start_metrics_server(fleet, settings.fleet.metrics_host, settings.fleet.metrics_port)
    return asyncio.run(_work(fleet, concurrency))


async def _work(fleet: Fleet, concurrency: int) -> int:
    timing = fleet.settings.fleet
    name = f"{socket.gethostname()}:{os.getpid()}"
    log.info("worker %s started: concurrency %d", name, concurrency)
    async with fleet.app.open_async():
        worker = fleet.app._worker(
            name=name,
            concurrency=concurrency,
            shutdown_graceful_timeout=timing.stop_timeout_seconds,
            update_heartbeat_interval=timing.heartbeat_seconds,
            stalled_worker_timeout=timing.stalled_after_seconds,
            delete_jobs="successful",
            fetch_job_polling_interval=5,
            install_signal_handlers=False,
        )
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, _stop, worker, timing.stop_timeout_seconds)
        await worker.run()  # type: ignore[no-untyped-call]
    log.info("worker %s stopped", name)
    return 0


def _stop(worker: Any, timeout: float) -> None:
    """No new job starts; runs get `timeout` seconds, then the process returns them."""
    log.info("stopping: no new run starts; %d in progress (waiting up to %gs)", BUSY.count, timeout)
    worker.stop()
    threading.Thread(target=_return_after, args=(timeout,), daemon=True).start()


def _return_after(timeout: float) -> None:
    time.sleep(timeout + 1)
    if BUSY.count:
        log.error(
            "%d run(s) still in progress after %gs: returning them (their transactions roll "
            "back; another worker retries them)",
            BUSY.count,
            timeout,
        )
        logging.shutdown()
        os._exit(EXIT_RETURNED)


def start_metrics_server(fleet: Fleet, host: str, port: int) -> ThreadingHTTPServer:
    from sync.fleet.metrics import fleet_metrics

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = fleet_metrics(fleet.engine, fleet.settings).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("metrics: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics on http://%s:%d/metrics", host, server.server_address[1])
    return server
