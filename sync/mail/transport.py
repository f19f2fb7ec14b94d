"""Where delivered messages go: `.eml` files in a folder (the embedded default) or SMTP."""

from __future__ import annotations

import io
import os
import re
import threading
from email.generator import BytesGenerator
from email.message import Message
from email.policy import SMTPUTF8
from pathlib import Path
from typing import Protocol

from sync.errors import DeliveryFailed, MailSetupError

__all__ = ["DeliveryFailed", "FileTransport", "Transport", "flatten", "needs_utf8"]


class Transport(Protocol):
    def send(self, message: Message) -> None: ...

    def close(self) -> None: ...


class FileTransport:
    """Writes each message as `<Message-ID>.eml`, atomically: a redelivery after a crash rewrites
    the same file instead of adding a second message."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MailSetupError(f"cannot create outbox folder {folder}: {exc.strerror}") from None

    def send(self, message: Message) -> None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(message["Message-ID"]).strip("<>")) + ".eml"
        # one temporary name per process and thread: no random-name retries, and a file left by
        # a killed worker is simply overwritten by the next delivery
        temporary = self.folder / f".tmp-{os.getpid()}-{threading.get_ident()}"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            with os.fdopen(fd, "wb") as handle:
                handle.write(flatten(message, "\n"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.folder / name)
        except OSError as exc:
            raise DeliveryFailed(f"cannot write {self.folder / name}: {exc.strerror}") from None

    def close(self) -> None:
        return None


def needs_utf8(message: Message) -> bool:
    """Whether an address of the message is internationalised (RFC 6531): only SMTPUTF8 carries
    it, raw, in the envelope and the headers."""
    return not all(str(message[name] or "").isascii() for name in ("From", "To"))


def flatten(message: Message, linesep: str) -> bytes:
    """The message's bytes with `linesep` line ends. Our messages are built with the classic
    (compat32) classes, which cannot write a raw UTF-8 header: an internationalised one is written
    with the SMTPUTF8 policy."""
    policy = SMTPUTF8 if needs_utf8(message) else message.policy
    buffer = io.BytesIO()
    BytesGenerator(buffer, False, policy=policy.clone(linesep=linesep)).flatten(message)
    return buffer.getvalue()
