"""Delivering queued email after commit (SPEC §6).

Each message is marked sent in its own transaction right after the transport accepted it, and its
token is erased from the stored copy then. A store that goes away at that moment (restarted, the
session ended) is asked again on new connections for up to `RECORD_SENT_PATIENCE_SECONDS`, so a
restart does not send the message again. The only way a message reaches a server twice is a crash
between the server's acceptance and that commit (or a store away for longer, or another worker
delivering before the store came back); it is then sent once more, with the same Message-ID. One
worker delivers at a time (a named lock), so two deliverers never pick the same message.

Messages go in batches of `mail.batch_size`, one connection per batch. What the transport says
decides what happens (sync.errors):
- `DeliveryFailed`: this message alone was refused. Permanent (5xx, an address the server cannot
  take): it fails now. Otherwise it spends an attempt and waits its back-off (sync.retry.backoff,
  never less than `retry_base_seconds`); after `max_attempts` it fails. The next message goes on.
- `DeliveryStopped` (unreachable, throttling, a setup error): the pass ends at once. Only a
  message the server was given and refused spends an attempt; the others wait for the next
  delivery as they are, so a down or throttling server never uses up the queue's attempts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from sync.config.settings import MailSettings, Settings
from sync.errors import (
    DeliveryFailed,
    DeliveryStopped,
    MailSetupError,
    RenderError,
    ServerThrottled,
    ServerUnreachable,
)
from sync.mail.render import Letter, render
from sync.mail.transport import FileTransport, Transport
from sync.retry import backoff, retrying
from sync.store import outbox as store_outbox
from sync.store.engine import writing
from sync.store.locks import check_held, named_lock
from sync.timeutil import as_utc, utc_now

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 6 * 3600.0
FAILED_SHOWN = 100  # the newest failed messages `deliver --json` lists
DELIVER_LOCK = "__deliver__"
# how long a message the server accepted waits for the store to take its "sent" (a restart of
# PostgreSQL is seconds); what the store's driver raises while it is away
RECORD_SENT_PATIENCE_SECONDS = 60.0
STORE_AWAY = (OperationalError, InterfaceError, PoolTimeout)
STOP_REASONS: tuple[tuple[type[DeliveryStopped], str], ...] = (
    (MailSetupError, "setup"),
    (ServerThrottled, "throttled"),
    (ServerUnreachable, "unreachable"),
)


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0  # accepted in this pass
    retrying: int = 0  # refused for now in this pass: each waits its back-off
    failed: int = 0  # failed for good in this pass
    failures: list[dict[str, Any]] = field(default_factory=list)  # this pass's refusals
    skipped_locked: bool = False  # another worker was delivering
    failed_total: int = 0  # every message marked failed so far, not only in this pass
    failed_messages: list[dict[str, Any]] = field(default_factory=list)
    pending: int = 0  # every message still pending after this pass, due or waiting
    stopped: str | None = None  # why the pass ended early: setup | throttled | unreachable
    stopped_error: str | None = None  # and what the server or the setting said

    def as_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "pending": self.pending,
            "stopped": self.stopped,
            "stopped_error": self.stopped_error,
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
    report.pending = pending_total(engine)
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
        try:
            _deliver_batch(engine, settings, rows, transport_factory, report)
        except DeliveryStopped as exc:
            report.stopped = next(name for kind, name in STOP_REASONS if isinstance(exc, kind))
            report.stopped_error = str(exc)
            return
        after = rows[-1].id


def _due(
    engine: Engine, now: datetime | None, after: int, limit: int, only: Collection[int] | None
) -> list[Any]:
    with engine.connect() as conn:
        return store_outbox.due(conn, now, after, limit, only)


def _deliver_batch(
    engine: Engine,
    settings: Settings,
    rows: Sequence[Any],
    transport_factory: TransportFactory,
    report: DeliveryReport,
) -> None:
    """One connection for the batch; raises DeliveryStopped when no more can go now, after
    recording the refusal of a message the server was given."""
    transport = transport_factory(settings.mail)
    try:
        for row in rows:
            try:
                _deliver_one(engine, settings, transport, row, report)
            except DeliveryStopped as exc:
                if exc.tried:
                    _record_failure(engine, settings.mail, row, exc, report)
                raise
    finally:
        transport.close()


def _deliver_one(
    engine: Engine, settings: Settings, transport: Transport, row: Any, report: DeliveryReport
) -> None:
    """Sends one message and records the outcome (DeliveryStopped goes to the caller)."""
    if not any(t.id == row.tenant_id for t in settings.tenants):
        # a worker that does not know the tenant (yet) leaves its mail pending, tokens intact
        log.warning("email %s: tenant %r is unknown here; left pending", row.id, row.tenant_id)
        return
    check_held()  # a fenced worker that wakes sends nothing another worker may send too
    try:
        letter, sender = _letter(settings, row)
        transport.send(render(letter, sender))
    except (DeliveryFailed, RenderError) as exc:
        _record_failure(engine, settings.mail, row, exc, report)
        return
    _record_sent(engine, row)
    report.sent += 1


def _record_sent(engine: Engine, row: Any) -> None:
    """Accepted: committed at once, the crash window is this one statement. A store away at that
    moment is asked again (each try a new connection from the pool, which drops dead ones), so
    that the next delivery does not send the message again; marking it twice is harmless. (The
    retry loop is entered only after a failure: it costs a delivery of 10,000 messages a few
    tenths of a second.)"""
    try:
        _mark_sent(engine, row)
    except STORE_AWAY as exc:
        log.warning("email %s was accepted; recording it as sent: %s", row.id, exc)
        for attempt in retrying(
            budget_seconds=RECORD_SENT_PATIENCE_SECONDS,
            initial_seconds=0.2,
            longest_seconds=5.0,
            what=f"email {row.id} was accepted; recording it as sent",
            retry_on=STORE_AWAY,
        ):
            with attempt:
                _mark_sent(engine, row)


def _mark_sent(engine: Engine, row: Any) -> None:
    with writing(engine) as conn:
        store_outbox.mark_sent(conn, row.id, row.attempts + 1, utc_now())


def _letter(settings: Settings, row: Any) -> tuple[Letter, str]:
    """The letter and the sender: the tenant's `from_address`, else mail.from_address."""
    tenant = next((t for t in settings.tenants if t.id == row.tenant_id), None)
    if tenant is None:
        raise RenderError(f"tenant {row.tenant_id!r} is no longer configured")
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


