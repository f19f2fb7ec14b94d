"""`accounts list` and `accounts show`: the account screen, read-only. No hash or token is shown."""

from __future__ import annotations

import json
from typing import Any

import click

from sync.cli import App
from sync.errors import UsageError
from sync.store.accounts import account_rows


@click.group("accounts")
def accounts() -> None:
    """View and edit CLOMO accounts."""


@accounts.command("list")
@click.option("--tenant", "tenant_id", required=True, metavar="ID")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_accounts(app: App, tenant_id: str, as_json: bool) -> None:
    """List a tenant's accounts."""
    app.settings.tenant(tenant_id)
    with app.engine.connect() as conn:
        rows = account_rows(conn, tenant_id)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for row in rows:
        locked = " [locked]" if row["name_locked"] else ""
        click.echo(
            f"{row['name']:<40} {row['status']:<9} {row['role']:<16} "
            f"{row['primary_email'] or '-'}{locked}"
        )
    click.echo(f"{len(rows)} accounts")


@accounts.command("show")
@click.option("--tenant", "tenant_id", required=True, metavar="ID")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show_account(app: App, tenant_id: str, name: str, as_json: bool) -> None:
    """Show one account."""
    row = find_account(app, tenant_id, name)
    if as_json:
        click.echo(json.dumps(row, ensure_ascii=False, indent=1))
        return
    for key, value in row.items():
        click.echo(f"{key:<14} {_plain(value)}")


def find_account(app: App, tenant_id: str, name: str) -> dict[str, Any]:
    app.settings.tenant(tenant_id)
    with app.engine.connect() as conn:
        rows = account_rows(conn, tenant_id, name)
    if not rows:
        raise UsageError(f"tenant {tenant_id!r} has no account named {name!r}")
    return rows[0]


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None else str(value)
