"""The console's audit download (SPEC §19): the same lines as `audit export`, for system_admin
only; a bad date shows the page again naming the field and the value."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from tests.conftest import Workspace
from tests.web.admin.conftest import Console


def test_system_admin_downloads_what_audit_export_writes(
    console: Console, workspace: Workspace
) -> None:
    client = console.signed_in()
    runs = client.get("/admin/acme/runs")
    assert 'id="audit-link"' in runs.text
    assert client.get("/admin/acme/audit").status_code == 200
    exported = workspace.cli("audit", "export", "--tenant", "acme").json_lines()
    assert exported and all(e["tenant"] == "acme" for e in exported)
    answer = client.get("/admin/acme/audit/export")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert 'filename="audit-acme.jsonl"' in answer.headers["content-disposition"]
    assert [json.loads(line) for line in answer.text.splitlines()] == exported
    as_csv = client.get("/admin/acme/audit/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [int(r["id"]) for r in rows] == [e["id"] for e in exported]


def test_the_window_chooses_events_and_a_bad_date_is_named(console: Console) -> None:
    client = console.signed_in()
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    empty = client.get("/admin/acme/audit/export", params={"since": later})
    assert empty.status_code == 200 and empty.text == ""
    until = client.get("/admin/acme/audit/export", params={"until": later})
    assert len(until.text.splitlines()) > 0
    bad = client.get("/admin/acme/audit/export", params={"since": "next week"})
    assert bad.status_code == 400
    assert 'id="problems"' in bad.text and "since" in bad.text and "next week" in bad.text


def test_only_system_admin_may_download(console: Console) -> None:
    client = console.signed_in(name="user2")  # an operator
    assert 'id="audit-link"' not in client.get("/admin/acme/runs").text
    for path in ("/admin/acme/audit", "/admin/acme/audit/export"):
        answer = client.get(path)
        assert answer.status_code == 403 and 'id="forbidden"' in answer.text
    stranger = console.client()
    assert stranger.get("/admin/acme/audit/export").status_code == 303
    other = console.signed_in(tenant="beta")  # system_admin of another tenant
    assert other.get("/admin/acme/audit/export").status_code == 303
