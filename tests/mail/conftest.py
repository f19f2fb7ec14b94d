"""Fixtures for the mail and account-administration tests: a CSV tenant whose email goes to a
real SMTP server (aiosmtpd on 127.0.0.1), driven through the CLI in-process."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from sync.store.engine import make_engine
from sync.store.schema import outbox
from tests.conftest import Workspace
from tests.mail.smtp_server import (
    PASSWORD,
    Certificates,
    Received,
    Sink,
    SmtpServer,
    free_port,
    make_certificates,
    start_server,
)
from tests.support.configs import write_config

LINK = re.compile(r"https://panel\.example\.com/reset\?token=([A-Za-z0-9_\-]+)")
SENDER = "CLOMO 管理 <noreply@clomo.example>"


@dataclass
class MailWorkspace(Workspace):
    """A Workspace whose [mail] table is ours (SMTP to the test server by default)."""

    mail: dict[str, Any] = field(default_factory=dict)
    _engine: Engine | None = None

    def configure(self, **tenant: Any) -> None:
        self.tenant.update(tenant)
        tenants = [self.tenant, *self.extra_tenants]
        write_config(self.config, self.database_url, self.outbox, tenants, self.mail)

    def use(self, server: SmtpServer, **mail: Any) -> None:
        self.mail = {"from_address": SENDER, "retry_base_seconds": 0.01, **server.mail, **mail}
        self.configure()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.database_url)  # as the worker opens it
        return self._engine

    def outbox_rows(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(outbox).order_by(outbox.c.id)))

    def deliver(self, *args: str, code: int = 0) -> dict[str, Any]:
        """`deliver --json`; its exit status is 1 when a message failed for good in this pass or
        the server could not be used."""
        result = self.cli("deliver", "--json", *args)
        assert result.code == code, result
        data: dict[str, Any] = json.loads(result.out)
        return data

    def show(self, name: str) -> dict[str, Any]:
        result = self.cli("accounts", "show", "--tenant", self.tenant["id"], name, "--json")
        assert result.code == 0, result.err
        data: dict[str, Any] = json.loads(result.out)
        return data

    def admin(self, *args: str) -> Any:
        command, rest = args[0], args[1:]
        return self.cli("accounts", command, "--tenant", self.tenant["id"], *rest)


def token_in(received: Received) -> str:
    """The token of the link in the plain-text part (the HTML part must carry the same)."""
    match = LINK.search(received.text())
    assert match is not None, received.text()
    assert match.group(0) in received.html()
    return match.group(1)


def new_workspace(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> MailWorkspace:
    ws = MailWorkspace(tmp_path, url, capsys)
    ws.with_default_tenant()
    return ws


@pytest.fixture(autouse=True)
def _smtp_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOMO_TEST_SMTP_PASSWORD", PASSWORD)


@pytest.fixture
def mail_ws(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> Iterator[MailWorkspace]:
    """On SQLite and on PostgreSQL."""
    ws = new_workspace(tmp_path, database_url, capsys)
    yield ws
    ws.engine.dispose()


@pytest.fixture
def lite_ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[MailWorkspace]:
    """On SQLite only, for what does not depend on the database."""
    ws = new_workspace(tmp_path, f"sqlite:///{tmp_path}/store.db", capsys)
    yield ws
    ws.engine.dispose()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


StartServer = Callable[..., SmtpServer]


@pytest.fixture
def smtp() -> Iterator[StartServer]:
    """Starts servers (`smtp(security=..., auth=..., port=...)`) and stops them afterwards."""
    running: list[SmtpServer] = []

    def start(
        security: str = "none",
        certificates: Certificates | None = None,
        auth: bool = False,
        port: int | None = None,
        sink: Sink | None = None,
        smtputf8: bool = False,
    ) -> SmtpServer:
        server = start_server(
            sink or Sink(), port or free_port(), security, certificates, auth, smtputf8
        )
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


@pytest.fixture
def server(smtp: StartServer) -> SmtpServer:
    """A plain SMTP server without authentication."""
    return smtp()
