"""`--help` answers at once: it imports neither pydantic nor SQLAlchemy (nor the sources)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.helpers import ROOT, clomo

HEAVY = ("pydantic", "sqlalchemy", "alembic", "ldap3", "jinja2", "googleapiclient", "starlette")
PROBE = """
import sys
from sync.cli import run
code = run(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
print("HEAVY:", ",".join(heavy))
sys.exit(code)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["sync", "--help"],
        ["accounts", "--help"],
        ["accounts", "list", "--help"],
        ["runs", "list", "--help"],
        ["config", "check", "--help"],
    ],
)
def test_help_imports_no_heavy_library(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: clomo-sync" in done.stdout
    assert done.stdout.splitlines()[-1] == "HEAVY: ", done.stdout


def test_every_command_answers_help() -> None:
    """Each command and group of the real console script shows its help (exit 0)."""
    from sync.cli import cli

    for name, command in cli.commands.items():
        subcommands = getattr(command, "commands", {})
        for args in [[name], *[[name, sub] for sub in subcommands]]:
            done = clomo(*args, "--help")
            assert done.returncode == 0 and "Usage:" in done.stdout, (args, done.stderr)
