"""`sync` and `deliver`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from sync.entry.cli import EXIT_BLOCKED, EXIT_FAILED, App, plural
from sync.errors import UsageError
from sync.model.ids import short_id
from sync.ops import progress

if TYPE_CHECKING:
    from sync.config.settings import TenantSettings
    from sync.model.report import RunReport


@click.command("sync")
@click.option("--tenant", "tenant_ids", multiple=True, metavar="ID", help="A tenant to run.")
@click.option("--all", "all_tenants", is_flag=True, help="Run every configured tenant.")
@click.option("--full", is_flag=True, help="Read everything, ignoring delta watermarks.")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON report per tenant and line.")
@click.option("--allow-mass-disable", is_flag=True, help="Apply disables beyond max_disable.")
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=0,
    metavar="SECONDS",
    help="Wait this long for a tenant another worker is syncing.",
)
@click.option("--enqueue", is_flag=True, help="Ask the fleet's workers for the run (PostgreSQL).")
@click.option(
    "--only",
    "person",
    default=None,
    metavar="PERSON",
    help="Run one person now (source id, email, employee code, account name or DN): a partial "
    "read, marked on demand.",
)
@click.pass_obj
def sync_command(
    app: App,
    tenant_ids: tuple[str, ...],
    all_tenants: bool,
    full: bool,
    dry_run: bool,
    as_json: bool,
    allow_mass_disable: bool,
    wait_seconds: float,
    enqueue: bool,
    person: str | None,
) -> None:
    """Run tenants now, then deliver queued email."""
    if enqueue:
        from sync.entry.cli.fleet import enqueue as ask_fleet

        if not tenant_ids or all_tenants or full or dry_run or allow_mass_disable or person:
            raise UsageError("--enqueue takes --tenant ID (one or more) and no other option")
        click.echo("\n".join(ask_fleet(app, list(tenant_ids))))
        return

    from sync.ops.delivery import deliver_shown, delivery_text, worth_saying
    from sync.planning.guards import Allowance, GuardKind
    from sync.services.runner import RunOptions, run_tenant

    app.read_only = dry_run  # before the first look at the store or the tenants
    tenants = _chosen(app, tenant_ids, all_tenants)
    if as_json:
        progress.enable(False)
    allowance = Allowance(frozenset({GuardKind.DISABLE}) if allow_mass_disable else frozenset())
    options = RunOptions(full, dry_run, allowance, wait_seconds)
    if person is not None:
        from sync.services.explain import run_one

        if len(tenants) != 1 or all_tenants or full:
            raise UsageError("--only takes one --tenant ID, and not --all or --full")
        reports = [run_one(app.settings, tenants[0], app.engine, person, options)]
    else:
        reports = [run_tenant(app.settings, tenant, app.engine, options) for tenant in tenants]
    for report in reports:
        click.echo(
            json.dumps(report.as_json(), ensure_ascii=False) if as_json else report_text(report)
        )
    if not dry_run:
        delivery = deliver_shown(app.engine, app.settings)
        if worth_saying(delivery):  # mail still pending leaves sync's exit status alone
            click.echo(delivery_text(delivery), err=as_json)
        app.write_metrics()
    statuses = {report.status for report in reports}
    if "failed" in statuses:
        raise SystemExit(EXIT_FAILED)
    if "blocked" in statuses or any(report.held for report in reports):  # a dry run's too
        raise SystemExit(EXIT_BLOCKED)


@click.command("deliver")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option("--flush", is_flag=True, help="Try every pending message now, ignoring back-off.")
@click.pass_obj
def deliver_command(app: App, as_json: bool, flush: bool) -> None:
    """Deliver queued emails that are due."""
    from sync.ops.delivery import deliver_shown, delivery_exit, delivery_text

    if as_json:
        progress.enable(False)
    delivery = deliver_shown(app.engine, app.settings, flush=flush)
    click.echo(
        json.dumps(delivery.as_json(), ensure_ascii=False) if as_json else delivery_text(delivery)
    )
    app.write_metrics()
    if status := delivery_exit(delivery):
        raise SystemExit(status)


def _chosen(app: App, tenant_ids: tuple[str, ...], all_tenants: bool) -> list[TenantSettings]:
    if all_tenants:
        return list(app.settings.tenants)
    if not tenant_ids:
        raise UsageError("name the tenants to run with --tenant ID, or run them all with --all")
    return [app.tenant(tenant_id) for tenant_id in tenant_ids]


def report_text(report: RunReport) -> str:
    from sync.model.report import COUNT_KEYS

    mode = "dry run, " if report.dry_run else ""
    read = "full read" if report.full else "delta or incomplete read"
    run = "" if report.dry_run else f"run {short_id(report.run_id)}, "
    if report.on_demand:
        read = "one person on demand"
    lines = [
        f"{report.tenant}: {report.status} ({run}{mode}{read} of {report.source_kind}, "
        f"{plural(report.users_read, 'user')} read)"
    ]
    if report.error:
        lines.append(f"  {report.error}")
    lines.append(
        "  " + ", ".join(f"{key.replace('_', ' ')} {report.counts[key]}" for key in COUNT_KEYS)
    )
    for held in report.held:
        where = ""
        if "change_set" in held:
            where = f": clomo-sync changes show {short_id(held['change_set'])}"
        lines.append(f"  held {held['count']} {held['kind']}{where}")
    for change in report.plan or []:
        extra = f" (was {change['old_name']})" if "old_name" in change else ""
        why = f": {change['why']}" if "why" in change else ""
        actions = "+".join([*change["actions"], *(["invite"] if change.get("invite") else [])])
        lines.append(f"  {actions:<14} {change['name']}{extra}{why}")
        for field, (old, new) in change.get("fields", {}).items():
            if field != "name":
                lines.append(f"  {'':<14}   {field}: {old!r} -> {new!r}")
    for issue in report.issues:
        who = f" ({issue.person_text()})" if issue.person else ""
        lines.append(f"  ! {issue.source_id}{who}: {issue.reason}: {issue.detail}")
    return "\n".join(lines)
