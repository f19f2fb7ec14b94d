"""A running scheduler's heartbeat in the store, and the `health` check that reads it.

The heartbeat is a row per scheduler process (host:pid) rather than a file, so `health` works
the same in a container, under systemd or for a whole cluster, and needs no shared volume.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from sync.store.engine import schema_is_current, writing
from sync.store.schema import scheduler_heartbeats
from sync.timeutil import as_utc, utc_now


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(engine: Engine, worker: str, started_at: datetime) -> None:
    now = utc_now()
    with writing(engine) as conn:
        changed = conn.execute(
            update(scheduler_heartbeats)
            .where(scheduler_heartbeats.c.worker == worker)
            .values(beat_at=now)
        ).rowcount
        if not changed:
            host, _, pid = worker.rpartition(":")
            conn.execute(
                insert(scheduler_heartbeats).values(
                    worker=worker, host=host, pid=int(pid), started_at=started_at, beat_at=now
                )
            )


def forget(engine: Engine, worker: str) -> None:
    with writing(engine) as conn:
        conn.execute(delete(scheduler_heartbeats).where(scheduler_heartbeats.c.worker == worker))


@dataclass
class Health:
    healthy: bool = True
    checks: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append({"check": name, "ok": ok, "detail": detail})
        self.healthy = self.healthy and ok

    def as_json(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "checks": self.checks}


def check_health(engine: Engine, scheduler_host: str | None, max_age: timedelta) -> Health:
    """The store answers and has the current schema; with `scheduler_host` ("*" for any host),
    a scheduler there beat within `max_age`."""
    health = Health()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = schema_is_current(engine)
    except SQLAlchemyError as exc:
        health.add("store", False, f"cannot reach the store: {type(exc).__name__}")
        return health
    health.add("store", current, "reachable" + ("" if current else "; schema is not current"))
    if scheduler_host is not None:
        _check_heartbeat(engine, scheduler_host, max_age, health)
    return health


def _check_heartbeat(engine: Engine, host: str, max_age: timedelta, health: Health) -> None:
    query = select(func.max(scheduler_heartbeats.c.beat_at))
    if host != "*":
        query = query.where(scheduler_heartbeats.c.host == host)
    with engine.connect() as conn:
        newest = conn.execute(query).scalar()
    where = "any host" if host == "*" else host
    if newest is None:
        health.add("scheduler", False, f"no scheduler heartbeat from {where}")
        return
    age = (utc_now() - as_utc(newest)).total_seconds()
    fresh = age <= max_age.total_seconds()
    health.add("scheduler", fresh, f"last heartbeat from {where} {age:.0f}s ago")
