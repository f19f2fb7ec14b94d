"""An LDAP tenant end to end: `python -m sync` as a subprocess against slapd, SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.ldap.conftest import MakeSlapd
from tests.support import slapd as S
from tests.support.configs import write_config

ROOT = Path(__file__).resolve().parents[2]
PASSWORD_ENV = "ACME_LDAP_PASSWORD"


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "clomo-sync.toml"

    def configure(self, url: str) -> None:
        tenant = {
            "id": "acme",
            "account_name_source": "email_local_part",
            "reset_url": "https://panel.example.com/reset?token={token}",
            "source": {
                "kind": "ldap",
                "url": url,
                "bind_dn": S.SYNC_DN,
                "password_env": PASSWORD_ENV,
                "base_dn": S.PEOPLE,
                "page_size": 2,
                "retry_seconds": 0,
            },
        }
        write_config(self.config, f"sqlite:///{self.root}/store.db", self.root / "outbox", [tenant])

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, PASSWORD_ENV: S.SYNC_PW}
        return subprocess.run(
            [sys.executable, "-m", "sync", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=120,
            check=False,
        )

    def sync(self, *args: str) -> tuple[int, dict[str, Any]]:
        done = self.run("sync", "--tenant", "acme", "--json", *args)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        assert len(lines) == 1, (done.stdout, done.stderr)
        return done.returncode, json.loads(lines[0])

    def accounts(self) -> dict[str, str]:
        done = self.run("accounts", "list", "--tenant", "acme", "--json")
        assert done.returncode == 0, done.stderr
        return {a["name"]: a["status"] for a in json.loads(done.stdout)}


def test_ldap_tenant_full_delta_and_a_cut_read(make_slapd: MakeSlapd, tmp_path: Path) -> None:
    people = [*S.people(4), S.openldap_person(5, locked=True)]
    server = make_slapd(people)
    # the same people behind a size limit smaller than the directory
    limited = make_slapd(people, database_lines=(f'limits dn.exact="{S.SYNC_DN}" size=3',))
    cli = Cli(tmp_path)
    cli.configure(server.url)

    code, report = cli.sync()
    assert (code, report["status"], report["full"]) == (0, "succeeded", True)
    assert report["source"] == {"kind": "ldap", "users_read": 5}
    assert cli.accounts() == {
        "u000001": "active",
        "u000002": "active",
        "u000003": "active",
        "u000004": "active",
    }  # the locked person gets no new account

    server.admin().delete(f"uid=u000002,{S.PEOPLE}")
    code, report = cli.sync()  # a delta run (the last full read is recent): cannot see it
    assert (code, report["status"], report["full"]) == (0, "succeeded", False)
    assert report["counts"]["disabled"] == 0

    cli.configure(limited.url)
    code, report = cli.sync("--full")  # the server stops after 3 people: nobody is disabled
    assert (code, report["status"]) == (1, "failed")
    assert "sizeLimitExceeded" in report["error"]
    assert cli.accounts()["u000002"] == "active"

    cli.configure(server.url)
    code, report = cli.sync("--full")  # a full read sees the deletion
    assert (code, report["status"], report["counts"]["disabled"]) == (0, "succeeded", 1)
    assert cli.accounts() == {
        "u000001": "active",
        "u000002": "disabled",
        "u000003": "active",
        "u000004": "active",
    }
