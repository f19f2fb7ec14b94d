"""A tenant synced end to end through the command line, on SQLite and PostgreSQL (SPEC §5)."""

from __future__ import annotations

import email
import json
import re
from email.policy import default as default_policy
from pathlib import Path

from sqlalchemy import create_engine, func, select

from sync.mail.tokens import hash_token
from sync.store.schema import outbox, reset_tokens
from tests.conftest import Workspace
from tests.support.configs import person, write_users
from tests.support.snapshot import store_rows, table_names

REPORT_KEYS = [
    "tenant",
    "run_id",
    "status",
    "dry_run",
    "full",
    "on_demand",  # SPEC §18: a run of one person (`sync --only`)
    "started_at",
    "finished_at",
    "source",
    "counts",
    "issues",
    "error",
]
COUNT_KEYS = [
    "created",
    "updated",
    "renamed",
    "disabled",
    "enabled",
    "unchanged",
    "skipped",
    "conflicts",
    "emails_queued",
]


def test_first_run_creates_accounts_and_writes_one_email_each(workspace: Workspace) -> None:
    report = workspace.sync()
    assert list(report)[:-1] == REPORT_KEYS and list(report["counts"]) == COUNT_KEYS
    assert report["status"] == "succeeded" and report["exit"] == 0
    assert report["source"] == {"kind": "csv", "users_read": 5}
    assert report["counts"]["created"] == 5 and report["counts"]["emails_queued"] == 5
    assert sorted(workspace.accounts()) == [f"user{n}" for n in range(1, 6)]
    letters = [
        email.message_from_bytes(p.read_bytes(), policy=default_policy) for p in workspace.emails()
    ]
    assert sorted(str(m["To"]) for m in letters) == [f"user{n}@example.com" for n in range(1, 6)]
    assert all("CLOMO" in str(m["Subject"]) for m in letters)


def test_second_run_with_same_input_changes_and_queues_nothing(workspace: Workspace) -> None:
    workspace.sync()
    report = workspace.sync()
    assert report["counts"] == dict.fromkeys(COUNT_KEYS, 0) | {"unchanged": 5}
    assert len(workspace.emails()) == 5


def test_link_token_is_stored_only_as_hash_and_erased_after_delivery(workspace: Workspace) -> None:
    workspace.sync()
    body = email.message_from_bytes(workspace.emails()[0].read_bytes(), policy=default_policy)
    text = body.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    token = re.search(r"token=([A-Za-z0-9_\-]+)", text).group(1)  # type: ignore[union-attr]
    assert len(token) >= 43  # 256 bits in URL-safe base64
    engine = create_engine(workspace.database_url)
    with engine.connect() as conn:
        hashes = set(conn.execute(select(reset_tokens.c.token_hash)).scalars())
        stored_tokens = set(conn.execute(select(outbox.c.token)).scalars())
    engine.dispose()
    assert hash_token(token) in hashes and token not in hashes
    assert stored_tokens == {None}


def test_collisions_reserved_and_full_width_codes(workspace: Workspace) -> None:
    workspace.users(
        [
            person(1, primary_email="taro@example.com"),
            person(2, primary_email="taro@example.co.jp"),
            person(3, primary_email="admin@example.com"),
            person(4, primary_email="", employee_code="ＥＭＰ００４"),
        ]
    )
    report = workspace.sync()
    assert sorted(workspace.accounts()) == ["admin-2", "taro", "taro-2"]
    assert report["issues"] == [
        {
            "source_id": "u-00004",
            "reason": "missing_attribute",
            "detail": "primary_email",
            # SPEC §18: named as the administrator knows the person, the code as the file has it
            "person": {"display_name": "User 4", "employee_code": "ＥＭＰ００４"},
        }
    ]
    assert report["counts"]["skipped"] == 1
    workspace.configure(account_name_source="employee_code")
    workspace.users([person(4, primary_email="", employee_code="ＥＭＰ００４")])
    workspace.sync("--allow-mass-disable")
    assert "EMP004" in workspace.accounts()


def test_reject_policy_reports_the_holder(workspace: Workspace) -> None:
    workspace.configure(collision="reject")
    workspace.users(
        [person(1, primary_email="taro@a.example"), person(2, primary_email="taro@b.example")]
    )
    report = workspace.sync()
    assert sorted(workspace.accounts()) == ["taro"]
    assert report["issues"] == [
        {
            "source_id": "u-00002",
            "reason": "name_conflict",
            "detail": "taro",
            "person": {
                "display_name": "User 2",
                "email": "taro@b.example",
                "employee_code": "E00002",
            },
        }
    ]
    assert report["counts"]["conflicts"] == 1 and report["counts"]["skipped"] == 0


