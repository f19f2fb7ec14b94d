"""SMTP delivery: one connection reused for a batch; `none`, `starttls` or implicit `tls`.

A 4xx reply or a broken connection is worth retrying later; a 5xx reply for a message is permanent.
A server that cannot be reached or refuses our login is `unreachable`: the caller then stops the
batch instead of trying (and timing out) once per message.

The envelope is built from the message's own From and To only (never Cc/Bcc headers), so even a
header that somehow slipped in could not add a recipient.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import Message
from email.utils import parseaddr

from sync.config import MailSettings
from sync.errors import StopRun
from sync.mail.transport import DeliveryFailed
from sync.secrets import read_secret


class SmtpTransport:
    def __init__(self, mail: MailSettings) -> None:
        self.mail = mail
        self._client: smtplib.SMTP | None = None

    def send(self, message: Message) -> None:
        client = self._connected()
        sender = parseaddr(str(message["From"]))[1]
        try:
            refused = client.send_message(message, sender, [str(message["To"])])
        except smtplib.SMTPRecipientsRefused as exc:
            code = min(code for code, _ in exc.recipients.values())
            raise DeliveryFailed(f"recipient refused ({code})", permanent=code >= 500) from None
        except smtplib.SMTPResponseException as exc:
            reply = _text(exc.smtp_error)
            raise DeliveryFailed(
                f"server answered {exc.smtp_code} {reply}".strip(), exc.smtp_code >= 500
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryFailed(f"SMTP connection lost: {type(exc).__name__}") from None
        if refused:
            raise DeliveryFailed(f"recipients refused: {sorted(refused)}", permanent=True)

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (smtplib.SMTPException, OSError):
                self._client.close()
            self._client = None

    def _connected(self) -> smtplib.SMTP:
        # smtplib drops the socket itself after a 421 or a broken pipe: connect again then
        if self._client is not None and getattr(self._client, "sock", None) is None:
            self._client = None
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> smtplib.SMTP:
        mail = self.mail
        where = f"{mail.smtp_host}:{mail.smtp_port}"
        password = _password(mail)
        client: smtplib.SMTP | None = None
        try:
            client = self._open()
            if mail.username and password is not None:
                client.login(mail.username, password)
            return client
        except smtplib.SMTPAuthenticationError as exc:
            _discard(client)
            message = f"SMTP login to {where} refused ({exc.smtp_code})"
            raise DeliveryFailed(message, False, True) from None
        except smtplib.SMTPNotSupportedError as exc:
            _discard(client)
            raise DeliveryFailed(f"SMTP server {where}: {exc}", False, True) from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            _discard(client)
            raise DeliveryFailed(f"cannot reach SMTP server {where}: {exc}", False, True) from None

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


def _text(reply: bytes | str) -> str:
    """A server's reply for a message to the administrator: one line, bounded."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:200]


def _discard(client: smtplib.SMTP | None) -> None:
    if client is not None:
        client.close()


def _password(mail: MailSettings) -> str | None:
    try:
        return read_secret("mail.password", mail.password_env, mail.password_file)
    except StopRun as exc:
        raise DeliveryFailed(str(exc), False, True) from None
