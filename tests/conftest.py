"""Fixtures shared by the whole suite: a store on SQLite and on PostgreSQL, a tenant to sync."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sync.entry.cli import run as run_cli
from tests.support.configs import person, write_config, write_users
from tests.support.postgres import temporary_database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with temporary_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test that takes this runs once on SQLite and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
    else:
        with temporary_database() as url:
            yield url


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@dataclass
class Workspace:
    """A tenant with a CSV directory, a store and an outbox folder, driven through the CLI."""

    root: Path
    database_url: str
    capsys: pytest.CaptureFixture[str]
    tenant: dict[str, Any] = field(default_factory=dict)
    extra_tenants: list[dict[str, Any]] = field(default_factory=list)

    @property
    def csv(self) -> Path:
        return self.root / "users.csv"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def config(self) -> Path:
        return self.root / "clomo-sync.toml"

    def users(self, users: list[dict[str, Any]], encoding: str = "utf-8") -> None:
        write_users(self.csv, users, encoding)

    def configure(self, **tenant: Any) -> None:
        self.tenant.update(tenant)
        write_config(
            self.config, self.database_url, self.outbox, [self.tenant, *self.extra_tenants]
        )

    def cli(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = run_cli(["--config", str(self.config), *args])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def sync(self, *args: str) -> dict[str, Any]:
        result = self.cli("sync", "--tenant", self.tenant["id"], "--json", *args)
        reports = result.json_lines()
        assert len(reports) == 1, result
        reports[0]["exit"] = result.code
        return reports[0]

    def accounts(self) -> dict[str, dict[str, Any]]:
        result = self.cli("accounts", "list", "--tenant", self.tenant["id"], "--json")
        assert result.code == 0, result.err
        return {a["name"]: a for a in json.loads(result.out)}

    def emails(self) -> list[Path]:
        return sorted(self.outbox.glob("*.eml")) if self.outbox.exists() else []

    def with_default_tenant(self) -> None:
        """Tenant `acme`: names from email local parts, five people in its CSV directory."""
        self.tenant = {
            "id": "acme",
            "account_name_source": "email_local_part",
            "reset_url": "https://panel.example.com/reset?token={token}",
            "reserved_names": ["admin", "root"],
            "source": {"kind": "csv", "path": str(self.csv)},
        }
        self.users([person(n) for n in range(1, 6)])
        self.configure()


@pytest.fixture
def workspace(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> Workspace:
    ws = Workspace(tmp_path, database_url, capsys)
    ws.with_default_tenant()
    return ws


PersonFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_person() -> PersonFactory:
    return person
