"""Prometheus text-format metrics for the node exporter's textfile collector.

Batch jobs cannot be scraped, so the convention is a `.prom` file rewritten after each run: written
to a temporary file in the same folder and renamed over the old one, so the collector never reads
half a file (https://github.com/prometheus/node_exporter#textfile-collector). Every figure comes
from the store, so any worker, `sync` or `scheduler`, writes the same complete picture.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row

from sync.config.settings import Settings
from sync.model import RunStatus
from sync.model.report import COUNT_KEYS
from sync.store import outbox as store_outbox
from sync.store import runs as store_runs
from sync.store.watch import watches
from sync.timeutil import as_utc, utc_now

RECORDED_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.BLOCKED)
OUTCOMES = tuple(k for k in COUNT_KEYS if k != "emails_queued")
HISTORY = 100  # runs looked at to count consecutive failures


@dataclass
class Family:
    name: str
    kind: str  # gauge | counter
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, value))


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        lines += [f"# HELP {family.name} {family.help}", f"# TYPE {family.name} {family.kind}"]
        for labels, value in family.samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(
                f"{family.name}{{{text}}} {value!r}" if text else f"{family.name} {value!r}"
            )
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def collect(engine: Engine, settings: Settings) -> list[Family]:
    f = {
        "success": Family(
            "clomo_sync_last_success_timestamp_seconds",
            "gauge",
            "When the tenant's last succeeded run finished (Unix time).",
        ),
        "last": Family(
            "clomo_sync_last_run_timestamp_seconds", "gauge", "When the tenant's last run finished."
        ),
        "duration": Family(
            "clomo_sync_last_run_duration_seconds", "gauge", "How long the tenant's last run took."
        ),
        "status": Family(
            "clomo_sync_last_run_status", "gauge", "1 for the status of the tenant's last run."
        ),
        "outcome": Family(
            "clomo_sync_last_run_accounts",
            "gauge",
            "Accounts by outcome in the tenant's last run.",
        ),
        "read": Family(
            "clomo_sync_last_run_users_read", "gauge", "Users read from the source in the last run."
        ),
        "queued": Family(
            "clomo_sync_last_run_emails_queued", "gauge", "Emails the last run queued."
        ),
        "age": Family(
            "clomo_sync_last_success_age_seconds",
            "gauge",
            "Seconds since the tenant's last succeeded run finished.",
        ),
        "runs": Family("clomo_sync_runs_total", "counter", "Recorded runs by final status."),
        "failing": Family(
            "clomo_sync_consecutive_failures", "gauge", "Failed runs since the last that was not."
        ),
        "emails": Family(
            "clomo_sync_emails", "gauge", "Emails in the outbox waiting (pending) or given up on."
        ),
    }
    with engine.connect() as conn:
        emails = _email_counts(conn)
        for tenant in settings.tenants:
            _tenant_metrics(conn, tenant.id, f)
            for status in ("pending", "failed"):
                f["emails"].add(emails.get((tenant.id, status), 0), tenant=tenant.id, status=status)
        fleet = queue_families(conn, settings)
        watched = watch_families(conn, {tenant.id for tenant in settings.tenants})
    stamp = Family("clomo_sync_metrics_timestamp_seconds", "gauge", "When this file was written.")
    stamp.add(utc_now().timestamp())
    return [*f.values(), *fleet, *watched, stamp]


def watch_families(conn: Connection, tenant_ids: set[str]) -> list[Family]:
    """SPEC §15: when each tenant's last run ended, and whether it is overdue now."""
    finished = Family(
        "clomo_sync_tenant_last_finished_timestamp",
        "gauge",
        "When the tenant's last run ended (succeeded, blocked or failed).",
    )
    overdue = Family(
        "clomo_sync_tenant_overdue",
        "gauge",
        "1 when no run of the tenant ended for two of its ticks and the run time limit.",
    )
    now = utc_now()
    for w in watches(conn):
        if w.tenant_id not in tenant_ids:
            continue
        if w.last_ended_at is not None:
            finished.add(w.last_ended_at.timestamp(), tenant=w.tenant_id)
        late = w.overdue_since is not None or w.overdue_at <= now
        overdue.add(1 if late else 0, tenant=w.tenant_id)
    return [finished, overdue]


def queue_families(conn: Connection, settings: Settings) -> list[Family]:
    """The fleet's queue (PostgreSQL with the worker's job schema): workers, depth, lag."""
    from datetime import timedelta

    from sync.store.queue_stats import has_queue, queue_stats

    if not has_queue(conn):
        return []
    stats = queue_stats(conn, timedelta(seconds=settings.fleet.stalled_after_seconds))
    workers = Family("clomo_sync_workers", "gauge", "Fleet workers with a fresh heartbeat.")
    workers.add(stats.workers)
    depth = Family("clomo_sync_queue_runs", "gauge", "Tenant runs in the queue by state.")
    depth.add(stats.queued, state="queued")
    depth.add(stats.running, state="running")
    lag = Family(
        "clomo_sync_queue_lag_seconds", "gauge", "How late the oldest due tenant's run is."
    )
    lag.add(stats.lag_seconds)
    return [workers, depth, lag]


def _tenant_metrics(conn: Connection, tenant_id: str, f: dict[str, Family]) -> None:
    counts = store_runs.status_counts(conn, tenant_id)
    for status in RECORDED_STATUSES:
        f["runs"].add(int(counts.get(status, 0)), tenant=tenant_id, status=status)
    recent = store_runs.recent_runs(conn, tenant_id, HISTORY)
    failing = next((i for i, row in enumerate(recent) if row.status != "failed"), len(recent))
    f["failing"].add(failing, tenant=tenant_id)
    succeeded = next((row for row in recent if row.status == "succeeded"), None)
    finished = succeeded.finished_at if succeeded else store_runs.last_success(conn, tenant_id)
    if finished is not None:
        f["success"].add(as_utc(finished).timestamp(), tenant=tenant_id)
        age = (utc_now() - as_utc(finished)).total_seconds()
        f["age"].add(max(0.0, age), tenant=tenant_id)
    if recent:
        _last_run(recent[0], tenant_id, f)


def _last_run(row: Row[Any], tenant_id: str, f: dict[str, Family]) -> None:
    started, finished = as_utc(row.started_at), as_utc(row.finished_at)
    f["last"].add(finished.timestamp(), tenant=tenant_id)
    f["duration"].add((finished - started).total_seconds(), tenant=tenant_id)
    for status in RECORDED_STATUSES:
        f["status"].add(1 if status == row.status else 0, tenant=tenant_id, status=status)
    report = json.loads(row.report)
    for outcome in OUTCOMES:
        f["outcome"].add(report["counts"].get(outcome, 0), tenant=tenant_id, outcome=outcome)
    f["queued"].add(report["counts"].get("emails_queued", 0), tenant=tenant_id)
    f["read"].add(report["source"].get("users_read", 0), tenant=tenant_id)


def _email_counts(conn: Connection) -> dict[tuple[str, str], int]:
    return store_outbox.tenant_status_counts(conn)


def write_metrics(path: Path, engine: Engine, settings: Settings) -> None:
    """Collects and writes the file atomically (readable by the collector: mode 0644)."""
    text = render(collect(engine, settings))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
