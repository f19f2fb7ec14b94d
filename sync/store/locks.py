"""One worker per tenant at a time (SPEC §7), on one machine or many.

PostgreSQL: a session advisory lock per tenant, held on its own connection for the whole run; the
server releases it if the worker dies. SQLite: an exclusive `flock` on a file beside the database,
which the kernel releases if the process dies.

A lock held is a `Lease` (SPEC §15): it can be taken back (a run past its time limit, a worker
fenced) and whoever writes under it checks it first (`check_held`), so a run whose lock went
never commits and a delivery never sends. On PostgreSQL the check asks the lock's own session,
whose end (pg_terminate_backend by a fencer or the watchdog, a dropped connection) frees the lock:
a lease whose session answers still holds the lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from sync.errors import LockLost

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2
# the fleet job this thread runs for (sync.services.fence): a lock's session carries it in its
# application_name while it holds the lock, so a fencer finds the sessions of a dead worker
JOB_TAG: ContextVar[str | None] = ContextVar("clomo_sync_job_tag", default=None)
_HELD: ContextVar[tuple[Lease, ...]] = ContextVar("clomo_sync_leases", default=())
NAME_LIMIT = 63  # PostgreSQL truncates an application_name to this many bytes


class Lease:
    """A lock as held: `check` raises LockLost once it was taken back or its session ended."""

    def __init__(self, name: str, conn: Connection | None = None, pid: int | None = None,
                 fd: int | None = None) -> None:  # fmt: skip
        self.name, self.pid = name, pid
        self._conn, self._fd = conn, fd
        self.revoked = threading.Event()
        self.writers: list[int] = []  # the sessions writing under it (the watchdog ends them)
        self._mutex = threading.Lock()
        self._released = False

    def check(self) -> None:
        if self.revoked.is_set():
            raise LockLost(f"the lock {self.name} was taken back")
        if self._conn is None:
            return
        try:
            self._conn.exec_driver_sql("SELECT 1")
            self._conn.commit()
        except DBAPIError:
            raise LockLost(f"the session holding the lock {self.name} ended") from None

    def revoke(self, engine: Engine) -> bool:
        """Takes the lock back from another thread: its session (and those writing under it)
        ended, so their transactions roll back and another worker can take the lock. False
        when the holder had already let it go (its work is done)."""
        with self._mutex:
            if self._released:
                return False
            self.revoked.set()
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            pids = [pid for pid in [self.pid, *self.writers] if pid is not None]
        if pids:
            with engine.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid, 5000) "
                        "FROM unnest(CAST(:pids AS integer[])) AS pid"
                    ),
                    {"pids": pids},
                )
                conn.commit()
        return True

    def _release(self) -> bool:
        """False when the lease was taken back: then the lock is not this holder's to free."""
        with self._mutex:
            self._released = True
            return not self.revoked.is_set()


def check_held() -> None:
    """Raises LockLost unless every lock this thread holds is still held."""
    for lease in _HELD.get():
        lease.check()


def note_writer(conn: Connection) -> None:
    """Records `conn`'s session as writing under the locks this thread holds: taking them back
    ends it too, so its transaction rolls back."""
    leases = _HELD.get()
    if leases and conn.dialect.name == "postgresql":
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        for lease in leases:
            lease.writers.append(pid)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    digest = hashlib.sha256(f"clomo-sync:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def named_lock(engine: Engine, name: str, wait_seconds: float = 0) -> Iterator[bool]:
    """Yields True while holding the lock, False if another worker held it for `wait_seconds`."""
    with leased(engine, name, wait_seconds) as lease:
        yield lease is not None


@contextmanager
def leased(engine: Engine, name: str, wait_seconds: float = 0) -> Iterator[Lease | None]:
    """Yields the lease while holding the lock, None if another worker held it for
    `wait_seconds`. The lease is this thread's (`check_held`) until the block ends."""
    lock = _pg_lock if engine.dialect.name == "postgresql" else _file_lock
    with lock(engine, name, wait_seconds) as lease:
        token = _HELD.set((*_HELD.get(), lease)) if lease is not None else None
        try:
            yield lease
        finally:
            if token is not None:
                _HELD.reset(token)


@contextmanager
def _pg_lock(engine: Engine, name: str, wait_seconds: float) -> Iterator[Lease | None]:
    key = lock_key(name)
    with engine.connect() as conn:
        tagged = _tag(conn, JOB_TAG.get())
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        held = _poll(
            lambda: bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            ),
            wait_seconds,
        )
        conn.commit()
        lease = Lease(name, conn, pid) if held else None
        try:
            yield lease
        finally:
            _pg_release(conn, key, lease, tagged)


def _tag(conn: Connection, tag: str | None) -> str | None:
    """Adds the job's tag to the session's application_name; returns the name it had."""
    if tag is None:
        return None
    before = str(conn.execute(text("SELECT current_setting('application_name')")).scalar_one())
    named = f"{before} {tag}"[-NAME_LIMIT:]
    conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": named})
    return before


def _pg_release(conn: Connection, key: int, lease: Lease | None, tagged: str | None) -> None:
    ours = lease._release() if lease is not None else False
    try:
        if ours:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        if tagged is not None:
            conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": tagged})
        conn.commit()
    except SQLAlchemyError as failure:  # the session is gone, and its lock with it
        log.warning("the lock's session had ended: %s", " ".join(str(failure).split())[:200])
        conn.invalidate()


@contextmanager
def _file_lock(engine: Engine, name: str, wait_seconds: float) -> Iterator[Lease | None]:
    path = _lock_path(engine, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        held = _poll(lambda: _try_flock(fd), wait_seconds)
        lease = Lease(name, fd=fd) if held else None
        try:
            yield lease
        finally:
            if lease is not None and lease._release():
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _poll(attempt: object, wait_seconds: float) -> bool:
    assert callable(attempt)
    deadline = time.monotonic() + wait_seconds
    while True:
        if attempt():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


def _lock_path(engine: Engine, name: str) -> Path:
    database = engine.url.database
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    if not database or database == ":memory:":
        return Path(tempfile.gettempdir()) / f"clomo-sync-{os.getpid()}" / f"{safe}.lock"
    return Path(f"{database}.locks") / f"{safe}.lock"
