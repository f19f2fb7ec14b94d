"""A `scim` source's keys (SPEC §17, docs/scim.md): what `config check` refuses."""

from __future__ import annotations

import pytest

from tests.conftest import Workspace
from tests.scim.conftest import scim_tenant


@pytest.mark.parametrize(
    ("tenant", "said"),
    [
        (
            scim_tenant("acme", lookups=[{"kind": "scim", "match_on": "email"}]),
            'lookups[0]: kind = "scim" can be the tenant\'s [tenants.source] only',
        ),
        (
            scim_tenant("acme", source={"attributes": {"employee_code": "employeeId"}}),
            "attributes cannot be mapped for scim",
        ),
        (scim_tenant("acme", source={"scim_settle_seconds": -1}), "scim_settle_seconds"),
    ],
)
def test_config_check_refuses_what_a_scim_source_cannot_do(
    workspace: Workspace, tenant: dict[str, object], said: str
) -> None:
    workspace.tenant = tenant
    workspace.configure()
    checked = workspace.cli("config", "check")
    assert checked.code == 2 and said in checked.err, checked.err
