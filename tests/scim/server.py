"""`clomo-sync web` as a real process on a free loopback port, for clients that speak HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60
SERVING = re.compile(r"serving the password pages on (http://127\.0\.0\.1:\d+)/")


@contextmanager
def web_process(config: Path, log: Path) -> Iterator[str]:
    """Starts `web --port 0`, waits for its "serving" line and yields its base URL."""
    with log.open("w", encoding="utf-8") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "sync", "--config", str(config), "web", "--port", "0"],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield _serving(server, log)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _serving(server: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        found = SERVING.search(log.read_text(encoding="utf-8"))
        if found:
            return found.group(1)
        assert server.poll() is None, f"clomo-sync web exited: {log.read_text()}"
        assert time.monotonic() < deadline, f"clomo-sync web did not start: {log.read_text()}"
        time.sleep(0.05)
