"""Delivering queued email after commit (SPEC §6).

Each message is marked sent in its own transaction right after the transport accepted it, and its
token is erased from the stored copy then. A failure is retried on a later delivery, after a
back-off with jitter (tenacity's wait strategy); after `max_attempts` the message is `failed`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from tenacity import RetryCallState, wait_random_exponential

from sync.config import MailSettings, Settings
from sync.mail.render import Letter, RenderError, render
from sync.mail.transport import DeliveryFailed, FileTransport, Transport
from sync.store.schema import outbox
from sync.timeutil import utc_now

MAX_BACKOFF = timedelta(hours=6)


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "failures": self.failures,
        }


def open_transport(mail: MailSettings) -> Transport:
    if mail.delivery == "smtp":
        from sync.mail.smtp import SmtpTransport

        return SmtpTransport(mail)
    return FileTransport(mail.outbox_dir)


def deliver_due(
    engine: Engine,
    settings: Settings,
    *,
    flush: bool = False,
    transport_factory: Callable[[MailSettings], Transport] = open_transport,
) -> DeliveryReport:
    """Sends every pending message that is due (every pending one with `flush`)."""
    report = DeliveryReport()
    rows = _due(engine, flush)
    if not rows:
        return report
    transport = transport_factory(settings.mail)
    try:
        for row in rows:
            _deliver_one(engine, settings, transport, row, report)
    finally:
        transport.close()
    return report


def _due(engine: Engine, flush: bool) -> list[Any]:
    query = select(outbox).where(outbox.c.status == "pending").order_by(outbox.c.id)
    if not flush:
        query = query.where(outbox.c.next_attempt_at <= utc_now())
    with engine.connect() as conn:
        return list(conn.execute(query))


def _deliver_one(
    engine: Engine, settings: Settings, transport: Transport, row: Any, report: DeliveryReport
) -> None:
    try:
        message = render(_letter(settings, row), settings.mail.from_address)
        transport.send(message)
    except (DeliveryFailed, RenderError, LookupError) as exc:
        permanent = not isinstance(exc, DeliveryFailed) or exc.permanent
        _record_failure(engine, settings.mail, row, str(exc), permanent, report)
        return
    with engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == row.id)
            .values(
                status="sent",
                sent_at=utc_now(),
                attempts=row.attempts + 1,
                token=None,
                last_error=None,
            )
        )
    report.sent += 1


def _letter(settings: Settings, row: Any) -> Letter:
    tenant = next((t for t in settings.tenants if t.id == row.tenant_id), None)
    if tenant is None:
        raise LookupError(f"tenant {row.tenant_id!r} is no longer configured")
    return Letter(
        row.kind,
        row.to_address,
        row.message_id,
        row.params,
        row.token,
        tenant.reset_url,
        tenant.token_ttl_hours,
        tenant.templates_dir,
    )


def _record_failure(
    engine: Engine,
    mail: MailSettings,
    row: Any,
    error: str,
    permanent: bool,
    report: DeliveryReport,
) -> None:
    attempts = row.attempts + 1
    final = permanent or attempts >= mail.max_attempts
    values: dict[str, Any] = {"attempts": attempts, "last_error": error[:2000]}
    if final:
        values.update(status="failed", token=None)
        report.failed += 1
    else:
        values["next_attempt_at"] = utc_now() + backoff(attempts, mail.retry_base_seconds)
        report.retrying += 1
    report.failures.append(
        {
            "id": row.id,
            "tenant": row.tenant_id,
            "kind": row.kind,
            "to": row.to_address,
            "attempts": attempts,
            "error": error,
            "final": final,
        }
    )
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == row.id).values(**values))


def backoff(attempts: int, base_seconds: float) -> timedelta:
    """Exponential back-off with full jitter, capped: the wait before attempt `attempts + 1`."""
    wait = wait_random_exponential(multiplier=base_seconds, max=MAX_BACKOFF.total_seconds())
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempts
    return timedelta(seconds=wait(state))


def pending_counts(engine: Engine) -> dict[str, int]:
    from sqlalchemy import func

    query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
    with engine.connect() as conn:
        return {status: int(n) for status, n in conn.execute(query)}
