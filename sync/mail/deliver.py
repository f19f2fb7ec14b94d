"""Delivering queued email after commit (SPEC §6).

Each message is marked sent in its own transaction right after the transport accepted it, and its
token is erased from the stored copy then. The only way a message reaches a server twice is a crash
(or a lost store) between the server's acceptance and that commit; it is then sent once more, with
the same Message-ID. One worker delivers at a time (a named lock), so two deliverers never pick the
same message.

A failure is retried on a later delivery, after a back-off with jitter (tenacity's wait strategy);
after `max_attempts` the message is `failed`. Messages go in batches of `mail.batch_size`, one
connection per batch; a server that cannot be reached defers the rest of the batch and ends the
pass, instead of costing one connection timeout per message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update
from tenacity import RetryCallState, wait_random_exponential

from sync.config import MailSettings, Settings
from sync.mail.render import Letter, RenderError, render
from sync.mail.transport import DeliveryFailed, FileTransport, Transport
from sync.store.engine import writing
from sync.store.locks import named_lock
from sync.store.schema import outbox
from sync.timeutil import as_utc, utc_now

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
FAILED_SHOWN = 100  # the newest failed messages `deliver --json` lists
DELIVER_LOCK = "__deliver__"


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    skipped_locked: bool = False  # another worker was delivering
    failed_total: int = 0  # every message marked failed so far, not only in this pass
    failed_messages: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "failures": self.failures,
            "skipped_locked": self.skipped_locked,
            "failed_total": self.failed_total,
            "failed_messages": self.failed_messages,
        }


def open_transport(mail: MailSettings) -> Transport:
    if mail.delivery == "smtp":
        from sync.mail.smtp import SmtpTransport

        return SmtpTransport(mail)
    return FileTransport(mail.outbox_dir)


TransportFactory = Callable[[MailSettings], Transport]


def deliver_due(
    engine: Engine,
    settings: Settings,
    *,
    flush: bool = False,
    transport_factory: TransportFactory = open_transport,
    wait_seconds: float = 0,
    only: Collection[int] | None = None,
) -> DeliveryReport:
    """Sends every pending message that is due (every pending one with `flush`); with `only`,
    just those outbox rows: a reset link someone is waiting for, not a backlog."""
    report = DeliveryReport()
    with named_lock(engine, DELIVER_LOCK, wait_seconds) as held:
        if held:
            _deliver_batches(engine, settings, flush, transport_factory, report, only)
        else:
            report.skipped_locked = True
    report.failed_total, report.failed_messages = failed_messages(engine)
    return report


def _deliver_batches(
    engine: Engine,
    settings: Settings,
    flush: bool,
    transport_factory: TransportFactory,
    report: DeliveryReport,
    only: Collection[int] | None = None,
) -> None:
    now, after, size = utc_now(), 0, settings.mail.batch_size
    while rows := _due(engine, None if flush else now, after, size, only):
        if not _deliver_batch(engine, settings, rows, transport_factory, report):
            return
        after = rows[-1].id


def _due(
    engine: Engine, now: datetime | None, after: int, limit: int, only: Collection[int] | None
) -> list[Any]:
    query = (
        select(outbox)
        .where(outbox.c.status == "pending", outbox.c.id > after)
        .order_by(outbox.c.id)
        .limit(limit)
    )
    if now is not None:
        query = query.where(outbox.c.next_attempt_at <= now)
    if only is not None:
        query = query.where(outbox.c.id.in_(list(only)))
    with engine.connect() as conn:
        return list(conn.execute(query))


def _deliver_batch(
    engine: Engine,
    settings: Settings,
    rows: Sequence[Any],
    transport_factory: TransportFactory,
    report: DeliveryReport,
) -> bool:
    """One connection for the batch; False when the server could not be reached."""
    try:
        transport = transport_factory(settings.mail)
    except DeliveryFailed as exc:
        _defer(engine, settings.mail, rows, str(exc), report)
        return False
    try:
        for index, row in enumerate(rows):
            unreachable = _deliver_one(engine, settings, transport, row, report)
            if unreachable is not None:
                _defer(engine, settings.mail, rows[index:], unreachable, report)
                return False
    finally:
        transport.close()
    return True


def _deliver_one(
    engine: Engine, settings: Settings, transport: Transport, row: Any, report: DeliveryReport
) -> str | None:
    """Sends one message and records the outcome; returns the error when the server cannot be
    reached at all (then nothing is recorded: the caller defers the rest of the batch)."""
    if not any(t.id == row.tenant_id for t in settings.tenants):
        # a worker that does not know the tenant (yet) leaves its mail pending, tokens intact
        log.warning("email %s: tenant %r is unknown here; left pending", row.id, row.tenant_id)
        return None
    try:
        letter, sender = _letter(settings, row)
        transport.send(render(letter, sender))
    except DeliveryFailed as exc:
        if exc.unreachable:
            return str(exc)
        _record_failure(engine, settings.mail, row, str(exc), exc.permanent, report)
        return None
    except (RenderError, LookupError) as exc:
        _record_failure(engine, settings.mail, row, str(exc), True, report)
        return None
    # accepted: commit at once, the crash window is this one statement
    with writing(engine) as conn:
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
    return None


def _letter(settings: Settings, row: Any) -> tuple[Letter, str]:
    """The letter and the sender: the tenant's `from_address`, else mail.from_address."""
    tenant = next((t for t in settings.tenants if t.id == row.tenant_id), None)
    if tenant is None:
        raise LookupError(f"tenant {row.tenant_id!r} is no longer configured")
    letter = Letter(
        row.kind,
        row.to_address,
        row.message_id,
        row.params,
        row.token,
        tenant.reset_url,
        tenant.token_ttl_hours,
        tenant.templates_dir,
    )
    return letter, tenant.from_address or settings.mail.from_address


