"""Helpers for the operations tests: configurations, and the CLI run as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine

from sync.store.engine import make_engine, upgrade
from tests.support.configs import person, table, write_config, write_users
from tests.support.postgres import temporary_database

REPO = Path(__file__).resolve().parents[2]
RESET_URL = "https://panel.example.com/reset?token={token}"


@contextmanager
def store_url(kind: str, root: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{root}/store.db"
    else:
        with temporary_database() as url:
            yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def pg_store() -> Iterator[str]:
    with temporary_database() as url:
        yield url


def upgraded(url: str) -> Engine:
    """The store with its schema in place, as `db upgrade` leaves it."""
    engine = make_engine(url)
    upgrade(engine)
    return engine


def tenant(tenant_id: str, csv: Path, **keys: Any) -> dict[str, Any]:
    return {
        "id": tenant_id,
        "account_name_source": "employee_code",
        "reset_url": RESET_URL,
        "source": {"kind": "csv", "path": str(csv)},
        **keys,
    }


def big_directory(path: Path, users: int, with_email: int) -> Path:
    """`users` people named by employee code; only the first `with_email` have an address, so
    only they get an email (the rest are reported missing_email): a long run, a short delivery."""
    return write_users(
        path,
        (
            person(n) if n < with_email else person(n, primary_email="", emails="")
            for n in range(users)
        ),
    )


def configure(
    root: Path,
    url: str,
    tenants: list[dict[str, Any]],
    scheduler: Mapping[str, Any] | None = None,
) -> Path:
    path = write_config(root / "clomo-sync.toml", url, root / "outbox", tenants)
    if scheduler:
        with path.open("a", encoding="utf-8") as handle:
            handle.write("\n" + table("[scheduler]", scheduler))
    return path


def small_directory(path: Path, users: int = 20) -> Path:
    return write_users(path, [person(n) for n in range(users)])


def cli_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "sync", "--config", str(config), *args]


def start(config: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """The CLI as its own process, from the repository's root, like an installed worker."""
    return subprocess.Popen(
        cli_command(config, *args),
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class Finished:
    code: int
    out: str
    err: str

    def reports(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.startswith("{")]


def finish(process: subprocess.Popen[str], timeout: float = 180) -> Finished:
    out, err = process.communicate(timeout=timeout)
    return Finished(process.returncode, out, err)


def run(config: Path, *args: str, timeout: float = 180) -> Finished:
    return finish(start(config, *args), timeout)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def engine_for(url: str) -> Engine:
    return create_engine(url)


class Watched:
    """A CLI process whose output is read as it comes, to act when a line appears."""

    def __init__(self, config: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.process = start(config, *args, env=env)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The first stderr line containing `text` (failing if the process ends first)."""
        found: list[str] = []

        def seen() -> bool:
            found[:] = [line for line in list(self.err) if text in line][:1]
            if not found and self.process.poll() is not None:
                raise AssertionError(
                    f"exited {self.process.returncode} before {text!r}:\n" + "".join(self.err[-40:])
                )
            return bool(found)

        wait_for(seen, timeout, repr(text))
        return found[0]

    def finish(self, timeout: float = 180) -> Finished:
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(10)
        return Finished(code, "".join(self.out), "".join(self.err))
