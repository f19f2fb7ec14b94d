"""A reader process's log records, sent to the run that started it (sync.sources.ldap.reader,
sync.sources.smarthr.reader): the run logs them through its own handlers, so they are formatted
and redacted like its own."""

from __future__ import annotations

import logging
from contextlib import suppress
from multiprocessing.connection import Connection as Pipe


class PipeHandler(logging.Handler):
    """Sends the child's records of `level` and above as ("log", level, message)."""

    def __init__(self, pipe: Pipe, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.pipe = pipe

    def emit(self, record: logging.LogRecord) -> None:
        with suppress(OSError):
            self.pipe.send(("log", record.levelno, record.getMessage()))
