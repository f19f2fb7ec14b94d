"""The queue as `health` and `/metrics` see it: workers seen, queue depth, lag of the oldest
due tenant. Read from Procrastinate's tables (and the dispatcher's) with plain SQL, never written:
its public API lists jobs one by one (`list_jobs`) or counts them per queue (`list_queues`), while
`health` and `/metrics` need a count per task and the oldest waiting tick in one cheap query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, inspect, text

from sync.store.dispatch import oldest_due
from sync.store.queue import JOBS
from sync.timeutil import as_utc, utc_now


@dataclass(frozen=True)
class QueueStats:
    workers: int  # workers that beat within the stalled timeout
    queued: int  # runs waiting
    running: int
    oldest_due: datetime | None  # the oldest tick not yet started (queued or not dispatched)
    now: datetime

    @property
    def lag_seconds(self) -> float:
        if self.oldest_due is None:
            return 0.0
        return max(0.0, (self.now - self.oldest_due).total_seconds())


def has_queue(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql" and inspect(conn).has_table(JOBS)


def queue_stats(conn: Connection, stalled_after: timedelta) -> QueueStats:
    now = utc_now()
    workers = conn.execute(
        text("SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > :since"),
        {"since": now - stalled_after},
    ).scalar_one()
    depth: dict[str, int] = dict(
        conn.execute(
            text(
                "SELECT status::text, count(*) FROM procrastinate_jobs "
                "WHERE task_name = 'sync_tenant' AND status IN ('todo', 'doing') GROUP BY 1"
            )
        ).all()
    )
    waiting = conn.execute(
        text(
            "SELECT min((args->>'due_at')::timestamptz) FROM procrastinate_jobs "
            "WHERE task_name = 'sync_tenant' AND status = 'todo'"
        )
    ).scalar()
    undispatched = oldest_due(conn)
    candidates = [as_utc(waiting)] if waiting is not None else []
    if undispatched is not None and undispatched <= now:
        candidates.append(undispatched)
    return QueueStats(
        int(workers),
        int(depth.get("todo", 0)),
        int(depth.get("doing", 0)),
        min(candidates) if candidates else None,
        now,
    )
