"""SMTP delivery: one connection reused for a batch; `none`, `starttls` or implicit `tls`.

A 4xx reply or a broken connection is worth retrying later; a 5xx reply for a message is permanent.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import Message

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
        try:
            refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code = min(code for code, _ in exc.recipients.values())
            raise DeliveryFailed(f"recipient refused ({code})", permanent=code >= 500) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"server answered {exc.smtp_code}", exc.smtp_code >= 500) from None
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
        if self._client is None:
            try:
                self._client = self._connect()
            except smtplib.SMTPAuthenticationError as exc:
                raise DeliveryFailed(f"SMTP login refused ({exc.smtp_code})") from None
            except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
                where = f"{self.mail.smtp_host}:{self.mail.smtp_port}"
                raise DeliveryFailed(f"cannot reach SMTP server {where}: {exc}") from None
        return self._client

    def _connect(self) -> smtplib.SMTP:
        mail = self.mail
        context = ssl.create_default_context(cafile=str(mail.ca_file) if mail.ca_file else None)
        client: smtplib.SMTP
        if mail.security == "tls":
            client = smtplib.SMTP_SSL(
                mail.smtp_host, mail.smtp_port, timeout=mail.timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=mail.timeout_seconds)
            if mail.security == "starttls":
                client.starttls(context=context)
        password = _password(mail)
        if mail.username and password is not None:
            client.login(mail.username, password)
        return client


def _password(mail: MailSettings) -> str | None:
    try:
        return read_secret("mail.password", mail.password_env, mail.password_file)
    except StopRun as exc:
        raise DeliveryFailed(str(exc)) from None
