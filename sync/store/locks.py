"""One worker per tenant at a time (SPEC §7), on one machine or many.

PostgreSQL: a session advisory lock per tenant, held on its own connection for the whole run; the
server releases it if the worker dies. SQLite: an exclusive `flock` on a file beside the database,
which the kernel releases if the process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

POLL_SECONDS = 0.2


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    digest = hashlib.sha256(f"clomo-sync:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def named_lock(engine: Engine, name: str, wait_seconds: float = 0) -> Iterator[bool]:
    """Yields True while holding the lock, False if another worker held it for `wait_seconds`."""
    if engine.dialect.name == "postgresql":
        with _pg_lock(engine, name, wait_seconds) as held:
            yield held
    else:
        with _file_lock(_lock_path(engine, name), wait_seconds) as held:
            yield held


@contextmanager
def _pg_lock(engine: Engine, name: str, wait_seconds: float) -> Iterator[bool]:
    key = lock_key(name)
    with engine.connect() as conn:
        held = _poll(
            lambda: bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            ),
            wait_seconds,
        )
        conn.commit()
        try:
            yield held
        finally:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()


@contextmanager
def _file_lock(path: Path, wait_seconds: float) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        held = _poll(lambda: _try_flock(fd), wait_seconds)
        try:
            yield held
        finally:
            if held:
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
