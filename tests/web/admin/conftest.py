"""Fixtures for the administrators' console: two password tenants synced from CSV directories
(`acme` and `beta`, both holding a `user1`), administrators with passwords, and a client that
signs in through the login form."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import Engine
from starlette.testclient import TestClient

from sync.config.settings import Settings
from sync.model.actor import Actor
from sync.services.accounts import Edit, edit_account
from sync.services.passwords import set_password
from sync.store.engine import open_store, writing
from sync.timeutil import utc_now
from tests.conftest import Workspace
from tests.support.configs import person, write_users
from tests.web.conftest import RESET_URL, Pages, form_value

PASSWORDS = {
    ("acme", "user1"): "Acme-Admin1",  # system_admin
    ("acme", "user2"): "Acme-Oper2",  # operator
    ("acme", "user3"): "Acme-None3",  # no console privilege
    ("beta", "user1"): "Beta-Admin1",  # system_admin of the other tenant
}
ROLES = {("acme", "user1"): "system_admin", ("acme", "user2"): "operator",
         ("beta", "user1"): "system_admin"}  # fmt: skip
SETUP = Actor("setup")


@dataclass
class Console:
    pages: Pages

    def client(self, https: bool = False, **web: Any) -> TestClient:
        return self.pages.client(self.pages.app(**web) if web else None, https=https)

    def sign_in(
        self, client: TestClient, tenant: str = "acme", name: str = "user1", password: str = ""
    ) -> Response:
        form = client.get(f"/admin/{tenant}/login")
        assert form.status_code == 200, form.text
        data = {
            "csrf": form_value(form.text, "csrf"),
            "name": name,
            "password": password or PASSWORDS[(tenant, name)],
        }
        answer: Response = client.post(f"/admin/{tenant}/login", data=data)
        return answer

    def signed_in(self, tenant: str = "acme", name: str = "user1", **web: Any) -> TestClient:
        client = self.client(**web)
        answer = self.sign_in(client, tenant, name)
        assert answer.status_code == 303, answer.text
        return client

    def post(self, client: TestClient, page: str, path: str, **data: str) -> Response:
        """Opens `page` for its CSRF token and posts `data` to `path`."""
        shown = client.get(page)
        assert shown.status_code == 200, shown.text
        answer: Response = client.post(path, data={"csrf": form_value(shown.text, "csrf"), **data})
        return answer


def csrf_of(html: str) -> str:
    return form_value(html, "csrf")


def setup_tenants(workspace: Workspace, mfa_for: tuple[str, ...] = ()) -> None:
    """acme and beta; `mfa_for`: the privileges whose second factor the console asks for
    (none by default: the second factor has its own tests, tests/web/admin/test_mfa.py)."""
    beta_csv = workspace.root / "beta.csv"
    write_users(beta_csv, [person(1), person(7)])
    workspace.extra_tenants = [
        {
            "id": "beta",
            "account_name_source": "email_local_part",
            "reset_url": RESET_URL,
            "source": {"kind": "csv", "path": str(beta_csv)},
            "console": {"require_mfa_for": list(mfa_for)},
        }
    ]
    workspace.configure(reset_url=RESET_URL, console={"require_mfa_for": list(mfa_for)})
    assert workspace.cli("sync", "--all").code == 0


def give_passwords(engine: Engine, settings: Settings) -> None:
    """Privileges and passwords of PASSWORDS set through the services the CLI uses, for the
    tenants of `settings`."""
    tenants = {t.id: t for t in settings.tenants}
    now = utc_now()
    with writing(engine) as conn:
        for (tenant, name), password in PASSWORDS.items():
            if tenant not in tenants:
                continue
            role = ROLES.get((tenant, name))
            if role:
                edit_account(conn, tenants[tenant], name, Edit(role=role), now=now,
                             domain="example.com", actor=SETUP)  # fmt: skip
            set_password(conn, tenant, name, password, now, SETUP)


@pytest.fixture
def console(workspace: Workspace) -> Iterator[Console]:
    setup_tenants(workspace)
    engine = open_store(workspace.database_url)
    pages = Pages(workspace, engine)
    give_passwords(engine, pages.settings)
    yield Console(pages)
    engine.dispose()
