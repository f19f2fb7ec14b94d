"""`audit export` (SPEC §19): every event of a tenant, oldest first, as JSON lines or CSV, with
--since/--until; a bad date names the option and the value."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from tests.conftest import Workspace
from tests.support.configs import person

KEYS = {"id", "at", "tenant", "actor", "action", "account", "fields"}


def test_jsonl_lists_every_event_of_the_tenant_in_id_order(workspace: Workspace) -> None:
    assert workspace.sync()["exit"] == 0
    workspace.users([person(n, active="false" if n == 2 else "true") for n in range(1, 6)])
    assert workspace.sync()["exit"] == 0
    result = workspace.cli("audit", "export", "--tenant", "acme")
    assert result.code == 0, result.err
    events = result.json_lines()
    assert [e["action"] for e in events] == ["created"] * 5 + ["disabled"]
    assert all(set(e) == KEYS and e["tenant"] == "acme" and e["actor"] == "run" for e in events)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert events[0]["fields"] == {
        "name": [None, "user1"],
        "primary_email": [None, "user1@example.com"],
    }
    assert events[-1]["account"] == "user2"
    history = workspace.cli("accounts", "history", "--tenant", "acme", "user2", "--json")
    assert [e["action"] for e in json.loads(history.out)] == ["created", "disabled"]


def test_csv_has_the_same_columns_with_fields_as_json(workspace: Workspace) -> None:
    assert workspace.sync()["exit"] == 0
    jsonl = workspace.cli("audit", "export", "--tenant", "acme").json_lines()
    result = workspace.cli("audit", "export", "--tenant", "acme", "--format", "csv")
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert list(rows[0]) == ["id", "at", "tenant", "actor", "action", "account", "fields"]
    assert [{**r, "id": int(r["id"]), "fields": json.loads(r["fields"])} for r in rows] == jsonl


def test_since_and_until_choose_by_time(workspace: Workspace) -> None:
    assert workspace.sync()["exit"] == 0
    now = datetime.now(UTC)
    hour_ago, hour_on = (
        (now - timedelta(hours=1)).isoformat(),
        (now + timedelta(hours=1)).isoformat(),
    )

    def count(*args: str) -> int:
        result = workspace.cli("audit", "export", "--tenant", "acme", *args)
        assert result.code == 0, result.err
        return len(result.json_lines())

    assert count("--since", hour_ago) == 5
    assert count("--since", hour_on) == 0
    assert count("--until", hour_ago) == 0
    assert count("--since", hour_ago, "--until", hour_on) == 5
    assert count("--since", now.date().isoformat()) == 5  # a date: midnight UTC


def test_a_bad_since_names_the_option_and_the_value(workspace: Workspace) -> None:
    result = workspace.cli("audit", "export", "--tenant", "acme", "--since", "last tuesday")
    assert result.code == 2
    assert "--since" in result.err and "'last tuesday'" in result.err
    result = workspace.cli("audit", "export", "--tenant", "acme", "--until", "2026-13-01")
    assert result.code == 2 and "--until" in result.err and "2026-13-01" in result.err


def test_an_unknown_tenant_is_a_usage_error(workspace: Workspace) -> None:
    result = workspace.cli("audit", "export", "--tenant", "nobody")
    assert result.code == 2 and "nobody" in result.err