def test_email_change_renames_and_quarantines_the_old_name(workspace: Workspace) -> None:
    workspace.users([person(1, primary_email="taro@example.com")])
    workspace.sync()
    workspace.users(
        [
            person(1, primary_email="taro.yamada@example.com"),
            person(2, primary_email="taro@example.org"),
        ]
    )
    report = workspace.sync()
    assert report["counts"]["renamed"] == 1 and report["counts"]["created"] == 1
    accounts = workspace.accounts()
    assert accounts["taro.yamada"]["source_id"] == "u-00001"
    # the released name is in quarantine: the newcomer does not get it
    assert accounts["taro-2"]["source_id"] == "u-00002"
    kinds = sorted(m.split("@")[0] for m in _kinds(workspace))
    assert kinds == ["account_created", "account_created", "account_renamed"]


def test_suffixed_account_is_never_promoted(workspace: Workspace) -> None:
    workspace.users(
        [person(1, primary_email="taro@a.example"), person(2, primary_email="taro@b.example")]
    )
    workspace.sync()
    workspace.users([person(2, primary_email="taro@b.example")])
    report = workspace.sync()
    assert report["counts"]["disabled"] == 1 and report["counts"]["renamed"] == 0
    assert workspace.accounts()["taro-2"]["status"] == "active"
    assert workspace.accounts()["taro"]["status"] == "disabled"


def test_inactive_disables_and_returning_enables(workspace: Workspace) -> None:
    workspace.sync()
    workspace.users([person(n, active="false" if n == 1 else "true") for n in range(1, 6)])
    assert workspace.sync()["counts"]["disabled"] == 1
    assert workspace.accounts()["user1"]["status"] == "disabled"
    workspace.users([person(n) for n in range(1, 6)])
    report = workspace.sync()
    # SPEC §10: re-enabled without ever having set a password, it is invited again
    assert report["counts"]["enabled"] == 1 and report["counts"]["emails_queued"] == 1
    assert len(workspace.emails()) == 6


def test_profile_change_is_an_update(workspace: Workspace) -> None:
    workspace.sync()
    workspace.users(
        [person(n, display_name="新しい名前" if n == 3 else f"User {n}") for n in range(1, 6)]
    )
    report = workspace.sync()
    assert report["counts"]["updated"] == 1 and report["counts"]["unchanged"] == 4
    assert workspace.accounts()["user3"]["display_name"] == "新しい名前"


def test_missing_attribute_leaves_an_existing_account_alone(workspace: Workspace) -> None:
    workspace.sync()
    workspace.users(
        [person(n, primary_email="" if n == 2 else f"user{n}@example.com") for n in range(1, 6)]
    )
    report = workspace.sync()
    assert report["counts"]["disabled"] == 0 and report["counts"]["renamed"] == 0
    assert report["issues"][0]["reason"] == "missing_attribute"
    assert "left unchanged" in report["issues"][0]["detail"]
    assert workspace.accounts()["user2"]["status"] == "active"


def test_mass_disable_is_blocked_then_allowed(workspace: Workspace) -> None:
    workspace.configure(max_disable=2)
    workspace.sync()
    workspace.users([person(1)])
    report = workspace.sync()
    assert report["status"] == "blocked" and report["exit"] == 3
    assert "max_disable" in report["error"]
    assert all(a["status"] == "active" for a in workspace.accounts().values())
    report = workspace.sync("--allow-mass-disable")
    assert report["status"] == "succeeded" and report["counts"]["disabled"] == 4


def test_empty_directory_disables_nobody(workspace: Workspace) -> None:
    workspace.sync()
    workspace.users([])
    report = workspace.sync()
    assert report["status"] == "blocked" and report["exit"] == 3
    assert "no users" in report["error"]
    assert all(a["status"] == "active" for a in workspace.accounts().values())


def test_dry_run_prints_the_plan_and_writes_nothing(workspace: Workspace) -> None:
    report = workspace.sync("--dry-run")
    assert report["status"] == "planned" and report["dry_run"] is True
    assert report["counts"]["created"] == 5
    assert [c["actions"] for c in report["plan"]] == [["create"]] * 5
    assert workspace.accounts() == {} and workspace.emails() == []
    assert workspace.cli("runs", "list", "--json").out.strip() == "[]"


def test_dry_run_creates_no_store(workspace: Workspace) -> None:
    report = workspace.sync("--dry-run")
    assert report["status"] == "planned" and report["counts"]["created"] == 5
    if workspace.database_url.startswith("sqlite"):
        assert not Path(workspace.database_url.removeprefix("sqlite:///")).exists()
        assert not list(workspace.root.glob("*.locks"))
    else:
        assert table_names(workspace.database_url) == set()


def test_dry_run_changes_no_row_of_an_existing_store(workspace: Workspace) -> None:
    workspace.sync()
    workspace.users([person(n) for n in range(2, 8)])  # one gone, two new
    before = store_rows(workspace.database_url)
    report = workspace.sync("--dry-run")
    assert report["counts"]["created"] == 2 and report["counts"]["disabled"] == 1
    assert store_rows(workspace.database_url) == before
    assert len(workspace.emails()) == 5


