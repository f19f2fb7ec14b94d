"""SPEC §14, through the command line on SQLite and PostgreSQL: held sets do not outlive their
cause, approvals act on the tenant as it is now and say what they applied, ids can be typed
short."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import create_engine, update

from sync.store.schema import change_sets
from sync.timeutil import utc_now
from tests.conftest import Workspace
from tests.support.configs import person

PEOPLE = 30


def everyone() -> list[dict[str, object]]:
    return [person(n) for n in range(1, PEOPLE + 1)]


def listed(workspace: Workspace) -> dict[str, dict[str, object]]:
    sets = json.loads(workspace.cli("changes", "list", "--json").out)
    return {s["id"]: s for s in sets}


def test_a_recovered_directory_supersedes_the_held_set_and_approval_is_refused(
    workspace: Workspace,
) -> None:
    workspace.users(everyone())
    workspace.sync()
    workspace.users([person(n) for n in range(1, 11)])  # the export lost 20 of 30
    held = workspace.sync()["held"][0]
    assert held["kind"] == "disable"
    workspace.users(everyone())  # the export is whole again
    recovered = workspace.sync()
    assert recovered["status"] == "succeeded"
    ended = listed(workspace)[held["change_set"]]
    assert ended["status"] == "superseded"
    assert f"superseded by run {recovered['run_id'][:8]}" in str(ended["outcome"])
    assert "no longer held" in str(ended["outcome"])

    refused = workspace.cli("changes", "approve", held["change_set"])
    assert refused.code == 2 and "superseded" in refused.err and "no longer held" in refused.err
    assert all(a["status"] == "active" for a in workspace.accounts().values())
    text = workspace.cli("changes", "list").out
    assert held["change_set"][:8] in text and "no longer held" in text


def test_a_set_past_its_ttl_expires_and_cannot_be_approved(workspace: Workspace) -> None:
    workspace.configure(change_set_ttl_hours=72)
    workspace.users(everyone())
    workspace.sync()
    workspace.users([person(n) for n in range(1, 11)])
    set_id = workspace.sync()["held"][0]["change_set"]
    engine = create_engine(workspace.database_url)
    with engine.begin() as conn:  # the set was made four days ago
        conn.execute(update(change_sets).values(created_at=utc_now() - timedelta(hours=96)))
    engine.dispose()
    refused = workspace.cli("changes", "approve", set_id[:8])
    assert refused.code == 2 and "expired" in refused.err and "72 hours" in refused.err
    assert listed(workspace)[set_id]["status"] == "expired"
    assert all(a["status"] == "active" for a in workspace.accounts().values())


def test_an_approval_that_applies_nothing_says_so(workspace: Workspace) -> None:
    """A held rename set approved after the naming rule was changed back: the run plans no
    rename, and the approval says it applied none rather than "approved"."""
    workspace.users(everyone())
    workspace.sync()
    workspace.configure(account_name_source="employee_code")
    set_id = workspace.sync()["held"][0]["change_set"]
    workspace.configure(account_name_source="email_local_part")
    approved = workspace.cli("changes", "approve", set_id[:10])
    assert approved.code == 0, approved.err
    assert "applied none of its 30 held rename changes" in approved.out
    assert "renamed" not in approved.out.split("applied none")[0].split("\n")[-1]
    assert sorted(workspace.accounts()) == sorted(f"user{n}" for n in range(1, PEOPLE + 1))


def test_an_approval_uses_the_rule_saved_after_the_set_was_held(workspace: Workspace) -> None:
    """The approving process reads the tenant when it approves: a rule changed after the set was
    held is the one applied (the console used to apply the rule it had at start-up)."""
    workspace.users(everyone())
    workspace.sync()
    workspace.configure(account_name_source="employee_code")
    set_id = workspace.sync()["held"][0]["change_set"]
    approved = json.loads(workspace.cli("changes", "approve", set_id, "--json").out)
    assert approved["counts"]["renamed"] == PEOPLE and approved["approved_applied"] == PEOPLE


def test_short_ids_name_runs_and_sets(workspace: Workspace) -> None:
    workspace.users(everyone())
    workspace.sync()
    workspace.users([person(n) for n in range(1, 11)])
    report = workspace.sync()
    set_id, run_id = report["held"][0]["change_set"], report["run_id"]
    assert run_id[:8] in workspace.cli("runs", "list").out
    shown = workspace.cli("runs", "show", run_id[:8], "--json")
    assert shown.code == 0 and json.loads(shown.out)["run_id"] == run_id
    assert workspace.cli("changes", "show", set_id[:8]).code == 0
    short = workspace.cli("changes", "show", set_id[:5])
    assert short.code == 2 and "at least 8" in short.err
    unknown = workspace.cli("changes", "show", "ffffffff")
    assert unknown.code == 2 and "no change set" in unknown.err
