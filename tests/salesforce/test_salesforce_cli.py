"""The whole product against the emulator: `python -m sync` run as a subprocess with a TOML
configuration and a SQLite store, checked through `accounts list --json` (SPEC §5, §7)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.salesforce.emulator import SalesforceEmulator, stamp
from tests.salesforce.helpers import EPOCH, JwtKeys, Tls, salesforce_keys
from tests.support.configs import write_config

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Cli:
    root: Path
    tenant: dict[str, Any]

    @property
    def config(self) -> Path:
        return self.root / "clomo-sync.toml"

    def write(self) -> None:
        write_config(
            self.config, f"sqlite:///{self.root}/store.db", self.root / "outbox", [self.tenant]
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sync", "--config", str(self.config), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def sync(self, *args: str) -> dict[str, Any]:
        done = self.run("sync", "--tenant", "acme", "--json", *args)
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, (done.stdout, done.stderr)
        report: dict[str, Any] = lines[0]
        report["exit"] = done.returncode
        return report

    def accounts(self) -> dict[str, dict[str, Any]]:
        done = self.run("accounts", "list", "--tenant", "acme", "--json")
        assert done.returncode == 0, done.stderr
        return {account["name"]: account for account in json.loads(done.stdout)}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(
        tmp_path,
        {
            "id": "acme",
            "account_name_source": "salesforce_account",
            "reset_url": "https://panel.example.com/reset?token={token}",
        },
    )


def test_salesforce_as_the_directory_full_then_delta(
    cli: Cli, emulator: SalesforceEmulator, tls: Tls, jwt_keys: JwtKeys
) -> None:
    cli.tenant["source"] = salesforce_keys(emulator, tls, jwt_keys)
    cli.write()

    first = cli.sync()

    assert first["status"] == "succeeded" and first["exit"] == 0 and first["full"] is True
    assert first["source"] == {"kind": "salesforce", "users_read": 7}
    accounts = cli.accounts()
    # named by Username; user 3 is inactive in Salesforce, so it never gets an account
    assert sorted(accounts) == [f"user{n}@acme.example.sfdc" for n in (1, 2, 4, 5, 6, 7)]
    assert accounts["user1@acme.example.sfdc"]["primary_email"] == "user1@acme.example"
    # user 5 has no email: its account exists, but no reset email can be sent
    assert accounts["user5@acme.example.sfdc"]["primary_email"] is None
    assert ("005000000000000005", "missing_email") in {
        (i["source_id"], i["reason"]) for i in first["issues"]
    }

    # Salesforce deactivates user 2; the next run is a delta by SystemModstamp
    users = {u["Id"][-1]: u for u in emulator.users}
    users["2"].update(IsActive=False, SystemModstamp=stamp(EPOCH + dt.timedelta(days=30)))
    second = cli.sync()

    assert second["full"] is False and second["status"] == "succeeded"
    assert second["counts"]["disabled"] == 1
    assert "SystemModstamp >= 2024-01-08T08:55:00Z" in emulator.queries[-1]
    statuses = {name: account["status"] for name, account in cli.accounts().items()}
    assert statuses.pop("user2@acme.example.sfdc") == "disabled"
    assert set(statuses.values()) == {"active"}


def test_the_api_limit_fails_the_run_and_disables_nobody(
    cli: Cli, emulator: SalesforceEmulator, tls: Tls, jwt_keys: JwtKeys
) -> None:
    cli.tenant["source"] = salesforce_keys(emulator, tls, jwt_keys)
    cli.write()
    assert cli.sync()["counts"]["created"] == 6
    # the allowance runs out at the second page: had the 3 users read so far been taken for
    # the whole directory, the other 3 would be disabled
    emulator.script = {emulator.data_requests + 2: "limit"}

    report = cli.sync("--full")

    assert report["status"] == "failed" and report["exit"] == 1
    assert "API request allowance for the last 24 hours is spent" in report["error"]
    statuses = {name: a["status"] for name, a in cli.accounts().items()}
    assert statuses["user7@acme.example.sfdc"] == "active"
    assert set(statuses.values()) == {"active"}


@pytest.mark.parametrize(
    ("match", "column"),
    [
        ({"match_on": "email"}, None),
        ({"match_on": "fed_id", "lookup_field": "FederationIdentifier"}, "fed_id"),
    ],
    ids=["by-email", "by-federation-id"],
)
def test_a_csv_tenant_named_by_salesforce_usernames_through_a_lookup(
    cli: Cli,
    emulator: SalesforceEmulator,
    tls: Tls,
    jwt_keys: JwtKeys,
    match: dict[str, str],
    column: str | None,
) -> None:
    people = cli.root / "people.csv"
    rows = [
        ("hr-1", "USER1@acme.example", "fed-1"),
        ("hr-2", "user2@acme.example", "fed-2"),
        ("hr-9", "nobody@acme.example", "fed-9"),  # not in Salesforce
    ]
    people.write_text(
        "source_id,primary_email,given_name,fed_id,employee_code,family_name,display_name,emails\n"
        + "".join(f"{i},{e},Name{i},{f},,,,\n" for i, e, f in rows),
        encoding="utf-8",
    )
    cli.tenant["source"] = {"kind": "csv", "path": str(people)}
    cli.tenant["lookups"] = [{**salesforce_keys(emulator, tls, jwt_keys), **match}]
    cli.write()

    report = cli.sync()

    assert report["status"] == "succeeded", report
    accounts = cli.accounts()
    assert sorted(accounts) == ["user1@acme.example.sfdc", "user2@acme.example.sfdc"]
    assert accounts["user1@acme.example.sfdc"]["source_id"] == "hr-1"  # the CSV user owns it
    assert [(i["source_id"], i["reason"]) for i in report["issues"]] == [
        ("hr-9", "no_lookup_match")
    ]
    lookup_query = emulator.queries[-1]
    assert "Username" in lookup_query
    assert ("FederationIdentifier" in lookup_query) == (column is not None)
