"""The console scales out (SPEC §15): two `clomo-sync web` processes on one PostgreSQL store, as
two behind one address would be. A session signed in (with its second factor) on one is
served by the other; failed sign-ins on both add up to one lockout; a restarted process keeps
the session; signing out on one ends it on the other."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest

from sync.config.settings import load_settings
from sync.entry.cli import run as run_cli
from sync.store.engine import open_store
from tests.support.configs import person, table, write_config, write_users
from tests.support.postgres import temporary_database
from tests.web.admin.conftest import PASSWORDS, give_passwords
from tests.web.admin.test_console_browser import Server
from tests.web.conftest import form_value
from tests.web.mailbox import free_port

ACME = "/admin/acme"


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    write_users(tmp_path / "users.csv", [person(n) for n in range(1, 4)])
    config = tmp_path / "clomo-sync.toml"
    with temporary_database() as url:
        tenant = {
            "id": "acme",
            "account_name_source": "email_local_part",
            "reset_url": "https://panel.example.com/reset?token={token}",
            "source": {"kind": "csv", "path": str(tmp_path / "users.csv")},
        }  # require_mfa_for: the default, system_admin
        write_config(config, url, tmp_path / "outbox", [tenant])
        web = {"secret_env": "WEB_SECRET", "signin_lockout": "3/15 minutes"}
        with config.open("a", encoding="utf-8") as handle:
            handle.write("\n" + table("[web]", web))
        assert run_cli(["--config", str(config), "sync", "--all"]) == 0
        engine = open_store(url)
        give_passwords(engine, load_settings(config))
        engine.dispose()
        pair = []
        for name in ("one", "two"):
            root = tmp_path / name
            root.mkdir()
            port = free_port()
            pair.append(Server(root, config, f"http://127.0.0.1:{port}", port, root))
        for server in pair:
            server.start()
        try:
            yield pair[0], pair[1]
        finally:
            for server in pair:
                server.stop()


def sign_in(client: httpx.Client, password: str) -> httpx.Response:
    page = client.get(f"{ACME}/login")
    data = {"csrf": form_value(page.text, "csrf"), "name": "user1", "password": password}
    return client.post(f"{ACME}/login", data=data)


def test_two_processes_share_sessions_and_lockouts(servers: tuple[Server, Server]) -> None:
    one, two = servers
    right = PASSWORDS[("acme", "user1")]
    with httpx.Client(base_url=one.url) as a, httpx.Client(base_url=two.url) as b:
        assert sign_in(a, right).headers["location"] == f"{ACME}/mfa"
        page = a.get(f"{ACME}/mfa/enrol")
        secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page.text)
        assert secret
        code = pyotp.TOTP(secret.group(1)).now()
        data = {"csrf": form_value(page.text, "csrf"), "code": code}
        assert a.post(f"{ACME}/mfa/enrol/totp", data=data).status_code == 200

        b.cookies.set("clomo_admin", a.cookies["clomo_admin"])
        assert b.get(f"{ACME}/accounts").status_code == 200  # the other process serves it
        two.restart()
        assert b.get(f"{ACME}/accounts").status_code == 200  # a restart signed nobody out
        page = b.get(f"{ACME}/accounts")
        assert b.post(f"{ACME}/logout", data={"csrf": form_value(page.text, "csrf")}).is_redirect
        assert a.get(f"{ACME}/accounts").headers["location"] == f"{ACME}/login"

    with httpx.Client(base_url=one.url) as a, httpx.Client(base_url=two.url) as b:
        # three failures, two on one process and one on the other: one lockout on both
        assert sign_in(a, "Wrong-Pass1").status_code == 401
        assert sign_in(b, "Wrong-Pass1").status_code == 401
        assert sign_in(a, "Wrong-Pass1").status_code == 401
        assert sign_in(b, right).status_code == 429
        assert sign_in(a, right).status_code == 429
