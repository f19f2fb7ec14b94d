"""`web` stopped between a push and its run (SPEC §17): the run is owed in the store, and the
next `web` process starts it."""

from __future__ import annotations

import httpx

from tests.conftest import Workspace
from tests.scim.conftest import scim_tenant, user_body, wait_for
from tests.scim.server import web_process


def test_a_run_owed_when_web_stops_happens_when_web_starts_again(workspace: Workspace) -> None:
    workspace.tenant = scim_tenant("acme", source={"scim_settle_seconds": 3600})
    workspace.configure()
    token = workspace.cli("tenants", "scim-token", "acme").out.strip()
    headers = {"Authorization": f"Bearer {token}"}
    with web_process(workspace.config, workspace.root / "web1.log") as url:
        pushed = httpx.post(
            f"{url}/scim/v2/acme/Users", json=user_body("late@example.com"), headers=headers
        )
        assert pushed.status_code == 201, pushed.text
    assert workspace.accounts() == {}  # stopped long before the push settled
    workspace.tenant["source"]["scim_settle_seconds"] = 0.2
    workspace.configure()
    with web_process(workspace.config, workspace.root / "web2.log"):
        wait_for(lambda: "late@example.com" in workspace.accounts(), timeout=60)
