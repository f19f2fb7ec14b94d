"""What the reader processes share (sync.sources.ldap.reader, sync.sources.smarthr.reader): the
process started as a fresh interpreter (not a fork: the scheduler runs tenants in threads, and a
fork taken while another thread holds a lock can hang) with a pipe to send its messages on, and
its log records sent to the run that started it, which logs them through its own handlers, so
they are formatted and redacted like its own."""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
from contextlib import suppress
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

# appended to the child's path for a worker run from a checkout rather than installed
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def start_child(module: str, pipe_bytes: int = 0) -> tuple[subprocess.Popen[bytes], Pipe]:
    """Runs `module.child_main(fd)` in a new interpreter, `fd` the writing end of a pipe whose
    reading end is returned (with room for `pipe_bytes`, where the system allows). The child's
    standard input is a pipe from here: what it needs (a password, a token) goes through it,
    never its command line. EOF on the returned pipe means the child is gone."""
    read_end, write_end = os.pipe()
    if pipe_bytes:
        with suppress(OSError):
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, pipe_bytes)
    code = (
        "import sys; sys.path.append(sys.argv[2]); "
        f"from {module} import child_main; child_main(int(sys.argv[1]))"
    )
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(write_end), str(PACKAGE_ROOT)],
            stdin=subprocess.PIPE,
            pass_fds=(write_end,),
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)  # the child's now
    return process, Pipe(read_end, writable=False)


class PipeHandler(logging.Handler):
    """Sends the child's records of `level` and above as ("log", level, message)."""

    def __init__(self, pipe: Pipe, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.pipe = pipe

    def emit(self, record: logging.LogRecord) -> None:
        with suppress(OSError):
            self.pipe.send(("log", record.levelno, record.getMessage()))
