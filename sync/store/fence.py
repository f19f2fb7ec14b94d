"""Fencing (SPEC §15): the PostgreSQL sessions of a worker deemed dead, found by their
application_name and ended. A worker process names every session it opens
(`clomo-sync worker HOST:PID:TOKEN`); while a fleet job holds a lock, the lock's session adds the
job's Procrastinate worker id (` jID`, sync.store.locks.JOB_TAG). From a dead worker id, the
tagged sessions give the process's name, and every session of that process is ended."""

from __future__ import annotations

from sqlalchemy import Connection, text

PREFIX = "clomo-sync worker "


def job_tag(worker_id: int) -> str:
    return f"j{worker_id}"


def processes_of(conn: Connection, worker_ids: list[int]) -> list[str]:
    """The names of the worker processes whose sessions carry one of these job tags."""
    tags = [f" {job_tag(w)}" for w in worker_ids]
    rows = conn.execute(
        text(
            "SELECT DISTINCT application_name, tag "
            "FROM pg_stat_activity, unnest(CAST(:tags AS text[])) AS tag "
            "WHERE application_name LIKE :prefix AND right(application_name, length(tag)) = tag"
        ),
        {"tags": tags, "prefix": PREFIX + "%"},
    ).all()
    return sorted({str(name)[: -len(str(tag))].split(" j")[0] for name, tag in rows})


def end_sessions(conn: Connection, process: str) -> int:
    """Ends every session of the process (waiting up to 5 s for each to go): how many."""
    ended = conn.execute(
        text(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) "
            "FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND (application_name = :name OR application_name LIKE :tagged)"
        ),
        {"name": process, "tagged": process.replace("%", r"\%").replace("_", r"\_") + " j%"},
    ).scalar_one()
    return int(ended)