def test_failed_read_is_recorded_and_exits_1(workspace: Workspace) -> None:
    workspace.sync()
    workspace.csv.unlink()
    report = workspace.sync()
    assert report["status"] == "failed" and report["exit"] == 1
    assert "not found" in report["error"]
    assert all(a["status"] == "active" for a in workspace.accounts().values())
    runs = workspace.cli("runs", "list", "--tenant", "acme", "--json")
    assert [r["status"] for r in json.loads(runs.out)] == ["failed", "succeeded"]


def test_federated_accounts_get_no_email(workspace: Workspace) -> None:
    workspace.configure(auth_type="saml")
    report = workspace.sync()
    assert report["counts"]["created"] == 5 and report["counts"]["emails_queued"] == 0
    assert workspace.emails() == []
    assert {a["auth_type"] for a in workspace.accounts().values()} == {"saml"}


def test_missing_email_is_reported_for_password_accounts(workspace: Workspace) -> None:
    workspace.configure(account_name_source="employee_code")
    workspace.users([person(1, primary_email="")])
    report = workspace.sync()
    assert report["counts"]["created"] == 1 and report["counts"]["emails_queued"] == 0
    assert report["issues"] == [
        {
            "source_id": "u-00001",
            "reason": "missing_email",
            "detail": "primary_email",
            "person": {"display_name": "User 1", "employee_code": "E00001"},
        }
    ]


def test_duplicate_source_ids_are_reported_and_not_disabled(workspace: Workspace) -> None:
    workspace.sync()
    users = [person(n) for n in range(1, 6)] + [person(3, primary_email="other@example.com")]
    workspace.users(users)
    report = workspace.sync()
    assert {
        "source_id": "u-00003",
        "reason": "duplicate_source_id",
        "detail": "the source returned this id more than once",
        "person": {},  # two rows, two people: neither names the id
    } in report["issues"]
    assert workspace.accounts()["user3"]["status"] == "active"


def test_custom_template_and_csv_lookup(workspace: Workspace, tmp_path: Path) -> None:
    lookup_csv = tmp_path / "google.csv"
    lookup_csv.write_text(
        "source_id,primary_email,google_workspace_email,emails,employee_code\n"
        "g1,user1@corp.example,user1@corp.example,user1@example.com,\n"
        "g2,user2@example.com,u2@corp.example,,\n",
        encoding="utf-8",
    )
    workspace.configure(
        account_name_source="google_workspace_email",
        lookups=[{"kind": "csv", "path": str(lookup_csv), "match_on": "email"}],
    )
    workspace.users([person(1), person(2), person(3)])
    report = workspace.sync()
    assert sorted(workspace.accounts()) == ["u2@corp.example", "user1@corp.example"]
    assert report["issues"] == [
        {
            "source_id": "u-00003",
            "reason": "no_lookup_match",
            "detail": "csv by email",
            "person": {
                "display_name": "User 3",
                "email": "user3@example.com",
                "employee_code": "E00003",
            },
        }
    ]


def test_tenants_are_isolated(workspace: Workspace, tmp_path: Path) -> None:
    other_csv = tmp_path / "other.csv"
    write_users(other_csv, [person(1, primary_email="user1@other.example")])
    workspace.extra_tenants = [
        {
            "id": "other",
            "account_name_source": "email_local_part",
            "auth_type": "google",
            "source": {"kind": "csv", "path": str(other_csv)},
        }
    ]
    workspace.configure()
    result = workspace.cli("sync", "--all", "--json")
    assert result.code == 0
    assert [r["counts"]["created"] for r in result.json_lines()] == [5, 1]
    other = workspace.cli("accounts", "list", "--tenant", "other", "--json")
    assert [a["name"] for a in json.loads(other.out)] == ["user1"]


def test_unknown_tenant_and_account_are_usage_errors(workspace: Workspace) -> None:
    assert workspace.cli("sync", "--tenant", "nobody").code == 2
    result = workspace.cli("accounts", "show", "--tenant", "acme", "ghost")
    assert result.code == 2 and "ghost" in result.err


def _kinds(workspace: Workspace) -> list[str]:
    engine = create_engine(workspace.database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.kind, func.count()).group_by(outbox.c.kind))
        kinds = [f"{kind}@{n}" for kind, n in rows for _ in range(n)]
    engine.dispose()
    return kinds


def test_accounts_show_keeps_one_field_per_line(workspace: Workspace) -> None:
    """A display name read from a CSV with a line break in it (a quoted field) is shown escaped:
    it cannot forge a line of `accounts show`."""
    workspace.users([person(1, display_name="Taro\nrole           system_admin")])
    workspace.sync()
    shown = workspace.cli("accounts", "show", "--tenant", "acme", "user1").out.splitlines()
    display = [line for line in shown if line.startswith("display_name")]
    assert display == ["display_name   'Taro\\nrole           system_admin'"]
    assert [line for line in shown if line.startswith("role ")] == ["role           none"]