def _record_failure(
    engine: Engine,
    mail: MailSettings,
    row: Any,
    exc: DeliveryFailed | RenderError | DeliveryStopped,
    report: DeliveryReport,
) -> None:
    """This message was refused: failed for good, or one attempt spent and a back-off to wait
    (never shorter than the retry base, nor than a hint the server gave)."""
    error = str(exc)
    attempts = row.attempts + 1
    permanent = isinstance(exc, RenderError) or (isinstance(exc, DeliveryFailed) and exc.permanent)
    final = permanent or attempts >= mail.max_attempts
    next_attempt_at = None
    if final:
        report.failed += 1
    else:
        asked = exc.retry_after if isinstance(exc, DeliveryStopped) else 0.0
        hint = max(mail.retry_base_seconds, asked)
        wait = backoff(attempts, mail.retry_base_seconds, MAX_BACKOFF_SECONDS, hint)
        next_attempt_at = utc_now() + wait
        report.retrying += 1
    report.failures.append(_describe(row, attempts, error, final))
    with writing(engine) as conn:
        store_outbox.mark_refused(conn, row.id, attempts, error, final=final,
                                  next_attempt_at=next_attempt_at)  # fmt: skip


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


def failed_messages(
    engine: Engine, tenant_id: str | None = None, limit: int = FAILED_SHOWN
) -> tuple[int, list[dict[str, Any]]]:
    """(how many messages are marked failed, the newest `limit` of them)."""
    with engine.connect() as conn:
        total, rows = store_outbox.failed(conn, tenant_id, limit)
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
    with engine.connect() as conn:
        return store_outbox.failed_by_run(conn, tenant_id)


def pending_total(engine: Engine) -> int:
    """Every message still pending, due or waiting (an index range: cheap after each delivery)."""
    with engine.connect() as conn:
        return store_outbox.pending_total(conn)


def pending_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return store_outbox.status_counts(conn)
