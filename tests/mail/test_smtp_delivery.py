"""Email reaches a real SMTP server exactly once, over every security mode, with a working link."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from sync.services.resets import TokenHolder, TokenRefused, check_token, redeem_token
from sync.store.engine import writing
from sync.timeutil import utc_now
from tests.mail.conftest import MailWorkspace, StartServer, token_in
from tests.mail.smtp_server import USER, Certificates, SmtpServer

ADDRESSES = [f"user{n}@example.com" for n in range(1, 6)]


def test_every_email_arrives_once_with_a_link_that_works_once(
    mail_ws: MailWorkspace, server: SmtpServer
) -> None:
    mail_ws.use(server)
    report = mail_ws.sync()
    assert report["counts"]["emails_queued"] == 5 and report["exit"] == 0
    received = server.sink.received
    assert sorted(r.rcpt_tos[0] for r in received) == ADDRESSES
    assert all(len(r.rcpt_tos) == 1 and r.mail_from == "noreply@clomo.example" for r in received)
    assert set(server.sink.per_message_id().values()) == {1}
    assert {r.message_id for r in received} == {row.message_id for row in mail_ws.outbox_rows()}
    first = received[0].message
    assert first["From"].addresses[0].display_name == "CLOMO 管理"
    assert first["Date"] and first.get_content_type() == "multipart/alternative"
    assert "アカウントが作成されました" in received[0].text() and "Dear" in received[0].text()
    # delivered copies hold no usable token; nothing is sent again
    assert {(row.status, row.token) for row in mail_ws.outbox_rows()} == {("sent", None)}
    assert mail_ws.sync()["counts"]["emails_queued"] == 0
    assert mail_ws.deliver("--flush")["sent"] == 0 and len(received) == 5
    for message in received:  # each link works once and only once
        _redeem_once(mail_ws, token_in(message))


def _redeem_once(ws: MailWorkspace, token: str) -> None:
    now = utc_now()
    with writing(ws.engine) as conn:
        holder = check_token(conn, token, now)
        assert isinstance(holder, TokenHolder)
        assert redeem_token(conn, token, "Fresh-pass-7", now) == holder
    with writing(ws.engine) as conn:
        assert redeem_token(conn, token, "Other-pass-8", now) == TokenRefused("used")
        assert check_token(conn, token + "x", now) == TokenRefused("unknown")
    assert ws.show(holder.account_name)["password_set"] is True


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_modes_with_login(
    lite_ws: MailWorkspace, smtp: StartServer, certificates: Certificates, security: str
) -> None:
    server = smtp(security=security, certificates=certificates, auth=True)
    lite_ws.use(server)
    assert lite_ws.sync()["counts"]["emails_queued"] == 5
    assert sorted(r.rcpt_tos[0] for r in server.sink.received) == ADDRESSES
    assert {r.login for r in server.sink.received} == {USER.encode()}
    assert len({r.peer for r in server.sink.received}) == 1  # one connection for the batch


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("wrong password", "refused the login of 'mailer': 535 5.7.8 Authentication credentials"),
        ("untrusted certificate", "its TLS certificate is not trusted"),
        ("no STARTTLS offered", "STARTTLS extension not supported by server"),
    ],
)
def test_a_server_we_cannot_use_fails_fast_and_keeps_every_message_pending(
    mail_ws: MailWorkspace,
    smtp: StartServer,
    certificates: Certificates,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    error: str,
) -> None:
    """A setting retrying cannot fix: one clear line, exit 1 from `deliver`, and the messages
    stay pending without spending an attempt (they go once the setting is fixed)."""
    if case == "wrong password":
        server = smtp(security="starttls", certificates=certificates, auth=True)
        monkeypatch.setenv("CLOMO_TEST_SMTP_PASSWORD", "not-the-password")
        mail_ws.use(server)
    elif case == "untrusted certificate":
        server = smtp(security="tls", certificates=certificates)
        mail_ws.use(server, ca_file=None)
    else:
        server = smtp()
        mail_ws.use(server, security="starttls")
    assert mail_ws.sync()["exit"] == 0  # the run did its work; only mail is pending
    result = mail_ws.cli("deliver")
    assert result.code == 1
    [line] = result.out.splitlines()
    assert line.startswith(
        "email: 0 delivered, 0 failed, 0 to retry, 5 pending in all; delivery stopped, fix the "
        "mail settings (no message spent an attempt): SMTP server 127.0.0.1:"
    )
    assert error in line and "not-the-password" not in line, line
    assert server.sink.received == []
    rows = mail_ws.outbox_rows()
    assert [(r.status, r.attempts, r.last_error) for r in rows] == [("pending", 0, None)] * 5
    assert all(row.token for row in rows)
    data = mail_ws.deliver(code=1)
    assert data["stopped"] == "setup" and error in data["stopped_error"]


def test_sender_can_be_set_per_tenant_and_templates_overridden(
    lite_ws: MailWorkspace, server: SmtpServer
) -> None:
    folder = lite_ws.root / "templates"
    folder.mkdir()
    (folder / "account_created.subject.j2").write_text("Welcome {{ account_name }}\n", "utf-8")
    lite_ws.use(server)
    lite_ws.configure(from_address="Acme IT <it@acme.example>", templates_dir=str(folder))
    lite_ws.sync()
    received = server.sink.received
    assert {r.mail_from for r in received} == {"it@acme.example"}
    assert sorted(str(r.message["Subject"]) for r in received) == [
        f"Welcome user{n}" for n in range(1, 6)
    ]
    assert all(r.message_id.endswith("@acme.example>") for r in received)
    assert (
        "アカウントが作成されました" in received[0].text()
    )  # the other templates are the defaults


def test_expired_and_superseded_tokens_are_refused(
    lite_ws: MailWorkspace, server: SmtpServer
) -> None:
    lite_ws.use(server)
    lite_ws.sync()
    first = token_in(server.sink.received[0])
    name = server.sink.received[0].rcpt_tos[0].split("@")[0]
    later = utc_now() + timedelta(hours=72, seconds=1)
    with lite_ws.engine.connect() as conn:
        assert check_token(conn, first, later) == TokenRefused("expired")
    result = lite_ws.admin("reset-password", name)
    assert result.code == 0 and result.out.strip().endswith("sent"), result
    second = token_in(server.sink.received[-1])
    assert server.sink.received[-1].message["Subject"] and second != first
    with lite_ws.engine.connect() as conn:
        assert check_token(conn, first, utc_now()) == TokenRefused("superseded")
        assert isinstance(check_token(conn, second, utc_now()), TokenHolder)
    assert "パスワード再設定" in server.sink.received[-1].text()
    assert json.loads(lite_ws.cli("deliver", "--json").out)["sent"] == 0
