"""python-scim's scim2-tester against `clomo-sync web` as a real process (SPEC §17): every
check it runs must pass."""

from __future__ import annotations

from collections import Counter

from httpx import Client
from scim2_tester import Status, check_server

from tests.conftest import Workspace
from tests.scim.client import HttpxSCIMClient
from tests.scim.conftest import scim_tenant
from tests.scim.server import web_process

FAILED = {Status.ERROR, Status.CRITICAL}


def test_scim2_tester_finds_nothing_wrong(workspace: Workspace) -> None:
    workspace.tenant = scim_tenant("acme")
    workspace.configure()
    issued = workspace.cli("tenants", "scim-token", "acme")
    assert issued.code == 0, issued.err
    token = issued.out.strip()
    with web_process(workspace.config, workspace.root / "web.log") as url:
        http = Client(base_url=f"{url}/scim/v2/acme", headers={"Authorization": f"Bearer {token}"})
        results = check_server(HttpxSCIMClient(http))
    summary = Counter(r.status.name for r in results)
    print("scim2-tester:", dict(summary))
    failed = [f"{r.title}: {r.reason}" for r in results if r.status in FAILED]
    assert failed == [], "\n".join(failed)
    assert len(results) > 100
