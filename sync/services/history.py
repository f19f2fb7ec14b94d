"""Past runs as people look them up (SPEC §7, §14): one run by any unique prefix of eight or
more characters of its id, with every account change it made."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from sync.errors import UsageError
from sync.model.ids import id_prefix, the_one
from sync.store.audit import run_events
from sync.store.runs import ids_starting, run_report


def tenant_run(
    engine: Engine, tenant_id: str, run_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """One run of this tenant by its whole id, with its events; None for another tenant's run
    as for an unknown one."""
    with engine.connect() as conn:
        report = run_report(conn, run_id)
        if report is None or report.get("tenant") != tenant_id:
            return None
        return report, run_events(conn, run_id)


def run_with_events(engine: Engine, typed: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's report and the audit events it wrote."""
    with engine.connect() as conn:
        run_id = the_one(typed, ids_starting(conn, id_prefix(typed, "run")), "run", "runs list")
        report = run_report(conn, run_id)
        if report is None:
            raise UsageError(f"no run {typed!r} (see `clomo-sync runs list`)")
        return report, run_events(conn, run_id)
