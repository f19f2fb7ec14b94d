"""`changes list|show|approve|reject`: the change sets of SPEC §10."""

from __future__ import annotations

import json

import click

from sync.cli import EXIT_BLOCKED, EXIT_FAILED, App
from sync.model import RunStatus
from sync.model.changeset import ChangeSet


@click.group("changes")
def changes() -> None:
    """Changes a run held back for review (guards), and their approval."""


@changes.command("list")
@click.option("--tenant", "tenant_id", default=None, metavar="ID")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected", "superseded"]))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_changes(app: App, tenant_id: str | None, status: str | None, as_json: bool) -> None:
    """List change sets, newest first."""
    from sync.store import changesets

    if tenant_id is not None:
        app.settings.tenant(tenant_id)
    with app.engine.connect() as conn:
        found = changesets.listing(conn, tenant_id, status)
    if as_json:
        click.echo(json.dumps([c.as_json() for c in found], ensure_ascii=False, indent=1))
        return
    click.echo(f"{'ID':<36}  {'TENANT':<16} {'KIND':<8} {'COUNT':>6}  {'STATUS':<10} CREATED")
    for c in found:
        click.echo(
            f"{c.id:<36}  {c.tenant_id:<16} {c.kind:<8} {c.count:>6}  {c.status.value:<10} "
            f"{c.created_at.isoformat(timespec='seconds')}"
        )


@changes.command("show")
@click.argument("set_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="The held changes as a JSON array.")
@click.pass_obj
def show_changes(app: App, set_id: str, as_json: bool) -> None:
    """Each held change of a set, field by field."""
    from sync.changes import show

    found, held = show(app.engine, set_id)
    if as_json:
        click.echo(json.dumps([h.as_json() for h in held], ensure_ascii=False, indent=1))
        return
    click.echo(_summary(found))
    for h in held:
        fields = "; ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in h.fields.items())
        click.echo(f"  {h.action:<8} {h.account:<40} {fields}")


@changes.command("approve")
@click.argument("set_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the run's report as JSON.")
@click.pass_obj
def approve_changes(app: App, set_id: str, as_json: bool) -> None:
    """Run the set's tenant now with its held changes allowed (once)."""
    from sync.changes import approve
    from sync.cli.syncing import report_text
    from sync.ops.delivery import deliver_shown

    report = approve(app.settings, app.engine, set_id, app.operator)
    click.echo(json.dumps(report.as_json(), ensure_ascii=False) if as_json else report_text(report))
    deliver_shown(app.engine, app.settings)
    if report.status in (RunStatus.FAILED, RunStatus.SKIPPED_LOCKED):
        click.echo(f"change set {set_id} is pending again: the run did not apply it", err=True)
        raise SystemExit(EXIT_FAILED)
    if report.status == RunStatus.BLOCKED:
        raise SystemExit(EXIT_BLOCKED)


@changes.command("reject")
@click.argument("set_id", metavar="ID")
@click.pass_obj
def reject_changes(app: App, set_id: str) -> None:
    """Drop a pending set: its changes stay unapplied (a later run may hold them again)."""
    from sync.changes import reject

    click.echo(_summary(reject(app.engine, set_id, app.operator)))


def _summary(found: ChangeSet) -> str:
    decided = f" by {found.decided_by}" if found.decided_by else ""
    return (
        f"change set {found.id}: tenant {found.tenant_id}, {found.count} held {found.kind} "
        f"change{'s' if found.count != 1 else ''} ({found.reason}), run {found.run_id}, "
        f"{found.status.value}{decided}"
    )
