"""A SCIM tenant `acme` (and a second one, `globex`) served by the real ASGI app over an HTTP
client, each with a token issued by `tenants scim-token`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from sync.config.settings import load_settings
from sync.entry.web.app import create_app
from sync.services.tenants import with_store_tenants
from sync.store.engine import open_store
from tests.conftest import Workspace

SECRET = "test-secret-" + "x" * 40
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def scim_tenant(tenant_id: str, **settings: Any) -> dict[str, Any]:
    source = {"kind": "scim", "scim_settle_seconds": 0.2, **settings.pop("source", {})}
    return {
        "id": tenant_id,
        "account_name_source": "email",
        "reset_url": "https://panel.example.com/reset?token={token}",
        "source": source,
        **settings,
    }


@dataclass
class Scim:
    """An HTTP client on one tenant's SCIM endpoint, with its token."""

    workspace: Workspace
    client: TestClient
    engine: Engine
    tokens: dict[str, str]
    tenant: str = "acme"

    @property
    def base(self) -> str:
        return f"/scim/v2/{self.tenant}"

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token or self.tokens[self.tenant]}",
            "Content-Type": "application/scim+json",
        }

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return self.client.request(
            method, self.base + path, json=body, headers=self.headers(kw.pop("token", None)), **kw
        )

    def create(self, user_name: str, **fields: Any) -> dict[str, Any]:
        response = self.call("POST", "/Users", user_body(user_name, **fields))
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def accounts(self) -> dict[str, dict[str, Any]]:
        return self.workspace.accounts()


def user_body(user_name: str, **fields: Any) -> dict[str, Any]:
    local = user_name.split("@")[0]
    return {
        "schemas": [CORE_USER, ENTERPRISE],
        "userName": user_name,
        "active": True,
        "name": {"givenName": f"G-{local}", "familyName": f"F-{local}"},
        "displayName": f"D {local}",
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        ENTERPRISE: {"employeeNumber": f"E-{local}"},
        **fields,
    }


def wait_for(check: Callable[[], bool], timeout: float = 30) -> None:
    """Waits for an event the product makes happen (a run's accounts), polling the store."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the awaited state never came")
        time.sleep(0.05)


@contextmanager
def open_scim(workspace: Workspace, *tenants: dict[str, Any]) -> Iterator[Scim]:
    workspace.tenant = tenants[0]
    workspace.extra_tenants = list(tenants[1:])
    workspace.configure()
    tokens = {}
    for tenant in tenants:
        result = workspace.cli("tenants", "scim-token", tenant["id"])
        assert result.code == 0, result.err
        tokens[tenant["id"]] = result.out.strip()
    engine = open_store(workspace.database_url)
    settings = with_store_tenants(load_settings(workspace.config), engine)
    with TestClient(create_app(settings, engine, secret=SECRET)) as client:
        yield Scim(workspace, client, engine, tokens)
    engine.dispose()


@pytest.fixture
def scim(workspace: Workspace) -> Iterator[Scim]:
    with open_scim(workspace, scim_tenant("acme"), scim_tenant("globex")) as opened:
        yield opened
