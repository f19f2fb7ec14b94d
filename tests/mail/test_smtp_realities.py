"""What real servers do (issues 13 and 18), against aiosmtpd on both stores: SMTPUTF8 offered or
not, a throttling server (450 4.7.1 after N messages, or 421), a refused recipient, a server
stopped mid-delivery. Each test asserts what the server received and what the outbox holds."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

from sync.timeutil import as_utc, utc_now
from tests.mail.conftest import MailWorkspace, StartServer
from tests.mail.smtp_server import Sink, free_port, throttle_after
from tests.support.configs import person, write_users

INTERNATIONAL = "ユーザー@例え.jp"


def _international_first(ws: MailWorkspace) -> None:
    """Tenant `acme` with the internationalised address queued first, and a second tenant whose
    mail comes after it in the queue."""
    ws.users([person(0, primary_email=INTERNATIONAL), *(person(n) for n in range(1, 4))])
    ws.tenant["account_name_source"] = "employee_code"
    other = ws.root / "other.csv"
    write_users(other, [person(n, source_id=f"o-{n}") for n in range(7, 9)], "utf-8")
    ws.extra_tenants = [{**ws.tenant, "id": "other", "source": {"kind": "csv", "path": str(other)}}]


def _statuses(ws: MailWorkspace) -> dict[str, tuple[str, int]]:
    return {r.to_address: (r.status, r.attempts) for r in ws.outbox_rows()}


def test_an_international_address_goes_with_smtputf8(
    mail_ws: MailWorkspace, smtp: StartServer
) -> None:
    server = smtp(smtputf8=True)
    _international_first(mail_ws)
    mail_ws.use(server)
    assert mail_ws.cli("sync", "--all").code == 0  # both tenants queue, then one delivery
    by_to = {r.rcpt_tos[0]: r for r in server.sink.received}
    assert sorted(by_to) == sorted(
        [INTERNATIONAL, *(f"user{n}@example.com" for n in (1, 2, 3, 7, 8))]
    )
    utf8 = by_to[INTERNATIONAL]
    assert "SMTPUTF8" in utf8.mail_options
    assert f"To: {INTERNATIONAL}\r\n".encode() in utf8.header_block  # raw UTF-8, not encoded
    assert "アカウントが作成されました" in utf8.text()
    assert "SMTPUTF8" not in by_to["user1@example.com"].mail_options  # plain mail stays plain
    assert {status for status, _ in _statuses(mail_ws).values()} == {"sent"}


def test_without_smtputf8_the_international_address_fails_alone(
    mail_ws: MailWorkspace, smtp: StartServer
) -> None:
    server = smtp(smtputf8=False)
    _international_first(mail_ws)
    mail_ws.use(server)
    result = mail_ws.cli("sync", "--all")  # both tenants queue, then one delivery
    assert result.code == 0  # sync succeeds: the runs did their work
    assert "email: 5 delivered, 1 failed, 0 to retry, 0 pending in all" in result.out
    assert sorted(r.rcpt_tos[0] for r in server.sink.received) == [
        f"user{n}@example.com" for n in (1, 2, 3, 7, 8)
    ]
    statuses = _statuses(mail_ws)
    assert statuses.pop(INTERNATIONAL) == ("failed", 1)
    assert set(statuses.values()) == {("sent", 1)}
    failed = mail_ws.outbox_rows()[0]
    assert failed.token is None and "does not offer SMTPUTF8" in failed.last_error
    listed = mail_ws.cli("deliver", "--json")
    assert listed.code == 0  # nothing failed in this pass
    assert json.loads(listed.out)["failed_messages"][0]["to"] == INTERNATIONAL


def test_a_refused_recipient_fails_alone_with_the_servers_words(
    mail_ws: MailWorkspace, smtp: StartServer
) -> None:
    no_such_user = "550 5.1.1 <user2@example.com>: Recipient address rejected: no such user here"
    server = smtp(sink=Sink(on_rcpt=lambda a: no_such_user if a.startswith("user2@") else None))
    mail_ws.use(server)
    sync = mail_ws.cli("sync", "--tenant", "acme")
    assert sync.code == 0
    assert sorted(r.rcpt_tos[0] for r in server.sink.received) == [
        f"user{n}@example.com" for n in (1, 3, 4, 5)
    ]
    words = "550 5.1.1 <user2@example.com>: Recipient address rejected: no such user here"
    row = next(r for r in mail_ws.outbox_rows() if r.status != "sent")
    assert (row.to_address, row.status, row.attempts) == ("user2@example.com", "failed", 1)
    assert row.last_error == f"server refused the recipient: {words}"
    assert "email: 4 delivered, 1 failed, 0 to retry, 0 pending in all" in sync.out
    assert "  ! user2@example.com (account_created, attempt 1, failed): " in sync.out
    assert words in sync.out
    listed = json.loads(mail_ws.cli("deliver", "--json").out)
    assert listed["failed_messages"][0]["error"] == row.last_error


def test_a_throttling_server_ends_the_batch_and_only_the_refused_message_waits(
    mail_ws: MailWorkspace, smtp: StartServer
) -> None:
    server = smtp(sink=Sink(on_data=throttle_after(2)))
    mail_ws.use(server, retry_base_seconds=3600)
    before = utc_now()
    result = mail_ws.cli("sync", "--tenant", "acme")
    assert result.code == 0
    assert len(server.sink.received) == 2 and len(server.sink.refused) == 1  # no more was tried
    rows = mail_ws.outbox_rows()
    assert [(r.status, r.attempts) for r in rows] == [
        ("sent", 1), ("sent", 1), ("pending", 1), ("pending", 0), ("pending", 0),
    ]  # fmt: skip
    refused = rows[2]
    assert refused.last_error == (
        "server refused the message: 450 4.7.1 Error: too much mail from 127.0.0.1"
    )
    # its back-off is never shorter than the configured base; the others are due as they were
    assert as_utc(refused.next_attempt_at) - before >= timedelta(seconds=3600)
    assert all(r.last_error is None and as_utc(r.next_attempt_at) <= utc_now() for r in rows[3:])
    assert (
        "email: 2 delivered, 0 failed, 1 to retry, 3 pending in all; the server is throttling"
        in (result.out)
    )
    assert result.out.count("\n  ! ") == 1  # one line for the refused message, none for the rest
    # still throttling: the next pass tries the next due message once and stops again
    again = mail_ws.cli("deliver", "--json")
    assert again.code == 0  # throttling is the server's normal way; not a failure
    data = json.loads(again.out)
    assert (data["sent"], data["retrying"], data["pending"], data["stopped"]) == (
        0, 1, 3, "throttled",
    )  # fmt: skip
    assert [(r.status, r.attempts) for r in mail_ws.outbox_rows()][2:] == [
        ("pending", 1), ("pending", 1), ("pending", 0),
    ]  # fmt: skip
    server.sink.on_data = None
    assert mail_ws.deliver("--flush")["sent"] == 3
    assert sorted(server.sink.per_message_id().values()) == [1] * 5
    assert {(r.status, r.token) for r in mail_ws.outbox_rows()} == {("sent", None)}


def test_a_421_ends_the_batch_and_the_rest_waits_without_spending_attempts(
    mail_ws: MailWorkspace, smtp: StartServer
) -> None:
    server = smtp(sink=Sink(on_data=throttle_after(1, "421 4.7.0 Too many connections, later")))
    mail_ws.use(server)
    mail_ws.sync()
    assert len(server.sink.received) == 1 and len(server.sink.refused) == 1
    rows = mail_ws.outbox_rows()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("pending", 1)] + [
        ("pending", 0)
    ] * 3
    assert "421 4.7.0 Too many connections, later" in rows[1].last_error
    server.sink.on_data = None
    assert mail_ws.deliver("--flush")["sent"] == 4
    assert len({r.peer for r in server.sink.received}) == 2  # a new connection after the 421
    assert sorted(server.sink.per_message_id().values()) == [1] * 5


def test_a_server_stopped_mid_delivery_leaves_honest_counts(
    mail_ws: MailWorkspace, smtp: StartServer
) -> None:
    """The server stops while a batch is on its way: the worker says how many are pending in
    all (not this batch), in one line, spends no attempt on the messages it did not try, and
    `deliver` exits 1 while the server is down."""
    port = free_port()
    mail_ws.users([person(n) for n in range(1, 13)])

    def stop_at_third(envelope: Any) -> str | None:
        if len(server.sink.received) == 2:
            threading.Thread(target=server.stop).start()
        return None

    server = smtp(port=port, sink=Sink(on_data=stop_at_third))
    mail_ws.use(server, batch_size=5)
    result = mail_ws.cli("sync", "--tenant", "acme")
    assert result.code == 0  # sync succeeds: only mail is pending
    rows = mail_ws.outbox_rows()
    sent = sum(r.status == "sent" for r in rows)
    pending = [r for r in rows if r.status == "pending"]
    assert sent in (2, 3) and len(pending) == 12 - sent  # the third may or may not be recorded
    assert sum(r.attempts for r in pending) <= 1  # at most the message in flight spent one
    retrying = sum(r.attempts for r in pending)
    email = [line for line in result.out.splitlines() if line.startswith("email:")]
    assert email == [
        f"email: {sent} delivered, 0 failed, {retrying} to retry, {len(pending)} pending in all; "
        f"the server is unreachable; the rest waits for the next delivery: "
        f"cannot reach SMTP server 127.0.0.1:{port}: [Errno 111] Connection refused"
    ]
    assert result.out.count("\n  ! ") == retrying  # a line for the message in flight, no more
    down = mail_ws.cli("deliver", "--flush")
    assert down.code == 1
    assert down.out.splitlines() == [
        f"email: 0 delivered, 0 failed, 0 to retry, {len(pending)} pending in all; "
        f"the server is unreachable; the rest waits for the next delivery: "
        f"cannot reach SMTP server 127.0.0.1:{port}: [Errno 111] Connection refused"
    ]
    assert [r.attempts for r in mail_ws.outbox_rows()] == [r.attempts for r in rows]
    back = smtp(port=port)
    assert mail_ws.deliver("--flush")["sent"] == len(pending)
    counts = server.sink.per_message_id() + back.sink.per_message_id()
    assert sorted(counts[r.message_id] for r in rows).count(1) >= 11  # at most one twice
    assert {r.status for r in mail_ws.outbox_rows()} == {"sent"}


def test_a_reset_link_to_a_down_server_says_why_it_waits(
    mail_ws: MailWorkspace, smtp: StartServer
) -> None:
    server = smtp()
    mail_ws.use(server)
    mail_ws.sync()
    server.stop()
    result = mail_ws.admin("reset-password", "user1")
    assert result.code == 0
    assert result.out.strip() == (
        "acme: reset link for user1 to user1@example.com: queued, not sent yet (cannot reach "
        f"SMTP server 127.0.0.1:{server.mail['smtp_port']}: [Errno 111] Connection refused); "
        "`deliver` retries it"
    )
    assert [(r.status, r.attempts) for r in mail_ws.outbox_rows()][-1] == ("pending", 0)
