"""Delivering the outbox with a progress bar on a terminal.

`deliver_due` takes the store's delivery lock itself, so two workers never send one message
twice; this only counts the messages a transport accepts, for the bar.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message

from sqlalchemy import Engine

from sync.config import MailSettings, Settings
from sync.mail.deliver import DeliveryReport, deliver_due, open_transport, pending_counts
from sync.mail.transport import Transport
from sync.ops import progress


class _Counting:
    """A transport that advances a progress bar for each message it accepts."""

    def __init__(self, inner: Transport, advance: Callable[[int], object]) -> None:
        self.inner, self.advance = inner, advance

    def send(self, message: Message) -> None:
        self.inner.send(message)
        self.advance(1)

    def close(self) -> None:
        self.inner.close()


def deliver_shown(engine: Engine, settings: Settings, *, flush: bool = False) -> DeliveryReport:
    """`deliver_due`, with a bar of the messages sent when one is shown."""
    if not progress.active():
        return deliver_due(engine, settings, flush=flush)
    total = pending_counts(engine).get("pending", 0)
    with progress.bar("delivering email", total=total, unit="emails") as advance:

        def factory(mail: MailSettings) -> Transport:
            return _Counting(open_transport(mail), advance)

        return deliver_due(engine, settings, flush=flush, transport_factory=factory)
