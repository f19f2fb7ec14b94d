"""The audit stream (SPEC §19, docs/audit.md): every committed event sent outside, in id order,
at least once, by whichever long-running process (worker, scheduler, web) holds the cursor's
lease. It runs in a thread of its own, so a slow or dead receiver never holds a run up.

Ids are given at insert, so on PostgreSQL a lower id can commit after a higher one. The stream
sends only an unbroken run of ids after its cursor; at a missing id it stops, notes the
transactions in progress in the snapshot it read with, and skips the gap only once every one of
them has ended (the id was rolled back or purged: it will never appear), at least GAP_GRACE
seconds later. SQLite has one writer at a time, so a missing id there is never filled later."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from sync.config.audit import AnyStream, HttpsStream
from sync.config.secrets import read_secret
from sync.config.settings import Settings
from sync.errors import TransientError
from sync.ops.audit_sinks import HttpsSink, Sink, SyslogSink
from sync.retry import backoff_seconds
from sync.store import audit_cursor
from sync.store.audit_feed import Pending, pending, still_running
from sync.timeutil import utc_now

log = logging.getLogger(__name__)

GAP_GRACE = 1.0  # seconds a gap stays unskipped even when no transaction seems to hold it


@dataclass
class _Gap:
    running: frozenset[str]  # the transactions that may still fill it
    seen: float  # time.monotonic() when first seen
    over: bool = False  # every one of them has ended: the ids will never appear


@dataclass
class AuditStream:
    """One process's sender. `round()` does one step and says how long to wait before the next;
    `start()` runs rounds in a daemon thread until `stop()`."""

    settings: AnyStream
    engine: Engine
    sink: Sink
    clock: Callable[[], datetime] = utc_now
    holder: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )
    gaps: dict[int, _Gap] = field(default_factory=dict)
    _held_until: float = 0.0  # monotonic: renew the lease once half of it has gone
    _failures: int = 0
    _retry_at: float = 0.0
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="audit-stream", daemon=True)
        self._thread.start()
        log.info("audit stream to %s started (%s)", _target(self.settings), self.holder)

    def stop(self, timeout: float = 10) -> None:
        """Ends the thread (a send under way finishes or times out) and gives the lease up."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            audit_cursor.release(self.engine, self.holder)
        except Exception as exc:  # the store away: the lease simply runs out
            log.warning("audit stream: could not give the lease up: %s", exc)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                wait = self.round()
            except Exception as exc:  # the store away, mostly: try again, never end the thread
                self._failures += 1
                wait = backoff_seconds(self._failures, 1, self.settings.retry_longest_seconds)
                log.warning("audit stream: %s; trying again in %.1f s", _one_line(exc), wait)
            self._stopping.wait(wait)

    def round(self) -> float:
        cursor = self._lease()
        if cursor is None:  # another process sends; try again in a while
            return max(self.settings.poll_seconds, self.settings.lease_seconds / 3)
        now = time.monotonic()
        if now < self._retry_at:  # the receiver failed: wait, renewing the lease meanwhile
            return min(self._retry_at - now, self.settings.lease_seconds / 3)
        self._close_ended_gaps()
        batch = pending(self.engine, cursor, self.settings.batch_size)
        events = self._unbroken(cursor, batch)
        if not events:
            return self.settings.poll_seconds
        try:
            self.sink.send(events)
        except TransientError as exc:
            self._failures += 1
            wait = backoff_seconds(self._failures, 1, self.settings.retry_longest_seconds)
            self._retry_at = time.monotonic() + max(wait, exc.retry_after)
            log.warning("audit stream: %s; %d event(s) from id %d wait %.1f s", exc,
                        len(events), events[0]["id"], wait)  # fmt: skip
            return 0
        self._failures = 0
        if not audit_cursor.advance(self.engine, self.holder, events[-1]["id"], self.clock()):
            log.warning("audit stream: the lease passed to another process; this one stops sending")
            self._held_until = 0
        return 0

    def _lease(self) -> int | None:
        """The cursor while this process holds the lease (renewed once half of it has gone)."""
        now = time.monotonic()
        if now < self._held_until - self.settings.lease_seconds / 2:
            return audit_cursor.position(self.engine)[0]
        wall = self.clock()
        cursor = audit_cursor.take(
            self.engine, self.holder, wall, wall + timedelta(seconds=self.settings.lease_seconds)
        )
        if cursor is None:
            self._held_until = 0
        else:
            if self._held_until == 0:
                log.info("audit stream: %s holds the cursor at id %d", self.holder, cursor)
            self._held_until = now + self.settings.lease_seconds
        return cursor

    def _close_ended_gaps(self) -> None:
        """Before reading: a gap whose transactions have all ended is over (read after this,
        whatever they committed is there)."""
        waiting = [gap for gap in self.gaps.values() if not gap.over]
        if not waiting:
            return
        running, now = still_running(self.engine), time.monotonic()
        for gap in waiting:
            gap.over = not (gap.running & running) and now - gap.seen >= GAP_GRACE

    def _unbroken(self, cursor: int, batch: Pending) -> list[dict[str, Any]]:
        """The events after `cursor` up to the first gap that may still fill."""
        expected, out = cursor + 1, []
        for event in batch.events:
            if event["id"] != expected and batch.concurrent and not self._gap_over(expected, batch):
                break
            out.append(event)
            expected = event["id"] + 1
        self.gaps = {start: gap for start, gap in self.gaps.items() if start >= expected}
        return out

    def _gap_over(self, start: int, batch: Pending) -> bool:
        gap = self.gaps.get(start)
        if gap is None:
            self.gaps[start] = _Gap(batch.running, time.monotonic())
            return False
        return gap.over


def sink_for(settings: AnyStream) -> Sink:
    """The receiver of the settings; StopRun when the HMAC key's variable is not set."""
    if isinstance(settings, HttpsStream):
        key = read_secret("audit.stream.secret_env", settings.secret_env, None)
        assert key is not None  # secret_env is required: read_secret raises when it is unset
        return HttpsSink(settings, key)
    return SyslogSink(settings)


@contextmanager
def streaming(settings: Settings, engine: Engine) -> Iterator[AuditStream | None]:
    """A long-running process's audit stream, while the block runs; nothing without
    `[audit.stream]`."""
    configured = settings.audit.stream
    if configured is None:
        yield None
        return
    stream = AuditStream(configured, engine, sink_for(configured))
    stream.start()
    try:
        yield stream
    finally:
        stream.stop()


def _target(settings: AnyStream) -> str:
    return settings.url if isinstance(settings, HttpsStream) else f"syslog {settings.address}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
