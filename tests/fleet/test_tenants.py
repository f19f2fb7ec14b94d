"""Tenants as data (SPEC §11) through the CLI, on SQLite and on PostgreSQL: `tenants apply`
(dry run, refusals naming every problem), the configuration file's own tenants, history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from sync.store.engine import open_store
from sync.store.schema import accounts, outbox
from sync.timeutil import utc_now
from tests.conftest import Workspace
from tests.support.configs import table

SECRET = "ldap-s3cret-value-1234"


def tenants_file(path: Path, tenants: list[dict[str, Any]]) -> Path:
    parts = []
    for tenant in tenants:
        plain = {k: v for k, v in tenant.items() if k != "source"}
        parts += [table("[[tenants]]", plain), table("[tenants.source]", tenant["source"])]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def beta(csv: Path, **keys: Any) -> dict[str, Any]:
    return {
        "id": "beta",
        "account_name_source": "email_local_part",
        "reset_url": "https://panel.example.com/reset?token={token}",
        "source": {"kind": "csv", "path": str(csv)},
        **keys,
    }


def test_apply_creates_updates_and_keeps_each_version(
    workspace: Workspace, monkeypatch: Any
) -> None:
    monkeypatch.setenv("USER", "operator-ann")
    file = tenants_file(workspace.root / "t.toml", [beta(workspace.csv)])

    dry = workspace.cli("tenants", "apply", str(file), "--dry-run")
    assert dry.code == 0 and "beta: would create" in dry.out, dry
    assert "beta" not in workspace.cli("tenants", "list").out

    done = workspace.cli("tenants", "apply", str(file))
    assert done.code == 0 and "beta: created" in done.out, done
    again = workspace.cli("tenants", "apply", str(file))
    assert again.out.strip() == "beta: unchanged"

    tenants_file(file, [beta(workspace.csv, schedule="15 * * * *", max_disable=7)])
    monkeypatch.setenv("USER", "operator-bob")
    changed = workspace.cli("tenants", "apply", str(file))
    assert changed.out.split() == ["beta:", "updated", "max_disable", "schedule"], changed

    listed = {t["id"]: t for t in json.loads(workspace.cli("tenants", "list", "--json").out)}
    assert listed["beta"]["origin"] == "store" and listed["beta"]["version"] == 2
    assert listed["acme"]["origin"] == "file"  # the configuration's own tenant
    assert listed["acme"]["origin_file"] == str(workspace.config.resolve())
    history = json.loads(workspace.cli("tenants", "history", "beta", "--json").out)
    assert [(v["version"], v["author"], v["changed"]) for v in history] == [
        (
            1,
            "operator-ann",
            ["account_name_source", "id", "reset_url", "source.kind", "source.path"],
        ),
        (2, "operator-bob", ["max_disable", "schedule"]),
    ]
    text = workspace.cli("tenants", "history", "beta").out
    assert "operator-bob" in text and "max_disable, schedule" in text

    # every command reads tenants from the store: the applied tenant syncs like a file's one
    report = workspace.cli("sync", "--tenant", "beta", "--json").json_lines()[0]
    assert report["status"] == "succeeded" and report["counts"]["created"] == 5
    # and tenants not in the applied file (acme) were left alone
    assert workspace.cli("tenants", "show", "acme", "--json").code == 0


def test_a_file_with_errors_is_refused_whole_naming_every_problem(workspace: Workspace) -> None:
    file = tenants_file(
        workspace.root / "bad.toml",
        [
            beta(workspace.csv),
            {
                "id": "gamma",
                "collision": "sometimes",
                "timezone": "Mars/Olympus",
                "source": {"kind": "ldap", "url": "http://x", "base_dn": "dc=x"},
            },
            {"id": "delta", "schedule": "every hour", "source": {"kind": "csv"}},
        ],
    )
    result = workspace.cli("tenants", "apply", str(file))
    assert result.code == 2
    problems = [line for line in result.err.splitlines() if line.startswith("configuration")]
    for key in (
        "tenants[gamma].collision",
        "tenants[gamma].timezone",
        "tenants[gamma].source.url",
        "tenants[delta].schedule",
        "tenants[delta].source.path",
    ):
        assert any(f"{file}: {key}:" in line for line in problems), (key, result.err)
    assert "beta" not in workspace.cli("tenants", "list").out, "nothing of the file was applied"


def test_the_configuration_files_tenants_are_changed_only_through_it(
    workspace: Workspace,
) -> None:
    workspace.cli("tenants", "list")  # provisions acme from the configuration file
    file = tenants_file(workspace.root / "t.toml", [{**workspace.tenant, "max_disable": 3}])
    refused = workspace.cli("tenants", "apply", str(file))
    assert refused.code == 2
    assert "tenants[acme]: provisioned from the configuration file" in refused.err
    assert str(workspace.config.resolve()) in refused.err
    shown = workspace.cli("tenants", "show", "acme")
    assert "read-only here" in shown.out

    workspace.configure(max_disable=3)  # changing the file changes the stored tenant
    workspace.cli("tenants", "list")
    history = json.loads(workspace.cli("tenants", "history", "acme", "--json").out)
    assert history[-1]["changed"] == ["max_disable"]
    assert history[-1]["author"] == f"configuration file {workspace.config.resolve()}"

    workspace.extra_tenants = [{**workspace.tenant, "id": "other"}]
    workspace.configure()
    assert "other" in workspace.cli("tenants", "list").out
    workspace.extra_tenants = []
    workspace.configure()
    listed = {t["id"]: t for t in json.loads(workspace.cli("tenants", "list", "--json").out)}
    assert listed["other"]["enabled"] is False  # gone from the file: kept, not run
    all_run = workspace.cli("sync", "--all", "--json").json_lines()
    assert [r["tenant"] for r in all_run] == ["acme"]


def test_show_and_history_never_print_a_secret(workspace: Workspace, monkeypatch: Any) -> None:
    monkeypatch.setenv("BETA_LDAP_PASSWORD", SECRET)
    ldap = {
        "id": "beta",
        "account_name_source": "email_local_part",
        "reset_url": "https://panel.example.com/reset?token={token}",
        "source": {
            "kind": "ldap",
            "url": "ldap://127.0.0.1:1",
            "base_dn": "dc=example,dc=com",
            "bind_dn": "cn=sync,dc=example,dc=com",
            "password_env": "BETA_LDAP_PASSWORD",
        },
    }
    file = tenants_file(workspace.root / "t.toml", [ldap])
    outputs = [workspace.cli("tenants", "apply", str(file))]
    outputs += [workspace.cli("tenants", "show", "beta", *flag) for flag in ((), ("--json",))]
    outputs += [workspace.cli("tenants", "history", "beta", "--json")]
    shown = json.loads(outputs[2].out)["settings"]["source"]
    assert shown["password_env"] == "BETA_LDAP_PASSWORD"
    for result in outputs:
        assert result.code == 0, result
        assert SECRET not in result.out + result.err


def test_mail_of_a_tenant_this_worker_does_not_know_stays_pending(workspace: Workspace) -> None:
    """A rolling configuration change: a worker whose store has no tenant `gone` never fails
    its mail for good nor erases its tokens."""
    assert workspace.sync()["status"] == "succeeded"
    engine = open_store(workspace.database_url)
    with engine.begin() as conn:
        account = conn.execute(select(accounts.c.id)).scalars().first()
        conn.execute(
            insert(outbox).values(
                tenant_id="gone",
                account_id=account,
                kind="account_created",
                to_address="someone@example.com",
                message_id="<gone-1@example.com>",
                params="{}",
                token="t" * 43,
                status="pending",
                attempts=0,
                next_attempt_at=utc_now(),
                created_at=utc_now(),
            )
        )
    result = workspace.cli("deliver", "--flush", "--json")
    assert result.code == 0, result
    with engine.connect() as conn:
        row = conn.execute(select(outbox).where(outbox.c.tenant_id == "gone")).one()
    assert (row.status, row.attempts, row.token) == ("pending", 0, "t" * 43)
    assert "unknown here; left pending" in result.err
    engine.dispose()
