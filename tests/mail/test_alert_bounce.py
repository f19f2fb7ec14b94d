"""SPEC §15 (issue 23, bad input): an overdue alert goes to each address as its own message, so
an address the server refuses fails alone and the others are told."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from sync.config.settings import load_settings
from sync.services.watch import watch_pass
from sync.store.schema import tenant_watch
from sync.timeutil import utc_now
from tests.mail.conftest import MailWorkspace, StartServer
from tests.mail.smtp_server import Sink
from tests.support.configs import table

BOUNCE = "550 5.1.1 <gone@example.com>: Recipient address rejected: no such user here"


def test_an_alert_address_that_bounces_does_not_stop_the_others(
    mail_ws: MailWorkspace, smtp: StartServer
) -> None:
    server = smtp(sink=Sink(on_rcpt=lambda a: BOUNCE if a.startswith("gone@") else None))
    mail_ws.use(server)
    mail_ws.configure(schedule="*/5 * * * *", alert_emails=["gone@example.com", "it@example.com"])
    with mail_ws.config.open("a", encoding="utf-8") as handle:
        handle.write("\n" + table("[fleet]", {"operator_emails": ["ops@example.com"]}))
    assert mail_ws.cli("sync", "--tenant", "acme").code == 0
    invited = len(server.sink.received)

    with mail_ws.engine.begin() as conn:  # its runs stopped: two ticks and the limit went by
        conn.execute(update(tenant_watch).values(overdue_at=utc_now() - timedelta(minutes=1)))
    assert watch_pass(load_settings(mail_ws.config), mail_ws.engine) == ["acme"]
    mail_ws.deliver(code=1)  # a message failed for good in this pass: exit 1

    told = sorted(r.rcpt_tos[0] for r in server.sink.received[invited:])
    assert told == ["it@example.com", "ops@example.com"]
    failed = [(r.to_address, r.status) for r in mail_ws.outbox_rows() if r.status == "failed"]
    assert failed == [("gone@example.com", "failed")]
