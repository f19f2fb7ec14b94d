"""`--help` answers at once: it imports neither pydantic nor SQLAlchemy (nor the sources)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.helpers import ROOT

HEAVY = ("pydantic", "sqlalchemy", "alembic", "ldap3", "jinja2", "googleapiclient", "starlette")
PROBE = """
import sys
from sync.entry.cli import run
code = run(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
print("HEAVY:", ",".join(heavy))
sys.exit(code)
"""


def command_paths() -> list[list[str]]:
    """Every command and group of the console script, found in the click group itself (so a
    command added later is checked too)."""
    from sync.entry.cli import cli

    paths: list[list[str]] = [[]]
    for name, command in sorted(cli.commands.items()):
        paths.append([name])
        paths += [[name, sub] for sub in sorted(getattr(command, "commands", {}))]
    return paths


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "clomo-sync")
def test_help_imports_no_heavy_library(path: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}", *path, "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: clomo-sync"), done.stdout
    assert done.stdout.splitlines()[-1] == "HEAVY: ", done.stdout


def test_the_console_script_imports_neither_pydantic_nor_sqlalchemy_for_help() -> None:
    """The same seen by the interpreter itself: `-X importtime` lists every module imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sync", "sync", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    imported = {
        line.split("|")[2].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "click" in imported and "sync" in imported
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))
