"""Delivering the outbox from one worker at a time.

Two workers delivering at once would both read the same pending messages and send each twice
(the file transport rewrites one file, but SMTP really sends twice), so delivery takes the store's
`outbox` lock. A scheduler skips its delivery job when another worker holds the lock (its own
next tick catches up); a one-off command waits for it.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message

from sqlalchemy import Engine

from sync.config import MailSettings, Settings
from sync.mail.deliver import DeliveryReport, deliver_due, open_transport, pending_counts
from sync.mail.transport import Transport
from sync.ops import progress
from sync.store.locks import named_lock

OUTBOX_LOCK = "outbox"


class _Counting:
    """A transport that advances a progress bar for each message it accepts."""

    def __init__(self, inner: Transport, advance: Callable[[int], object]) -> None:
        self.inner, self.advance = inner, advance

    def send(self, message: Message) -> None:
        self.inner.send(message)
        self.advance(1)

    def close(self) -> None:
        self.inner.close()


def deliver_exclusively(
    engine: Engine, settings: Settings, *, flush: bool = False, wait_seconds: float = 0
) -> DeliveryReport | None:
    """Delivers what is due; None when another worker kept the outbox for `wait_seconds`."""
    with named_lock(engine, OUTBOX_LOCK, wait_seconds) as held:
        if not held:
            return None
        total = pending_counts(engine).get("pending", 0) if progress.active() else None
        with progress.bar("delivering email", total=total, unit="emails") as advance:

            def factory(mail: MailSettings) -> Transport:
                return _Counting(open_transport(mail), advance)

            return deliver_due(engine, settings, flush=flush, transport_factory=factory)
