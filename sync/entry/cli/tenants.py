"""`tenants apply / list / show / history`: tenants stored as data (SPEC §11); `tenants
scim-token`: the bearer token an identity provider pushes with (SPEC §17)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sync.entry.cli import App
from sync.errors import UsageError

if TYPE_CHECKING:
    from sync.model.tenant import StoredTenant


@click.group("tenants")
def tenants_group() -> None:
    """Tenants stored as data: apply a file of [[tenants]], list, show, history."""


@tenants_group.command("apply")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Only print what would change.")
@click.pass_obj
def apply_command(app: App, file: Path, dry_run: bool) -> None:
    """Create or update the tenants of FILE's [[tenants]] (others are left alone)."""
    app.settings  # noqa: B018 -- the configuration's own tenants are in the store first
    from sync.services.tenants import apply_tenant_file

    changes = apply_tenant_file(app.engine, file, dry_run)
    verb = "would " if dry_run else ""
    for change in changes:
        if change.action == "unchanged":
            click.echo(f"{change.tenant_id}: unchanged")
            continue
        done = {"create": "create", "update": "update"}[change.action]
        click.echo(f"{change.tenant_id}: {verb}{done if dry_run else done + 'd'}")
        for key in change.changed:
            click.echo(f"  {key}")


@tenants_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_command(app: App, as_json: bool) -> None:
    """Every tenant in the store, with where its settings come from."""
    app.settings  # noqa: B018
    from sync.services.views import stored_tenants

    found = stored_tenants(app.engine)
    if as_json:
        click.echo(json.dumps([_summary(t) for t in found], ensure_ascii=False, indent=1))
        return
    for tenant in found:
        state = "" if tenant.enabled else "  (disabled: gone from its configuration file)"
        click.echo(
            f"{tenant.id:<24} v{tenant.version:<4} {_origin(tenant)}  "
            f"{tenant.settings.get('schedule', '0 * * * *')}{state}"
        )


@tenants_group.command("show")
@click.argument("tenant_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show_command(app: App, tenant_id: str, as_json: bool) -> None:
    """One tenant's current settings (secrets appear only as the names of their variables or
    files)."""
    app.settings  # noqa: B018
    tenant = _found(app, tenant_id)
    data = {**_summary(tenant), "settings": tenant.settings}
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    click.echo(f"{tenant.id}: version {tenant.version}, {_origin(tenant)}")
    if tenant.origin == "file":
        click.echo("  read-only here: change it in its configuration file")
    for key, value in _lines(tenant.settings):
        click.echo(f"  {key} = {json.dumps(value, ensure_ascii=False)}")


@tenants_group.command("history")
@click.argument("tenant_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def history_command(app: App, tenant_id: str, as_json: bool) -> None:
    """Every saved version of a tenant's settings: when, by whom, which keys changed."""
    app.settings  # noqa: B018
    _found(app, tenant_id)
    from sync.services.views import tenant_history

    versions = tenant_history(app.engine, tenant_id)
    if as_json:
        rows = [
            {
                "version": v.version,
                "saved_at": v.saved_at.isoformat(),
                "author": v.author,
                "origin": v.origin,
                "changed": v.changed,
            }
            for v in versions
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for v in versions:
        click.echo(f"v{v.version}  {v.saved_at.isoformat(timespec='seconds')}  {v.author}")
        click.echo("  " + (", ".join(v.changed) or "(no key changed)"))


@tenants_group.command("scim-token")
@click.argument("tenant_id", metavar="TENANT")
@click.pass_obj
def scim_token_command(app: App, tenant_id: str) -> None:
    """Issue (or rotate) TENANT's SCIM bearer token and show it this once; the store keeps
    only its hash, and the previous token stops working at once."""
    app.settings  # noqa: B018 -- the configuration's own tenants are in the store first
    from sync.services.scim.tokens import issue_token

    token = issue_token(app.engine, tenant_id)
    click.echo(f"SCIM endpoint: /scim/v2/{tenant_id}/  (behind web's public address)", err=True)
    click.echo("bearer token (shown once; give it to the identity provider):", err=True)
    click.echo(token)


def _found(app: App, tenant_id: str) -> StoredTenant:
    from sync.services.views import stored_tenant

    tenant = stored_tenant(app.engine, tenant_id)
    if tenant is None:
        raise UsageError(f"no tenant {tenant_id!r} in the store (`tenants list` shows them)")
    return tenant


def _summary(tenant: StoredTenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "origin": tenant.origin,
        "origin_file": tenant.origin_file,
        "enabled": tenant.enabled,
        "version": tenant.version,
        "updated_at": tenant.updated_at.isoformat(),
    }


def _origin(tenant: StoredTenant) -> str:
    return f"from {tenant.origin_file}" if tenant.origin == "file" else "the store's own"


def _lines(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    lines: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            lines += _lines(value, name + ".")
        else:
            lines.append((name, value))
    return lines
