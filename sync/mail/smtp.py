"""SMTP delivery: one connection reused for a batch; `none`, `starttls` or implicit `tls`.

What a reply means (docs/accounts_and_email.md, "SMTP settings"):
- a 5xx to one message (its sender, recipient or data): that message fails alone, for good;
- any other 4xx to one message, or a connection lost while sending it: that message is retried
  later, the next one goes over a new connection;
- `421`, or a 4xx that says a rate or connection limit (enhanced status 4.7.x): the server is
  throttling, `ServerThrottled` ends the pass; only the refused message spends an attempt;
- a server that cannot be reached: `ServerUnreachable` ends the pass;
- no STARTTLS offered, login refused (5xx), a certificate not trusted: `MailSetupError`, which
  retrying cannot help; the messages stay pending and spend no attempt.
The server's own words (code, enhanced status, text) are kept in every error.

The envelope is built from the message's own From and To only (never Cc/Bcc headers), so even a
header that somehow slipped in could not add a recipient. An internationalised address goes with
the SMTPUTF8 option when the server offers it, and fails alone (for good) when it does not.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import Message
from email.utils import parseaddr

from sync.config.secrets import read_secret
from sync.config.settings import MailSettings
from sync.errors import (
    DeliveryFailed,
    MailError,
    MailSetupError,
    ServerThrottled,
    ServerUnreachable,
    StopRun,
)
from sync.mail.transport import flatten, needs_utf8

# "450 4.7.1 Error: too much mail from 192.0.2.1" (Postfix's smtpd_client_message_rate_limit),
# "451 4.7.0 Temporary rate limit", "452 4.7.0 too many connections"
THROTTLING = re.compile(
    r"^4\.7\.\d{1,3}\b|\brate limit|\btoo much mail\b|\btoo many (?:connections|messages|sessions)",
    re.IGNORECASE,
)


class SmtpTransport:
    def __init__(self, mail: MailSettings) -> None:
        self.mail = mail
        self._client: smtplib.SMTP | None = None

    def send(self, message: Message) -> None:
        client = self._connected()
        sender = parseaddr(str(message["From"]))[1]
        recipient = str(message["To"])
        try:
            if needs_utf8(message):
                _send_international(client, message, sender, recipient)
            else:
                client.send_message(message, sender, [recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise self._refusal(code, text, "refused the recipient") from None
        except smtplib.SMTPResponseException as exc:  # the sender or the data refused
            raise self._refusal(exc.smtp_code, exc.smtp_error, "refused the message") from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryFailed(f"SMTP connection lost: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (smtplib.SMTPException, OSError):
                self._client.close()
            self._client = None

    def _refusal(self, code: int, reply: bytes | str, what: str) -> MailError:
        text = f"server {what}: {code} {_text(reply)}".strip()
        if code == 421 or (400 <= code < 500 and THROTTLING.search(_text(reply))):
            self.close()  # a throttling server: this connection sends nothing more
            return ServerThrottled(text, tried=True)
        return DeliveryFailed(text, permanent=code >= 500)

    def _connected(self) -> smtplib.SMTP:
        # smtplib drops the socket itself after a 421 or a broken pipe: connect again then
        if self._client is not None and getattr(self._client, "sock", None) is None:
            self._client = None
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> smtplib.SMTP:
        mail = self.mail
        where = f"SMTP server {mail.smtp_host}:{mail.smtp_port}"
        password = _password(mail)
        client: smtplib.SMTP | None = None
        try:
            client = self._open()
            if mail.username and password is not None:
                client.login(mail.username, password)
            client.ehlo_or_helo_if_needed()  # its extensions (SMTPUTF8) are known from here on
            return client
        except smtplib.SMTPAuthenticationError as exc:
            _discard(client)
            said = f"{where} refused the login of {mail.username!r}: {_reply(exc)}"
            if exc.smtp_code >= 500:
                raise MailSetupError(said) from None
            raise ServerUnreachable(said) from None
        except smtplib.SMTPNotSupportedError as exc:  # STARTTLS or AUTH not offered
            _discard(client)
            raise MailSetupError(f"{where}: {exc}") from None
        except ssl.SSLCertVerificationError as exc:
            _discard(client)
            raise MailSetupError(
                f"{where}: its TLS certificate is not trusted ({exc.verify_message}); "
                "set mail.ca_file to the CA that signed it"
            ) from None
        except smtplib.SMTPResponseException as exc:  # the greeting or EHLO refused
            _discard(client)
            said = f"{where} refused the connection: {_reply(exc)}"
            if exc.smtp_code >= 500:
                raise MailSetupError(said) from None
            raise ServerUnreachable(said) from None
        except (smtplib.SMTPException, OSError) as exc:
            _discard(client)
            raise ServerUnreachable(f"cannot reach {where}: {exc}") from None

    def _open(self) -> smtplib.SMTP:
        mail = self.mail
        context = ssl.create_default_context(cafile=str(mail.ca_file) if mail.ca_file else None)
        if mail.security == "tls":
            return smtplib.SMTP_SSL(
                mail.smtp_host, mail.smtp_port, timeout=mail.timeout_seconds, context=context
            )
        client = smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=mail.timeout_seconds)
        if mail.security == "starttls":
            try:
                client.starttls(context=context)
            except BaseException:
                _discard(client)
                raise
        return client


def _send_international(
    client: smtplib.SMTP, message: Message, sender: str, recipient: str
) -> None:
    """RFC 6531: the envelope and the headers carry the address raw, in UTF-8."""
    if not client.has_extn("smtputf8"):
        needing = " and ".join(repr(a) for a in (sender, recipient) if not a.isascii())
        raise DeliveryFailed(
            f"{needing} is an internationalised address and the server does not offer "
            "SMTPUTF8, which it needs",
            permanent=True,
        )
    options = ["SMTPUTF8", *(["BODY=8BITMIME"] if client.has_extn("8bitmime") else [])]
    client.sendmail(sender, [recipient], flatten(message, "\r\n"), mail_options=options)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}".strip()


def _text(reply: bytes | str) -> str:
    """A server's reply for a message to the administrator: one line, bounded."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:300]


def _discard(client: smtplib.SMTP | None) -> None:
    if client is not None:
        client.close()


def _password(mail: MailSettings) -> str | None:
    try:
        return read_secret("mail.password", mail.password_env, mail.password_file)
    except StopRun as exc:
        raise MailSetupError(str(exc)) from None
