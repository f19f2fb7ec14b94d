"""Fencing a worker deemed dead (SPEC §15; sync.store.fence): whoever retries a stalled job first
ends the sessions of the worker that held it, so the locks it held go, its open transaction rolls
back, and if it wakes its runs find their locks gone and commit nothing (sync.store.locks).

Ending another role's sessions takes PostgreSQL's `pg_signal_backend` (or one role for every
worker): without it the fence is logged as failed and the job retried all the same, the tenant's
lock then held until the dead worker's session ends (its keepalives: about a minute)."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from sync.store import fence
from sync.store.locks import JOB_TAG

log = logging.getLogger(__name__)
HOST_CHARS = 20  # the name and its job tag fit PostgreSQL's 63 bytes of application_name


def session_name() -> str:
    """This worker process's sessions' application_name: host, pid and a token of its own (a
    pid can come back in another container)."""
    host = socket.gethostname()[:HOST_CHARS] or "host"
    return f"{fence.PREFIX}{host}:{os.getpid()}:{secrets.token_hex(3)}"


@contextmanager
def job_sessions(worker_id: int | None) -> Iterator[None]:
    """The locks taken inside (this thread and those it starts) carry the job's worker id."""
    if worker_id is None:
        yield
        return
    token = JOB_TAG.set(fence.job_tag(worker_id))
    try:
        yield
    finally:
        JOB_TAG.reset(token)


def fence_workers(engine: Engine, worker_ids: list[int]) -> list[str]:
    """Ends every session of the processes that ran these (dead) worker ids' jobs while holding
    a lock; twice, so a session one of them opened meanwhile goes too. The processes fenced."""
    if not worker_ids:
        return []
    try:
        with engine.connect() as conn:
            processes = fence.processes_of(conn, worker_ids)
            for _ in range(2):
                for process in processes:
                    ended = fence.end_sessions(conn, process)
                    if ended:
                        log.warning("fenced worker %s: %d session(s) ended", process, ended)
            conn.commit()
    except DBAPIError as failure:
        log.error(
            "could not fence the sessions of dead worker(s) %s: %s (ending another role's "
            "sessions takes pg_signal_backend)",
            worker_ids,
            " ".join(str(failure.orig).split()),
        )
        return []
    return processes
