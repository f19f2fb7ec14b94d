"""A real SMTP server for the browser tests: aiosmtpd on 127.0.0.1, recording what it accepts."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.web.conftest import link_in, parse_email


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Mailbox:
    """The handler: every accepted message, by recipient, with a way to wait for one."""

    messages: list[tuple[str, EmailMessage]] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = parse_email(envelope.original_content or envelope.content)
        with self._arrived:
            for rcpt in envelope.rcpt_tos:
                self.messages.append((rcpt, message))
            self._arrived.notify_all()
        return "250 OK"

    def link_to(self, address: str, seen: int = 0, timeout: float = 10) -> str:
        """The reset link of the next message to `address` after the first `seen` of them."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.to(address)) > seen, timeout)
            received = self.to(address)
        assert len(received) > seen, f"no email to {address} arrived within {timeout} s"
        return link_in(received[seen])

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpt, message in self.messages if rcpt == address]


class SmtpServer:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._controller.stop()
