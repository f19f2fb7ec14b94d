"""`accounts set-password` on a real terminal (a pseudo-terminal): asked twice, never echoed."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select as sql_select

from sync.services.passwords import verify_password
from sync.store.schema import accounts
from tests.mail.conftest import MailWorkspace

ROOT = Path(__file__).resolve().parents[2]
PROMPT = b"password: "


def _read_until(fd: int, marker: bytes, timeout: float = 20) -> bytes:
    seen, deadline = b"", time.monotonic() + timeout
    while marker not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no {marker!r} on the terminal; got {seen!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other side closed
            break
        seen += chunk
    return seen


def _session(ws: MailWorkspace, answers: list[str]) -> tuple[int, bytes]:
    """Runs set-password with a terminal as stdin/stdout/stderr, answering each prompt."""
    controller, terminal = os.openpty()
    command = [sys.executable, "-m", "sync", "--config", str(ws.config)]
    command += ["accounts", "set-password", "--tenant", "acme", "user1"]
    process = subprocess.Popen(
        command,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(terminal)
    shown = b""
    try:
        for answer in answers:
            shown += _read_until(controller, PROMPT)
            os.write(controller, answer.encode() + b"\n")
        code = process.wait(timeout=30)
        shown += _read_until(controller, b"\n", timeout=5) if code == 0 else b""
    finally:
        os.close(controller)
    return code, shown


def test_asked_twice_never_echoed_and_a_mismatch_asks_again(lite_ws: MailWorkspace) -> None:
    lite_ws.sync()
    answers = ["Typed-Secret1", "Typed-Secret2", "Kept-Secret3", "Kept-Secret3"]
    code, shown = _session(lite_ws, answers)
    assert code == 0, shown
    assert shown.count(b"New password: ") == 2 and shown.count(b"Repeat the new password: ") == 2
    assert b"do not match" in shown and b"password of user1 set" in shown
    assert b"Secret" not in shown  # the terminal never showed what was typed
    with lite_ws.engine.connect() as conn:
        stored = conn.execute(
            sql_select(accounts.c.password_hash).where(accounts.c.name == "user1")
        ).scalar_one()
    assert verify_password(stored, "Kept-Secret3")
