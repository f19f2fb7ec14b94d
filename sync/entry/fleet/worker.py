"""`clomo-sync worker`: one Procrastinate worker process, and its optional `/metrics` endpoint.

SIGTERM (or SIGINT): no new job starts; runs in progress get `fleet.stop_timeout_seconds` to
finish. A run still going after that is returned: the process exits, PostgreSQL rolls back the
run's open transaction, and the job (its worker gone) is retried by another worker's
stalled-job check: within `fleet.stalled_after_seconds` plus one dispatch period (about two
minutes with the defaults; docs/operations.md).

A database error ends Procrastinate's worker loop; this process starts a new one after a back-off
(docs/operations.md, "Dropped connections") instead of exiting. So does a failure of a job's own
bookkeeping (its `finish_job`), which Procrastinate alone would only log: the new loop has a new
identity, so the job left `doing` under the old one is stalled and retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from procrastinate.exceptions import ConnectorException
from sqlalchemy import Engine

from sync.config.settings import Settings
from sync.entry.fleet.app import Fleet, make_app
from sync.retry import backoff_seconds

log = logging.getLogger(__name__)
EXIT_RETURNED = 1
STEADY_SECONDS = 60  # a worker that ran this long starts its back-off afresh
RESTART_LONGEST_SECONDS = 30


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
    name = f"{socket.gethostname()}:{os.getpid()}"
    log.info("worker %s started: concurrency %d", name, concurrency)
    stopping = asyncio.Event()
    current: list[Any] = []
    loop = asyncio.get_running_loop()
    beats: list[asyncio.Task[None]] = []  # referenced so the loop does not drop them
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, _stop, fleet, current, stopping, beats)
    async with fleet.app.open_async():
        await _serve_until_stopped(fleet, name, concurrency, current, stopping)
    log.info("worker %s stopped", name)
    return 0


async def _serve_until_stopped(
    fleet: Fleet, name: str, concurrency: int, current: list[Any], stopping: asyncio.Event
) -> None:
    """Runs Procrastinate's worker until SIGTERM. Procrastinate ends its worker on the first
    database error (a dropped connection, a failover): this process starts a new one after a
    back-off, so a worker survives what the store survives instead of leaving it to a supervisor."""
    loop = asyncio.get_running_loop()
    attempt = 0
    lost: list[str] = []
    fleet.connector.on_lost = lambda query: _lose(current, lost, query)
    while not stopping.is_set():
        worker = _new_worker(fleet, name, concurrency)
        current[:] = [worker]
        lost.clear()
        started = loop.time()
        try:
            await worker.run()  # type: ignore[no-untyped-call]
            problem: BaseException | str = "a background task of the worker stopped"
        except ConnectorException as failure:
            problem = failure.__cause__ or failure
        if lost:
            problem = f"its {lost[0]} failed"
        if stopping.is_set():
            return
        attempt = 1 if loop.time() - started > STEADY_SECONDS else attempt + 1
        wait = backoff_seconds(attempt, 1.0, RESTART_LONGEST_SECONDS)
        log.warning(
            "worker %s lost the store (%s); starting again in %.1f s (attempt %d)",
            name, one_line(problem), wait, attempt,
        )  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), wait)


def _lose(current: list[Any], lost: list[str], query: str) -> None:
    """A query of the worker's own lost the store: the loop ends (its runs get the stop grace)
    and a new one starts. Any such failure, not only those Procrastinate stops for: a failed
    `finish_job` otherwise leaves its job `doing` under a worker that still beats."""
    if lost:
        return
    lost.append(query)
    log.warning("the queue's %s lost the store: this worker loop ends, a new one starts", query)
    for worker in current:
        worker.stop()


def _new_worker(fleet: Fleet, name: str, concurrency: int) -> Any:
    timing = fleet.settings.fleet
    return fleet.app._worker(
        name=name,
        concurrency=concurrency,
        shutdown_graceful_timeout=timing.stop_timeout_seconds,
        update_heartbeat_interval=timing.heartbeat_seconds,
        stalled_worker_timeout=timing.stalled_after_seconds,
        delete_jobs="successful",
        fetch_job_polling_interval=5,
        install_signal_handlers=False,
    )


def one_line(problem: BaseException | str) -> str:
    return " ".join(str(problem).split()) or type(problem).__name__


def _stop(
    fleet: Fleet, current: list[Any], stopping: asyncio.Event, beats: list[asyncio.Task[None]]
) -> None:
    """No new job starts; runs get the stop timeout, then the process returns them."""
    timeout = fleet.settings.fleet.stop_timeout_seconds
    log.info("stopping: no new run starts; %d in progress (waiting up to %gs)", BUSY.count, timeout)
    if stopping.is_set():
        return
    stopping.set()
    for worker in current:
        worker.stop()
        beats.append(asyncio.create_task(_beat_while_stopping(fleet, worker)))
    threading.Thread(target=_return_after, args=(timeout,), daemon=True).start()


async def _beat_while_stopping(fleet: Fleet, worker: Any) -> None:
    """Procrastinate ends a worker's heartbeat as its stop begins, before it waits for the runs:
    a stop grace above `stalled_after_seconds` then had the worker declared dead and its runs
    retried while they went on. This beats (through the job manager) until the worker has
    unregistered, which Procrastinate does once its runs ended."""
    every = fleet.settings.fleet.heartbeat_seconds
    while (worker_id := worker.worker_id) is not None:
        try:
            await fleet.app.job_manager.update_heartbeat(worker_id)
        except ConnectorException as failure:  # the store away: the next beat may reach it
            log.warning(
                "heartbeat while stopping failed: %s", one_line(failure.__cause__ or failure)
            )
        await asyncio.sleep(every)


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
    from sync.entry.fleet.metrics import fleet_metrics

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
