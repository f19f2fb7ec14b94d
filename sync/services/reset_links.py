"""Sending one reset link now (SPEC §6): the use case behind `accounts reset-password`, the
console's "send reset link" and the forgotten-password page. The email is queued in its own
transaction, then that one message is delivered at once; the caller learns how it went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from sync.config.settings import Settings, TenantSettings
from sync.mail.deliver import deliver_due
from sync.mail.queue import message_domain
from sync.model.actor import Actor
from sync.model.enums import OutboxStatus
from sync.services.resets import ResetQueued, request_reset
from sync.store.engine import writing
from sync.store.outbox import message as outbox_message


@dataclass(frozen=True, slots=True)
class ResetSent:
    queued: ResetQueued
    status: str  # the message's outbox status: sent | pending | failed
    error: str | None  # the server's refusal of it, or why the delivery ended before it


def send_reset_link(
    settings: Settings,
    engine: Engine,
    tenant: TenantSettings,
    name: str,
    address: str | None,
    *,
    actor: Actor,
    now: datetime,
    wait_seconds: float,
) -> ResetSent:
    """Queues a password_reset email to `address` (the primary one when None) and delivers that
    message now. Refused (changing nothing) when the account may not get a link."""
    with writing(engine) as conn:
        queued = request_reset(conn, tenant, name, address, now=now,
                               domain=message_domain(settings, tenant), actor=actor)  # fmt: skip
    delivery = deliver_due(engine, settings, flush=True, only=[queued.outbox_id],
                           wait_seconds=wait_seconds)  # fmt: skip
    with engine.connect() as conn:
        row = outbox_message(conn, queued.outbox_id)
    error = row["last_error"] or delivery.stopped_error
    if row["status"] == OutboxStatus.PENDING and error is None:
        error = "another worker is delivering"
    return ResetSent(queued, str(row["status"]), error)
