"""Alerts (SPEC §10): a tenant's `alert_emails` hear when its runs start failing or being
blocked, and when they succeed again: state changes, not every run. They go through the outbox
in the run's own transaction, so each is sent exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sync.mail.queue import Notice
from sync.model import RunStatus
from sync.model.report import RunReport

if TYPE_CHECKING:
    from sync.config.settings import TenantSettings

TROUBLE = frozenset({RunStatus.FAILED, RunStatus.BLOCKED})
KIND = "run_alert"


def alert_due(previous: str | None, current: str) -> bool:
    """Whether the change from the last recorded run's status to this one is news."""
    if current in TROUBLE:
        return previous not in TROUBLE
    return current == RunStatus.SUCCEEDED and previous in TROUBLE


def alerts_for(tenant: TenantSettings, report: RunReport, previous: str | None) -> Iterator[Notice]:
    if not tenant.alert_emails or not alert_due(previous, report.status):
        return
    params = {
        "tenant": tenant.id,
        "run_id": report.run_id,
        "status": str(report.status),
        "previous": previous or "none",
        "finished_at": report.finished_at.isoformat() if report.finished_at else "",
        "error": report.error,
        "held": report.held,
    }
    for address in tenant.alert_emails:
        yield Notice(None, KIND, address, params, with_token=False)
