"""User-supplied values never add or split a header, never add a recipient, and are escaped in
HTML. Asserted on the bytes and the envelope the SMTP server received."""

from __future__ import annotations

import json

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
