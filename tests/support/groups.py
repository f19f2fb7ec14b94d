"""What every source's end-to-end groups test checks (SPEC §13), whatever the directory: the
tenant's scope is Staff, whose members come directly and through nested groups; the first role
rule (Sales: system_admin) is matched through nesting too, the second (Staff: operator) by the
rest. The directory is the same shape in each source's words:

    Staff: person 1, group Sales        Sales: person 2, group Team        Team: person 3
    person 4: in no group (out of scope, no account)
"""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import Workspace


def configure_groups(workspace: Workspace, staff: str, sales: str) -> None:
    workspace.configure(
        scope={"groups": [staff]},
        roles=[
            {"group": sales, "role": "system_admin"},
            {"group": staff, "role": "operator"},
        ],
    )


def check_scope_and_roles(
    workspace: Workspace, names: dict[int, str], leave_team: Callable[[], None]
) -> None:
    """Runs the tenant twice: as above, then after `leave_team` takes person 3 out of Team, so
    out of the scope (disabled) and out of the role."""
    report = workspace.sync()
    assert report["status"] == "succeeded", report
    assert report["counts"]["created"] == 3, report
    accounts = workspace.accounts()
    assert {n: (accounts[names[n]]["status"], accounts[names[n]]["role"]) for n in (1, 2, 3)} == {
        1: ("active", "operator"),
        2: ("active", "system_admin"),  # Sales, nested in Staff
        3: ("active", "system_admin"),  # Team, in Sales, in Staff
    }
    assert names[4] not in accounts

    leave_team()
    report = workspace.sync()
    assert report["counts"]["disabled"] == 1, report
    accounts = workspace.accounts()
    assert accounts[names[3]]["status"] == "disabled"
    assert accounts[names[2]]["role"] == "system_admin"
