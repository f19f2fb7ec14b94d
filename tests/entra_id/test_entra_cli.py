"""Whole runs through the command line against the emulator, on SQLite and PostgreSQL: what the
product stored is read back with `accounts list --json` and from the sync state (SPEC §5, §13)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.conftest import Workspace
from tests.entra_id.conftest import entra_keys
from tests.entra_id.emulator import EntraEmulator, make_user
from tests.support.configs import person

ROOT = Path(__file__).resolve().parents[2]


def uid(n: int) -> str:
    return str(make_user(n)["id"])


def statuses(workspace: Workspace) -> dict[str, str]:
    return {name: account["status"] for name, account in workspace.accounts().items()}


def stored_watermark(workspace: Workspace) -> str | None:
    engine = sa.create_engine(workspace.database_url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT watermark FROM sync_state WHERE tenant_id = 'acme'")
            value = conn.execute(query).scalar()
    finally:
        engine.dispose()
    return None if value is None else str(value)


def entra_tenant(workspace: Workspace, emulator: EntraEmulator, **keys: Any) -> None:
    workspace.tenant["source"] = entra_keys(emulator, **keys)
    workspace.configure()


def test_full_then_delta_then_an_expired_link_read_in_full(
    workspace: Workspace, emulator: EntraEmulator
) -> None:
    emulator.update(uid(7), accountEnabled=False)
    entra_tenant(workspace, emulator)

    first = workspace.sync()

    assert (first["exit"], first["status"], first["full"]) == (0, "succeeded", True)
    assert first["source"] == {"kind": "entra_id", "users_read": 7}
    accounts = workspace.accounts()
    # named by the mail's local part; user 7's account is disabled in Entra: no account
    assert sorted(accounts) == [f"user{n}" for n in range(1, 7)]
    assert accounts["user1"]["source_id"] == uid(1)
    assert accounts["user1"]["primary_email"] == "user1@contoso.example"
    link = stored_watermark(workspace)
    assert link is not None and link.startswith(f"{emulator.url}/v1.0/users/delta?%24deltatoken=")

    emulator.update(uid(2), accountEnabled=False)
    emulator.delete(uid(3))
    emulator.update(uid(4), surname="Renamed")
    emulator.add(make_user(8))
    second = workspace.sync()

    assert (second["status"], second["full"]) == ("succeeded", False)
    assert second["source"]["users_read"] == 3  # 2, 4 and 8; 3 is a removal
    counts = second["counts"]
    assert (counts["created"], counts["updated"], counts["disabled"]) == (1, 1, 2)
    assert statuses(workspace) == {
        "user1": "active",
        "user2": "disabled",  # accountEnabled = false
        "user3": "disabled",  # @removed
        "user4": "active",
        "user5": "active",
        "user6": "active",
        "user8": "active",
    }
    assert stored_watermark(workspace) not in (None, link)
    delta = [q for _, path, q in emulator.requests if path == "/v1.0/users/delta"]
    [followed] = [q for q in delta if "$deltatoken" in q]  # the stored link, as given
    assert "$select" not in followed and followed is delta[-2]  # then its next link

    # Graph forgot the sync state: the run reads everything, so the absent user 5 is gone
    emulator.expire_delta_tokens()
    emulator.users = [u for u in emulator.users if u["id"] != uid(5)]
    third = workspace.sync()

    assert (third["status"], third["full"]) == ("succeeded", True)
    assert third["counts"]["disabled"] == 1 and statuses(workspace)["user5"] == "disabled"
    assert sum(1 for _, _, q in emulator.requests if "$deltatoken" in q) == 2


def test_a_throttling_storm_fails_the_run_and_disables_nobody(
    workspace: Workspace, emulator: EntraEmulator
) -> None:
    entra_tenant(workspace, emulator)
    assert workspace.sync()["status"] == "succeeded"
    emulator.delete(uid(1))
    emulator.script = {n: "429" for n in range(emulator.graph_requests + 1, 500)}
    emulator.retry_after = "0.1"

    report = workspace.sync("--full")

    assert report["status"] == "failed" and report["exit"] != 0
    assert "HTTP 429 TooManyRequests" in report["error"]
    assert "retried for up to 0.5 s" in report["error"]
    assert set(statuses(workspace).values()) == {"active"}


def test_a_missing_permission_fails_the_run_with_what_to_grant(
    workspace: Workspace, emulator: EntraEmulator
) -> None:
    entra_tenant(workspace, emulator)
    emulator.permissions = set()

    report = workspace.sync()

    assert report["status"] == "failed"
    assert "User.Read.All and GroupMember.Read.All" in report["error"]
    assert workspace.accounts() == {}


def test_an_entra_lookup_gives_the_name_to_a_csv_directory(
    workspace: Workspace, emulator: EntraEmulator
) -> None:
    workspace.users([person(n, employee_code=f"E{n:04d}") for n in (1, 2, 9)])
    workspace.tenant["account_name_source"] = "google_workspace_email"
    workspace.tenant["lookups"] = [
        {
            **entra_keys(emulator),
            "match_on": "employee_code",
            "attributes.google_workspace_email": "userPrincipalName",
        }
    ]
    workspace.configure()

    report = workspace.sync()

    assert report["status"] == "succeeded"
    accounts = workspace.accounts()
    assert sorted(accounts) == [
        "user1@contoso.onmicrosoft.com",
        "user2@contoso.onmicrosoft.com",
    ]
    assert accounts["user1@contoso.onmicrosoft.com"]["source_id"] == "u-00001"
    assert [(i["source_id"], i["reason"], i["detail"]) for i in report["issues"]] == [
        ("u-00009", "no_lookup_match", "entra_id by employee_code")
    ]
    select = next(q for _, p, q in emulator.requests if p == "/v1.0/users/delta")["$select"][0]
    assert "userPrincipalName" in select.split(",") and "employeeId" in select.split(",")


def test_the_installed_command_syncs_with_a_certificate(
    tmp_path: Path, emulator: EntraEmulator, app_certificate: Any
) -> None:
    """`python -m sync` in a process of its own, trusting the emulator through
    REQUESTS_CA_BUNDLE as an administrator would for a TLS-inspecting proxy."""
    keys = entra_keys(emulator, certificate_file=str(app_certificate.pem_file))
    del keys["client_secret_env"]
    config = tmp_path / "clomo-sync.toml"
    from tests.support.configs import write_config

    tenant = {"id": "acme", "account_name_source": "employee_code", "auth_type": "saml"}
    write_config(config, f"sqlite:///{tmp_path}/store.db", tmp_path / "outbox", [
        {**tenant, "source": keys}
    ])  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CLOMO_")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sync", "--config", str(config), *args],
            cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    done = cli("sync", "--tenant", "acme")
    assert done.returncode == 0, done.stderr
    assert (
        "succeeded (run " in done.stdout and "full read of entra_id, 7 users read)" in done.stdout
    )
    listed = cli("accounts", "list", "--tenant", "acme")
    assert all(f"e{n:04d}" in listed.stdout.lower() for n in range(1, 8)), listed.stdout


def test_a_wrong_secret_fails_the_run_naming_the_variable_not_the_value(
    workspace: Workspace, emulator: EntraEmulator, monkeypatch: Any
) -> None:
    entra_tenant(workspace, emulator)
    monkeypatch.setenv("CLOMO_TEST_ENTRA_SECRET", "wrong-secret-value-123")

    result = workspace.cli("sync", "--tenant", "acme", "--json")
    history = workspace.cli("runs", "list", "--tenant", "acme", "--json")

    [report] = result.json_lines()
    assert report["status"] == "failed" and result.code != 0
    assert "client_secret_env CLOMO_TEST_ENTRA_SECRET" in report["error"]
    assert "AADSTS7000215" in report["error"]
    assert "AADSTS7000215" in history.out  # the stored run keeps the reason
    for text in (result.out, result.err, history.out, history.err):
        assert "wrong-secret-value-123" not in text


def test_config_check_names_an_unset_secret_variable_and_an_absent_certificate(
    workspace: Workspace, emulator: EntraEmulator, monkeypatch: Any
) -> None:
    entra_tenant(workspace, emulator)
    workspace.tenant["lookups"] = [
        {**entra_keys(emulator, certificate_file="/nonexistent/app.pem"), "match_on": "email"}
    ]
    del workspace.tenant["lookups"][0]["client_secret_env"]
    workspace.configure()
    monkeypatch.delenv("CLOMO_TEST_ENTRA_SECRET")

    result = workspace.cli("config", "check")

    assert result.code != 0
    assert "tenants[acme].source.client_secret" in result.err
    assert "CLOMO_TEST_ENTRA_SECRET is not set" in result.err
    assert "tenants[acme].lookups[0].certificate_file: /nonexistent/app.pem does not exist" in (
        result.err
    )


def test_removals_beyond_max_disable_are_withheld_until_allowed(
    workspace: Workspace, emulator: EntraEmulator
) -> None:
    workspace.tenant["max_disable"] = 1
    entra_tenant(workspace, emulator)
    assert workspace.sync()["status"] == "succeeded"
    emulator.delete(uid(1))
    emulator.delete(uid(2))
    emulator.update(uid(4), surname="Renamed")

    blocked = workspace.sync()

    assert (blocked["status"], blocked["full"]) == ("blocked", False)
    assert "more than max_disable = 1" in blocked["error"]
    assert set(statuses(workspace).values()) == {"active"}
    assert blocked["counts"]["updated"] == 1  # the rest of the plan is applied

    # the delta link moved on: a full read finds both absent, and the operator allows it
    allowed = workspace.sync("--full", "--allow-mass-disable")

    assert (allowed["status"], allowed["full"], allowed["counts"]["disabled"]) == (
        "succeeded",
        True,
        2,
    )
    assert statuses(workspace)["user1"] == statuses(workspace)["user2"] == "disabled"
