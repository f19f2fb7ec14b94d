"""Where delivered messages go: `.eml` files in a folder (the embedded default) or SMTP."""

from __future__ import annotations

import os
import re
import threading
from email.message import Message
from pathlib import Path
from typing import Protocol


class DeliveryFailed(Exception):
    """This message was not accepted; `permanent` when retrying cannot help; `unreachable` when
    no message can be sent now (the server is down or refuses our login)."""

    def __init__(self, message: str, permanent: bool = False, unreachable: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.unreachable = unreachable


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
            raise DeliveryFailed(
                f"cannot create outbox folder {folder}: {exc.strerror}", unreachable=True
            ) from None

    def send(self, message: Message) -> None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(message["Message-ID"]).strip("<>")) + ".eml"
        # one temporary name per process and thread: no random-name retries, and a file left by
        # a killed worker is simply overwritten by the next delivery
        temporary = self.folder / f".tmp-{os.getpid()}-{threading.get_ident()}"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.folder / name)
        except OSError as exc:
            raise DeliveryFailed(f"cannot write {self.folder / name}: {exc.strerror}") from None

    def close(self) -> None:
        return None
