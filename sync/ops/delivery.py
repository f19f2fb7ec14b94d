"""Delivering the outbox with a progress bar on a terminal.

`deliver_due` takes the store's delivery lock itself, so two workers never send one message
twice; this only counts the messages a transport accepts, for the bar.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message

from sqlalchemy import Engine

from sync.config.settings import MailSettings, Settings
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


FAILURES_SHOWN = 20  # per-message lines `deliver` prints; `deliver --json` has them all
STOPPED_SAID = {
    "setup": "delivery stopped, fix the mail settings (no message spent an attempt)",
    "throttled": "the server is throttling; the rest waits for the next delivery",
    "unreachable": "the server is unreachable; the rest waits for the next delivery",
}


def worth_saying(delivery: DeliveryReport) -> bool:
    """Whether `sync` prints the delivery: something was tried, or nothing could be."""
    return bool(delivery.sent or delivery.failures or delivery.stopped)


def delivery_exit(delivery: DeliveryReport) -> int:
    """`deliver`'s exit status (docs/accounts_and_email.md): 1 when a message failed for good in
    this pass, or delivery could not go on (unreachable server, a setup error); 0 otherwise,
    also when a throttling server or a temporary refusal left mail waiting for its back-off."""
    if delivery.failed or delivery.stopped in ("setup", "unreachable"):
        return 1
    return 0


def summary_line(delivery: DeliveryReport) -> str:
    """One line, however many messages there are: this pass's counts, every message still
    pending, and why the pass ended early."""
    line = (
        f"email: {delivery.sent} delivered, {delivery.failed} failed, "
        f"{delivery.retrying} to retry, {delivery.pending} pending in all"
    )
    if delivery.stopped:
        line += f"; {STOPPED_SAID[delivery.stopped]}: {shown(delivery.stopped_error or '')}"
    return line


def delivery_text(delivery: DeliveryReport) -> str:
    """What `sync` and `deliver` print. Stored values (addresses, a server's words) are shown
    escaped: a line break in one cannot forge a line of this output."""
    lines = [summary_line(delivery)]
    lines += [
        f"  ! {shown(f['to'])} ({shown(f['kind'])}, attempt {f['attempts']}"
        f"{', failed' if f['final'] else ''}): {shown(f['error'] or '')}"
        for f in delivery.failures[:FAILURES_SHOWN]
    ]
    if len(delivery.failures) > FAILURES_SHOWN:
        more = len(delivery.failures) - FAILURES_SHOWN
        lines.append(f"  … and {more} more refused (`deliver --json` lists them)")
    if delivery.skipped_locked:
        lines.append("  another worker is delivering; nothing sent by this one")
    if delivery.failed_total:
        lines.append(
            f"  {delivery.failed_total} emails failed for good (`deliver --json` lists them)"
        )
    return "\n".join(lines)


def shown(value: str) -> str:
    """The value as is when every character prints; else quoted with its control and format
    characters escaped (repr), so nothing in it can start a new line or reorder the text."""
    return value if value.isprintable() else repr(value)
