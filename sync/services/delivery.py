"""Delivering queued email now (SPEC §6), for the entry points that deliver after acting: the
scheduler's delivery timer, an approval in the console. The outbox and its transports are the
mail adapter's; this is the door to them."""

from __future__ import annotations

from sqlalchemy import Engine

from sync.config.settings import Settings
from sync.mail.deliver import DeliveryReport, deliver_due, failed_counts

__all__ = ["DeliveryReport", "deliver_now", "failed_by_run"]


def deliver_now(settings: Settings, engine: Engine, wait_seconds: float = 0) -> DeliveryReport:
    """Every message that is due; `wait_seconds` for another worker's delivery to end."""
    return deliver_due(engine, settings, wait_seconds=wait_seconds)


def failed_by_run(engine: Engine, tenant_id: str | None = None) -> dict[str, dict[str, int]]:
    """Messages given up on, by tenant and then by the run that queued them."""
    return failed_counts(engine, tenant_id)
