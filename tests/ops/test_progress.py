"""Progress bars appear on a terminal, and never in JSON mode or when standard error is a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
from pathlib import Path

from tests.ops.conftest import REPO, cli_command, configure, run, small_directory, tenant


def on_terminal(config: Path, *args: str) -> tuple[int, str]:
    """Runs the CLI with standard error on a pseudo-terminal; returns what the terminal got."""
    controller, terminal = pty.openpty()
    # a new pseudo-terminal is 0 columns wide, where tqdm draws nothing: give it a real size
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        cli_command(config, *args), cwd=REPO, stdout=subprocess.DEVNULL, stderr=terminal
    )
    os.close(terminal)
    shown = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process has gone
                break
            if not chunk:
                break
            shown += chunk
        elif process.poll() is not None:
            break
    os.close(controller)
    return process.wait(60), shown.decode(errors="replace")


def _config(tmp_path: Path) -> Path:
    csv = small_directory(tmp_path / "u.csv", 300)
    return configure(tmp_path, f"sqlite:///{tmp_path}/store.db", [tenant("acme", csv)])


def test_bars_on_a_terminal(tmp_path: Path) -> None:
    code, shown = on_terminal(_config(tmp_path), "sync", "--tenant", "acme")
    assert code == 0, shown
    for bar in ("reading csv", "writing accounts", "delivering email"):
        assert bar in shown, shown
    assert "/300 [" in shown  # the bars know the totals of accounts and emails


def test_no_bars_with_json_or_without_a_terminal(tmp_path: Path) -> None:
    config = _config(tmp_path)
    code, shown = on_terminal(config, "sync", "--tenant", "acme", "--json")
    assert code == 0, shown
    assert "reading csv" not in shown and "writing accounts" not in shown
    piped = run(config, "sync", "--full", "--tenant", "acme")
    assert piped.code == 0
    assert "reading csv" not in piped.err
    assert "\r" not in piped.err
