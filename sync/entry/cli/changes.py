"""`changes list|show|approve|reject`: the change sets of SPEC §10."""

from __future__ import annotations

import json

import click

from sync.entry.cli import EXIT_BLOCKED, EXIT_FAILED, App
from sync.model import RunStatus
from sync.model.changeset import ChangeSet, ChangeSetStatus
from sync.model.ids import short_id


@click.group("changes")
def changes() -> None:
    """Changes a run held back for review (guards), and their approval."""


@changes.command("list")
@click.option("--tenant", "tenant_id", default=None, metavar="ID")
@click.option("--status", type=click.Choice([s.value for s in ChangeSetStatus]))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_changes(app: App, tenant_id: str | None, status: str | None, as_json: bool) -> None:
    """List change sets, newest first, with why each ended."""
    from sync.services.changes import listing

    if tenant_id is not None:
        app.settings.tenant(tenant_id)
    found = listing(app.settings, app.engine, tenant_id, status)
    if as_json:
        click.echo(json.dumps([c.as_json() for c in found], ensure_ascii=False, indent=1))
        return
    click.echo(
        f"{'ID':<8}  {'TENANT':<16} {'KIND':<8} {'COUNT':>6}  {'STATUS':<10} {'CREATED':<25} ENDED"
    )
    for c in found:
        click.echo(
            f"{c.short_id:<8}  {c.tenant_id:<16} {c.kind:<8} {c.count:>6}  {c.status.value:<10} "
            f"{c.created_at.isoformat(timespec='seconds'):<25} {_ended(c)}".rstrip()
        )


@changes.command("show")
@click.argument("set_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="The held changes as a JSON array.")
@click.pass_obj
def show_changes(app: App, set_id: str, as_json: bool) -> None:
    """Each held change of a set, field by field."""
    from sync.services.changes import show

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
    from sync.entry.cli.syncing import report_text
    from sync.ops.delivery import deliver_shown
    from sync.services.changes import approve

    approval = approve(app.settings, app.engine, set_id, app.operator)
    report = approval.report
    click.echo(json.dumps(report.as_json(), ensure_ascii=False) if as_json else report_text(report))
    click.echo(approval.summary(), err=as_json or approval.reopened)
    deliver_shown(app.engine, app.settings)
    if approval.reopened:
        raise SystemExit(EXIT_FAILED)
    if report.status == RunStatus.BLOCKED:
        raise SystemExit(EXIT_BLOCKED)


@changes.command("reject")
@click.argument("set_id", metavar="ID")
@click.pass_obj
def reject_changes(app: App, set_id: str) -> None:
    """Drop a pending set: its changes stay unapplied (a later run may hold them again)."""
    from sync.services.changes import reject

    click.echo(_summary(reject(app.engine, set_id, app.operator)))


def _summary(found: ChangeSet) -> str:
    return (
        f"change set {found.short_id} ({found.id}): tenant {found.tenant_id}, {found.count} held "
        f"{found.kind} change{'s' if found.count != 1 else ''} ({found.reason}), run "
        f"{short_id(found.run_id)}, {found.status.value} {_ended(found)}".rstrip()
    )


def _ended(found: ChangeSet) -> str:
    """Why a set is no longer pending: who decided it, or what ended it (SPEC §14)."""
    if found.outcome:
        return found.outcome
    if found.decided_by:
        return f"by {found.decided_by}"
    return ""
