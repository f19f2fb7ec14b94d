"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, plain, STARTTLS or implicit TLS,
with or without required authentication, recording exactly the bytes it accepted."""

from __future__ import annotations

import socket
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.certs import make_server_tls

USER, PASSWORD = "mailer", "s3cret-Mailer"


@dataclass(frozen=True)
class Received:
    peer: tuple[str, int]  # one port per connection
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes  # exactly what came after DATA
    login: bytes | None
    mail_options: list[str] = field(default_factory=list)  # SMTPUTF8, BODY=8BITMIME

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def header_block(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[0]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]

    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


# what the server answers: None accepts, else an SMTP reply such as "451 4.3.0 later", or DROP
Reply = Callable[[Any], str | None]
DROP = "drop the connection"


@dataclass
class Sink:
    """The handler: accepts and records messages unless `on_rcpt`/`on_data` answer otherwise."""

    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # replies given instead of accepting
    on_rcpt: Callable[[str], str | None] | None = None
    on_data: Reply | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.on_rcpt(address) if self.on_rcpt else None
        if reply:
            self.refused.append(reply)
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.on_data(envelope) if self.on_data else None
        if reply == DROP:  # the connection breaks before any answer to the data
            self.refused.append(reply)
            server.transport.close()
            return "451 4.3.0 never seen by the client"
        if reply:
            self.refused.append(reply)
            return reply
        self.received.append(
            Received(
                tuple(session.peer),
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                getattr(session.auth_data, "login", None),
                list(envelope.mail_options),
            )
        )
        return "250 2.0.0 accepted"

    def per_message_id(self) -> Counter[str]:
        return Counter(r.message_id for r in self.received)


def throttle_after(
    accepted: int, reply: str = "450 4.7.1 Error: too much mail from 127.0.0.1"
) -> Reply:
    """An `on_data` that accepts `accepted` messages, then answers `reply` to every further one
    (as Postfix's smtpd_client_message_rate_limit does). With a "421 ..." reply the client
    closes the connection, as RFC 5321 has it."""
    count = [0]

    def on_data(envelope: Any) -> str | None:
        count[0] += 1
        return reply if count[0] > accepted else None

    return on_data


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(folder: Path) -> Certificates:
    """A test CA and a server certificate for 127.0.0.1 and localhost signed by it."""
    files = make_server_tls(folder)
    return Certificates(files.ca_cert, files.cert, files.key)


@dataclass
class SmtpServer:
    """One running server; `mail` is the [mail] table that reaches it."""

    sink: Sink
    controller: Controller
    mail: dict[str, Any]

    stopped: bool = False

    def stop(self) -> None:
        """Stops the server (once: a test may stop it itself, mid-delivery)."""
        if not self.stopped:
            self.stopped = True
            self.controller.stop()


def start_server(
    sink: Sink,
    port: int,
    security: str = "none",
    certificates: Certificates | None = None,
    auth: bool = False,
    smtputf8: bool = False,
) -> SmtpServer:
    """Starts aiosmtpd; `security` as the client's mail.security: none, starttls or tls;
    `smtputf8` offers SMTPUTF8 (as Postfix does by default)."""
    kwargs: dict[str, Any] = {"enable_SMTPUTF8": smtputf8}
    mail: dict[str, Any] = {
        "delivery": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": security,
        "timeout_seconds": 5,
    }
    if security != "none":
        assert certificates is not None
        mail["ca_file"] = str(certificates.ca_file)
        context = certificates.server_context()
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs["ssl_context"] = context
    if auth:
        # aiosmtpd offers AUTH only over STARTTLS unless told otherwise; implicit TLS is TLS too
        kwargs.update(
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=security == "starttls",
        )
        mail.update(username=USER, password_env="CLOMO_TEST_SMTP_PASSWORD")
    controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return SmtpServer(sink, controller, mail)
