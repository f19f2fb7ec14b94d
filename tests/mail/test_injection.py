"""User-supplied values never add or split a header, never add a recipient, and are escaped in
HTML. Asserted on the bytes and the envelope the SMTP server received."""

from __future__ import annotations

import json

from sqlalchemy import insert, select

from sync.store.engine import writing
from sync.store.schema import outbox
from sync.timeutil import utc_now
from tests.mail.conftest import MailWorkspace
from tests.mail.smtp_server import Received, SmtpServer
from tests.support.configs import person

INJECTION = "\r\nBcc: someone@example.net"


def _no_injection(received: list[Received], addresses: list[str]) -> None:
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(addresses)
    for message in received:
        assert message.rcpt_tos == [message.message["To"].addresses[0].addr_spec]
        headers = message.header_block.lower()
        assert b"\r\nbcc:" not in headers and not headers.startswith(b"bcc:")
        assert b"someone@example.net" not in headers
        assert message.message["Bcc"] is None


def test_display_name_with_a_header_is_neither_header_nor_recipient(
    lite_ws: MailWorkspace, server: SmtpServer
) -> None:
    lite_ws.users(
        [
            person(1, display_name="Taro" + INJECTION),
            person(2, display_name='<script>alert("x")</script> & Co'),
        ]
    )
    lite_ws.use(server)
    lite_ws.sync()
    _no_injection(server.sink.received, ["user1@example.com", "user2@example.com"])
    by_to = {r.rcpt_tos[0]: r for r in server.sink.received}
    taro = by_to["user1@example.com"]
    assert "Taro  Bcc: someone@example.net 様" in taro.text()  # kept as text, on one line
    html = by_to["user2@example.com"].html()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html
    # a reset and a rename by an administrator carry the same display name
    assert lite_ws.admin("reset-password", "user1").code == 0
    assert lite_ws.admin("edit", "user1", "--rename", "taro").code == 0
    _no_injection(server.sink.received[2:], ["user1@example.com"] * 2)


def test_injection_through_the_command_line_is_refused(
    lite_ws: MailWorkspace, server: SmtpServer
) -> None:
    lite_ws.use(server)
    lite_ws.sync()
    before = lite_ws.show("user1")
    outbox_before = len(lite_ws.outbox_rows())
    attempts = [
        ("edit", "user1", "--memo", "note" + INJECTION),
        ("edit", "user1", "--rename", "boss" + INJECTION),
        ("edit", "user1", "--role", "custom_admin", "--scheme", "ops" + INJECTION),
        ("reset-password", "user1", "--email", "user1@example.com" + INJECTION),
        ("reset-password", "user1", "--email", "someone@example.net"),
    ]
    for attempt in attempts:
        result = lite_ws.admin(*attempt)
        assert result.code == 2, (attempt, result)
        assert result.err.startswith("error: ") and "\r" not in result.err, result.err
    assert lite_ws.show("user1") == before
    assert len(lite_ws.outbox_rows()) == outbox_before
    assert lite_ws.admin("reset-password", "user1", "--email", "USER1@example.com").code == 0
    _no_injection(
        server.sink.received,
        [f"user{n}@example.com" for n in range(1, 6)] * 1 + ["user1@example.com"],
    )
    shown = json.dumps(lite_ws.show("user1"))
    assert "someone@example.net" not in shown


SNEAKY = "Taro\u0085Bcc: x\u2028Yamada \u202egnp.exe\u202c\u2066\x9b\u200bJr"


def test_controls_and_format_characters_never_reach_a_message(
    mail_ws: MailWorkspace, server: SmtpServer
) -> None:
    """C0, C1 (U+0085 NEXT LINE), U+2028, bidi controls (U+202E) and zero-width characters of a
    display name reach neither the subject nor the text nor the HTML; the name still reads."""
    folder = mail_ws.root / "templates"
    folder.mkdir()
    (folder / "account_created.subject.j2").write_text("Welcome {{ display_name }}\n", "utf-8")
    mail_ws.users([person(1, display_name=SNEAKY)])
    mail_ws.use(server)
    mail_ws.configure(templates_dir=str(folder))
    mail_ws.sync()
    [received] = server.sink.received
    cleaned = "Taro Bcc: x Yamada gnp.exe Jr"
    subject = str(received.message["Subject"])
    assert subject == f"Welcome {cleaned}"
    assert f"{cleaned} 様" in received.text() and f"{cleaned} 様" in received.html()
    for part in (subject, received.text(), received.html()):
        assert not any(ch in part for ch in "\u0085\u2028\u202e\u202c\u2066\x9b\u200b")
    _no_injection(server.sink.received, ["user1@example.com"])


def test_deliver_output_escapes_stored_values(mail_ws: MailWorkspace, server: SmtpServer) -> None:
    """A recipient stored with a line break (by an older version, or by hand) is failed alone and
    shown escaped: it cannot forge a line of `deliver`'s output."""
    mail_ws.use(server)
    mail_ws.sync()
    forged = "user1@example.com\r\n  ! user9@example.com (account_created, attempt 1): fine"
    with writing(mail_ws.engine) as conn:
        row = conn.execute(select(outbox).order_by(outbox.c.id)).first()
        assert row is not None
        values = {**row._mapping, "message_id": "<forged@clomo.example>", "status": "pending"}
        values.update(to_address=forged, token="t" * 43, attempts=0, next_attempt_at=utc_now())
        del values["id"]
        conn.execute(insert(outbox).values(**values))
        # and one whose template needs a link it has no token for
        values.update(message_id="<linkless@clomo.example>", token=None)
        values["to_address"] = "user2@example.com"
        conn.execute(insert(outbox).values(**values))
    result = mail_ws.cli("deliver")
    assert result.code == 1  # they failed for good in this pass
    lines = result.out.splitlines()
    assert lines[0] == "email: 0 delivered, 2 failed, 0 to retry, 0 pending in all"
    assert lines[1] == (
        f"  ! {forged!r} (account_created, attempt 1, failed): "
        f"{forged!r} is not a plain email address"
    )
    assert lines[2] == (
        "  ! user2@example.com (account_created, attempt 1, failed): template "
        "account_created.txt.j2: UndefinedError: 'link' is undefined"
    )
    assert len(lines) == 4 and "user9" not in lines[3]
    assert len(server.sink.received) == 5  # nothing went to the forged address