def _defer(
    engine: Engine, mail: MailSettings, rows: Sequence[Any], error: str, report: DeliveryReport
) -> None:
    """The server is unreachable: each message counts an attempt and waits its back-off."""
    for row in rows:
        _record_failure(engine, mail, row, error, False, report)


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
    report.failures.append(_describe(row, attempts, error, final))
    with writing(engine) as conn:
        conn.execute(update(outbox).where(outbox.c.id == row.id).values(**values))


def _describe(row: Any, attempts: int, error: str | None, final: bool) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant": row.tenant_id,
        "kind": row.kind,
        "to": row.to_address,
        "message_id": row.message_id,
        "attempts": attempts,
        "error": error,
        "final": final,
    }


def backoff(attempts: int, base_seconds: float) -> timedelta:
    """Exponential back-off with full jitter, capped: the wait before attempt `attempts + 1`."""
    wait = wait_random_exponential(multiplier=base_seconds, max=MAX_BACKOFF.total_seconds())
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempts
    return timedelta(seconds=wait(state))


def failed_messages(
    engine: Engine, tenant_id: str | None = None, limit: int = FAILED_SHOWN
) -> tuple[int, list[dict[str, Any]]]:
    """(how many messages are marked failed, the newest `limit` of them)."""
    where = [outbox.c.status == "failed"]
    if tenant_id is not None:
        where.append(outbox.c.tenant_id == tenant_id)
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).where(*where)).scalar_one())
        rows = list(
            conn.execute(select(outbox).where(*where).order_by(outbox.c.id.desc()).limit(limit))
        )
    shown = [
        {
            **_describe(row, row.attempts, row.last_error, True),
            "queued_at": as_utc(row.created_at).isoformat(),
        }
        for row in rows
    ]
    return total, shown


def failed_counts(engine: Engine, tenant_id: str | None = None) -> dict[str, dict[str, int]]:
    """Failed messages by tenant, then by run id ("" for those no run queued: reset links and
    renames by an administrator)."""
    query = (
        select(outbox.c.tenant_id, outbox.c.run_id, func.count())
        .where(outbox.c.status == "failed")
        .group_by(outbox.c.tenant_id, outbox.c.run_id)
    )
    if tenant_id is not None:
        query = query.where(outbox.c.tenant_id == tenant_id)
    counts: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for tenant, run_id, n in conn.execute(query):
            counts.setdefault(tenant, {})[run_id or ""] = int(n)
    return counts


def pending_counts(engine: Engine) -> dict[str, int]:
    query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
    with engine.connect() as conn:
        return {status: int(n) for status, n in conn.execute(query)}
