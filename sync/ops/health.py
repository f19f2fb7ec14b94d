"""`clomo-sync health`: the store answers with the current schema; on a fleet (PostgreSQL with
the job queue) also the workers seen, the queue depth and the oldest due tenant's lag."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from sync.store.engine import ping, schema_is_current
from sync.store.watch import watches
from sync.timeutil import utc_now

SHOWN = 20  # overdue tenants named in the text; --json lists them all


@dataclass
class Health:
    healthy: bool = True
    checks: list[dict[str, Any]] = field(default_factory=list)
    queue: dict[str, Any] | None = None
    overdue: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append({"check": name, "ok": ok, "detail": detail})
        self.healthy = self.healthy and ok

    def as_json(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "checks": self.checks, "queue": self.queue,
                "overdue": self.overdue}  # fmt: skip


def check_health(
    engine: Engine,
    stalled_after: timedelta,
    min_workers: int = 0,
    max_lag: float | None = None,
    fail_on_overdue: bool = False,
) -> Health:
    from sync.store.queue_stats import has_queue, queue_stats

    health = Health()
    try:
        with engine.connect() as conn:
            ping(conn)
            stats = queue_stats(conn, stalled_after) if has_queue(conn) else None
        current = schema_is_current(engine)
        if current:
            with engine.connect() as conn:
                health.overdue = _overdue(conn)
    except SQLAlchemyError as exc:
        health.add("store", False, f"cannot reach the store: {type(exc).__name__}")
        return health
    health.add("store", current, "reachable" + ("" if current else "; schema is not current"))
    _say_overdue(health, fail_on_overdue)
    if stats is None:
        if min_workers:
            health.add("workers", False, "no fleet queue in this store (PostgreSQL only)")
        return health
    health.queue = {
        "workers": stats.workers,
        "queued": stats.queued,
        "running": stats.running,
        "lag_seconds": round(stats.lag_seconds, 1),
        "oldest_due": stats.oldest_due.isoformat() if stats.oldest_due else None,
    }
    health.add(
        "workers", stats.workers >= min_workers, f"{stats.workers} seen (at least {min_workers})"
    )
    ok = max_lag is None or stats.lag_seconds <= max_lag
    health.add(
        "queue",
        ok,
        f"{stats.queued} queued, {stats.running} running, oldest due tenant "
        f"{stats.lag_seconds:.0f}s late" + ("" if max_lag is None else f" (at most {max_lag:g}s)"),
    )
    return health


def _overdue(conn: Connection) -> list[dict[str, Any]]:
    """Tenants past the moment they became overdue (SPEC §15), marked by a watch pass or not
    (a deployment without a long-running process has none)."""
    now = utc_now()
    return [
        {
            "tenant": w.tenant_id,
            "last_ended_at": w.last_ended_at.isoformat() if w.last_ended_at else None,
            "overdue_since": (w.overdue_since or w.overdue_at).isoformat(),
        }
        for w in watches(conn)
        if w.overdue_since is not None or w.overdue_at <= now
    ]


def _say_overdue(health: Health, fail_on_overdue: bool) -> None:
    names = [o["tenant"] for o in health.overdue]
    shown = ", ".join(names[:SHOWN]) + (
        f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    )
    detail = f"{len(names)} overdue: {shown}" if names else "no tenant overdue"
    health.add("overdue", not (fail_on_overdue and names), detail)
