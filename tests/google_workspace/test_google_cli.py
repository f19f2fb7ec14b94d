"""Whole runs through the command line (`python -m sync`, a subprocess) against the emulator,
with a TOML configuration and a SQLite store: what the product did is read back with
`accounts list --json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.google_workspace.conftest import google_keys
from tests.google_workspace.google_emulator import GoogleEmulator, make_user
from tests.support.configs import person, write_config, write_users

ROOT = Path(__file__).resolve().parents[2]


class Deployment:
    """A configuration file, a store and the CLI, as an administrator would run them."""

    def __init__(self, root: Path, emulator: GoogleEmulator, key_file: Path) -> None:
        self.root = root
        self.config = root / "clomo-sync.toml"
        self.google = google_keys(emulator, key_file)

    def configure(self, *tenants: dict[str, Any]) -> None:
        database = f"sqlite:///{self.root / 'store.db'}"
        write_config(self.config, database, self.root / "outbox", tenants)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CLOMO_SYNC_")}
        return subprocess.run(
            [sys.executable, "-m", "sync", "--config", str(self.config), *args],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def sync(self, *tenants: str) -> tuple[int, dict[str, dict[str, Any]]]:
        selected = [arg for tenant in tenants for arg in ("--tenant", tenant)]
        done = self.cli("sync", *selected, "--full", "--json")
        reports = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        assert len(reports) == len(tenants), done.stderr
        return done.returncode, {report["tenant"]: report for report in reports}

    def accounts(self, tenant: str) -> dict[str, dict[str, Any]]:
        done = self.cli("accounts", "list", "--tenant", tenant, "--json")
        assert done.returncode == 0, done.stderr
        return {account["name"]: account for account in json.loads(done.stdout)}


def google_tenant(deployment: Deployment, **keys: Any) -> dict[str, Any]:
    return {
        "id": "acme",
        "account_name_source": "email_local_part",
        "auth_type": "google",
        "source": deployment.google,
        **keys,
    }


def test_a_google_tenant_is_synced_retried_disabled_and_kept_on_failure(
    tmp_path: Path, emulator: GoogleEmulator, key_file: Path
) -> None:
    deployment = Deployment(tmp_path, emulator, key_file)
    deployment.configure(google_tenant(deployment))
    emulator.users = [make_user(n) for n in range(1, 1202)]
    emulator.users[4] = make_user(5, primaryEmail="Hanako.Sato@Example.COM")
    emulator.fail(1, 429, "rateLimitExceeded", "Quota exceeded", times=2)
    emulator.fail(2, 503)  # in the middle of paging

    code, reports = deployment.sync("acme")

    first = reports["acme"]
    assert (code, first["status"], first["error"]) == (0, "succeeded", None)
    assert first["source"] == {"kind": "google_workspace", "users_read": 1201}
    assert first["counts"]["created"] == 1201
    assert emulator.pages_requested() == [1, 1, 1, 2, 2, 3]

    # suspended and archived users are disabled on the next run
    emulator.users[1]["suspended"] = True
    emulator.users[2]["archived"] = True
    code, reports = deployment.sync("acme")
    assert (code, reports["acme"]["counts"]["disabled"]) == (0, 2)

    # a listing that fails for good on page 2 fails the run: the 101 users gone from the
    # directory keep their accounts, as do those on the pages it never reached
    del emulator.users[1100:]
    emulator.fail(2, 503, times=None)
    code, reports = deployment.sync("acme")
    failed = reports["acme"]
    assert (code, failed["status"]) == (1, "failed")
    assert "stopped after 500 users (1 page): HTTP 503" in failed["error"]
    assert failed["counts"]["disabled"] == 0

    # once Google answers again the same users are disabled: the failed run held them back
    emulator.recover()
    code, reports = deployment.sync("acme")
    assert (code, reports["acme"]["counts"]["disabled"]) == (0, 101)

    accounts = deployment.accounts("acme")
    assert len(accounts) == 1201
    disabled = sorted(name for name, a in accounts.items() if a["status"] == "disabled")
    assert disabled == ["user00002", "user00003"] + [f"user{n:05d}" for n in range(1101, 1202)]
    assert accounts["hanako.sato"]["primary_email"] == "hanako.sato@example.com"
    assert accounts["user01100"]["status"] == "active"
    assert accounts["user00001"]["source_id"] == make_user(1)["id"]


def test_csv_tenants_take_their_names_from_google_through_a_lookup(
    tmp_path: Path, emulator: GoogleEmulator, key_file: Path
) -> None:
    """The issue asks for an LDAP tenant; main has no LDAP source yet, so the tenant's own
    directory is a CSV export: the lookup join does not depend on the main source's kind."""
    deployment = Deployment(tmp_path, emulator, key_file)
    emulator.users = [
        make_user(
            1,
            primaryEmail="taro.yamada@example.com",
            emails=[
                {"address": "taro.yamada@example.com", "primary": True},
                {"address": "t.yamada@example.co.jp"},  # a secondary address
            ],
            externalIds=[{"value": "E00001", "type": "organization"}],
        ),
        make_user(2, primaryEmail="Hanako.Sato@Example.com", emails=[]),
        make_user(3, externalIds=[{"value": "E00003", "type": "organization"}]),
        make_user(4, name={}),  # a user without names
    ]
    directory = write_users(
        tmp_path / "directory.csv",
        [
            person(1, primary_email="t.yamada@example.co.jp"),
            person(2, primary_email="hanako.sato@example.com"),
            person(3, primary_email="someone.else@example.net", employee_code="E00003"),
            person(9, primary_email="nobody@example.net"),
        ],
    )
    csv_source = {"kind": "csv", "path": str(directory)}
    deployment.configure(
        google_tenant(
            deployment,
            id="by-email",
            account_name_source="google_workspace_email",
            source=csv_source,
            lookups=[{**deployment.google, "match_on": "email"}],
        ),
        google_tenant(
            deployment,
            id="by-code",
            account_name_source="google_workspace_email",
            source=csv_source,
            lookups=[{**deployment.google, "match_on": "employee_code"}],
        ),
        google_tenant(
            deployment,
            id="named",
            account_name_source="custom",
            custom_template="{family_name}.{given_name}",
        ),
    )

    code, reports = deployment.sync("by-email", "by-code", "named")

    assert code == 0 and {r["status"] for r in reports.values()} == {"succeeded"}
    by_email = deployment.accounts("by-email")
    # a secondary address matches, and so does an address Google holds with capitals
    assert sorted(by_email) == ["hanako.sato@example.com", "taro.yamada@example.com"]
    assert by_email["taro.yamada@example.com"]["source_id"] == "u-00001"
    assert sorted(
        (i["source_id"], i["reason"], i["detail"]) for i in reports["by-email"]["issues"]
    ) == [
        ("u-00003", "no_lookup_match", "google_workspace by email"),
        ("u-00009", "no_lookup_match", "google_workspace by email"),
    ]
    by_code = deployment.accounts("by-code")
    assert sorted(by_code) == [
        "hanako.sato@example.com",
        "taro.yamada@example.com",
        "user00003@example.com",
    ]
    assert by_code["user00003@example.com"]["source_id"] == "u-00003"
    assert [(i["source_id"], i["reason"]) for i in reports["by-code"]["issues"]] == [
        ("u-00009", "no_lookup_match")
    ]
    # a Google user without names gets no account under a name template, and is reported
    named = deployment.accounts("named")
    assert sorted(named) == ["Family1.Given1", "Family2.Given2", "Family3.Given3"]
    assert [(i["source_id"], i["reason"]) for i in reports["named"]["issues"]] == [
        (make_user(4)["id"], "missing_attribute")
    ]
