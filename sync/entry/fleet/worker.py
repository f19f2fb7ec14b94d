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
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from procrastinate import JobContext
from procrastinate.exceptions import ConnectorException
from sqlalchemy import Engine

from sync.config.settings import Settings
from sync.entry.fleet.app import Fleet, make_app
from sync.retry import backoff_seconds
from sync.services.audit_stream import streaming
from sync.services.fence import job_sessions

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


def serve(
    settings: Settings, engine: Engine, concurrency: int, session_name: str | None = None
) -> int:
    fleet = make_app(settings, engine, session_name)
    if settings.fleet.metrics_port is not None:
        start_metrics_server(fleet, settings.fleet.metrics_host, settings.fleet.metrics_port)
    with streaming(settings, engine):
        return asyncio.run(_work(fleet, concurrency))


class Jobs:
    """The worker identities of the jobs this process runs, recorded by a worker middleware (of
    Procrastinate's public API): the identities to beat for while a stop waits for their runs.
    The sessions holding a lock for a job carry its identity, so a fencer finds them."""

    def __init__(self) -> None:
        self.worker_ids: Counter[int] = Counter()

    async def __call__(
        self, call_next: Callable[[], Awaitable[Any]], context: JobContext, _worker: object
    ) -> Any:
        worker_id = context.job.worker_id
        if worker_id is None:
            return await call_next()
        self.worker_ids[worker_id] += 1
        try:
            with job_sessions(worker_id):  # the job's thread inherits it
                return await call_next()
        finally:
            self.worker_ids[worker_id] -= 1
            if not self.worker_ids[worker_id]:
                del self.worker_ids[worker_id]


@dataclass
class Loops:
    """The Procrastinate worker loop of this process (a task of `run_worker_async`), restarted
    when it loses the store, and what stops it."""

    fleet: Fleet
    jobs: Jobs = field(default_factory=Jobs)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    current: list[asyncio.Task[None]] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # the query whose failure ended the loop
    beats: list[asyncio.Task[None]] = field(default_factory=list)  # kept so they are not dropped


async def _work(fleet: Fleet, concurrency: int) -> int:
    name = f"{socket.gethostname()}:{os.getpid()}"
    log.info("worker %s started: concurrency %d", name, concurrency)
    loops = Loops(fleet)
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, _stop, loops)
    async with fleet.app.open_async():
        await _serve_until_stopped(loops, name, concurrency)
    log.info("worker %s stopped", name)
    return 0


async def _serve_until_stopped(loops: Loops, name: str, concurrency: int) -> None:
    """Runs Procrastinate's worker until SIGTERM. Procrastinate ends its worker on the first
    database error (a dropped connection, a failover): this process starts a new one after a
    back-off, so a worker survives what the store survives instead of leaving it to a supervisor."""
    loop = asyncio.get_running_loop()
    attempt = 0
    loops.fleet.connector.on_lost = lambda query: _lose(loops, query)
    while not loops.stopping.is_set():
        loops.lost.clear()
        task = asyncio.create_task(_run_worker(loops, name, concurrency))
        loops.current[:] = [task]
        started = loop.time()
        try:
            await task
            problem: BaseException | str = "a background task of the worker stopped"
        except ConnectorException as failure:
            problem = failure.__cause__ or failure
        except asyncio.CancelledError:
            if not (loops.stopping.is_set() or loops.lost):
                raise  # this coroutine itself is cancelled: the process ends
            problem = "stopped"
        if loops.lost:
            problem = f"its {loops.lost[0]} failed"
        if loops.stopping.is_set():
            return
        attempt = 1 if loop.time() - started > STEADY_SECONDS else attempt + 1
        wait = backoff_seconds(attempt, 1.0, RESTART_LONGEST_SECONDS)
        log.warning(
            "worker %s lost the store (%s); starting again in %.1f s (attempt %d)",
            name, one_line(problem), wait, attempt,
        )  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(loops.stopping.wait(), wait)


def _lose(loops: Loops, query: str) -> None:
    """A query of the worker's own lost the store: the loop ends (its runs get the stop grace)
    and a new one starts. Any such failure, not only those Procrastinate stops for: a failed
    `finish_job` otherwise leaves its job `doing` under a worker that still beats."""
    if loops.lost:
        return
    loops.lost.append(query)
    log.warning("the queue's %s lost the store: this worker loop ends, a new one starts", query)
    for task in loops.current:
        task.cancel()  # Procrastinate's documented stop: graceful, its runs get the grace


async def _run_worker(loops: Loops, name: str, concurrency: int) -> None:
    timing = loops.fleet.settings.fleet
    await loops.fleet.app.run_worker_async(
        name=name,
        concurrency=concurrency,
        shutdown_graceful_timeout=timing.stop_timeout_seconds,
        update_heartbeat_interval=timing.heartbeat_seconds,
        stalled_worker_timeout=timing.stalled_after_seconds,
        delete_jobs="successful",
        fetch_job_polling_interval=5,
        install_signal_handlers=False,
        worker_middleware=[loops.jobs],
    )


def one_line(problem: BaseException | str) -> str:
    return " ".join(str(problem).split()) or type(problem).__name__


def _stop(loops: Loops) -> None:
    """No new job starts; runs get the stop timeout, then the process returns them."""
    timeout = loops.fleet.settings.fleet.stop_timeout_seconds
    log.info("stopping: no new run starts; %d in progress (waiting up to %gs)", BUSY.count, timeout)
    if loops.stopping.is_set():
        return
    loops.stopping.set()
    for task in loops.current:
        task.cancel()
    loops.beats.append(asyncio.create_task(_beat_while_stopping(loops)))
    threading.Thread(target=_return_after, args=(timeout,), daemon=True).start()


async def _beat_while_stopping(loops: Loops) -> None:
    """Procrastinate ends a worker's heartbeat as its stop begins, before it waits for the runs:
    a stop grace above `stalled_after_seconds` then had the worker declared dead and its runs
    retried while they went on. This beats (through the job manager) for the identities whose
    jobs still run here, until none does."""
    every = loops.fleet.settings.fleet.heartbeat_seconds
    while loops.jobs.worker_ids:
        for worker_id in list(loops.jobs.worker_ids):
            try:
                await loops.fleet.app.job_manager.update_heartbeat(worker_id)
            except ConnectorException as failure:  # the store away: the next beat may reach it
                cause = failure.__cause__ or failure
                log.warning("heartbeat while stopping failed: %s", one_line(cause))
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
