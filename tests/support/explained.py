"""Explain against the run (SPEC §18): `explain` says for each person what the next run will do;
the run then does it. Both are read through the CLI, the run's deeds from its audit events."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Workspace

# the audit's words for the plan's actions, in the order explain joins them
DONE = {"created": "create", "updated": "update", "renamed": "rename", "disabled": "disable",
        "enabled": "enable"}  # fmt: skip


def explain(workspace: Workspace, person: str) -> dict[str, Any]:
    result = workspace.cli("explain", "--tenant", workspace.tenant["id"], "--json", person)
    assert result.code == 0, result.err
    told: dict[str, Any] = json.loads(result.out)
    return told


def done_by(workspace: Workspace, report: dict[str, Any], source_ids: list[str]) -> dict[str, str]:
    """What the run did to each person, in explain's words, from the audit and the report."""
    shown = workspace.cli("runs", "show", report["run_id"], "--json")
    assert shown.code == 0, shown.err
    owner = {a["name"]: a["source_id"] for a in workspace.accounts().values()}
    deeds: dict[str, set[str]] = {}
    for event in json.loads(shown.out)["events"]:
        deeds.setdefault(owner[event["account"]], set()).add(DONE[event["action"]])
    issued = {i["source_id"] for i in report["issues"] if i["reason"] != "missing_email"}
    said = {}
    for source_id in source_ids:
        if source_id in deeds:
            said[source_id] = "+".join(a for a in DONE.values() if a in deeds[source_id])
        elif source_id in issued:
            said[source_id] = "issue"
        else:
            said[source_id] = "unchanged" if source_id in owner.values() else "none"
    return said


def check_explain_then_run(workspace: Workspace, people: dict[str, str]) -> dict[str, Any]:
    """Explains each person (source id -> what to type), runs, and asserts they agree; returns
    the explanations by source id."""
    told = {source_id: explain(workspace, typed) for source_id, typed in people.items()}
    assert {sid: t["source_id"] for sid, t in told.items()} == {sid: sid for sid in people}
    report = workspace.sync()
    assert report["status"] == "succeeded", report
    assert {sid: t["action"] for sid, t in told.items()} == done_by(workspace, report, [*people])
    return told


def steps(told: dict[str, Any], kind: str) -> list[str]:
    return [step["text"] for step in told["steps"] if step["step"] == kind]
