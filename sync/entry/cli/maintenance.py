"""`runs list`, `config check` and `db upgrade`."""

from __future__ import annotations

import json
from typing import Any

import click

from sync.entry.cli import App, plural
from sync.errors import ConfigError
from sync.model import person_text
from sync.model.ids import short_id


@click.group("runs")
def runs() -> None:
    """Past runs and their reports."""


@runs.command("show")
@click.argument("run_id", metavar="RUN_ID")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show_run(app: App, run_id: str, as_json: bool) -> None:
    """A run's report and every account change it made (the audit)."""
    from sync.services.history import run_with_events

    report, events = run_with_events(app.engine, run_id)
    if as_json:
        click.echo(json.dumps({**report, "events": events}, ensure_ascii=False, indent=1))
        return
    counts = " ".join(f"{k}={v}" for k, v in report["counts"].items() if v)
    click.echo(
        f"run {short_id(report['run_id'])} ({report['run_id']}): {report['tenant']} "
        f"{report['status']} {report['started_at']}"
    )
    click.echo(f"  {counts}" + (f"\n  {report['error']}" if report["error"] else ""))
    for issue in report["issues"]:
        # reports recorded before SPEC §18 have no `person`
        who = f" ({person_text(issue['person'])})" if issue.get("person") else ""
        click.echo(f"  ! {issue['source_id']}{who}: {issue['reason']}: {issue['detail']}")
    for event in events:
        click.echo("  " + event_text(event))


def event_text(event: dict[str, object]) -> str:
    """One audit event on one line; values in repr form, so none can forge a line."""
    fields = event["fields"]
    assert isinstance(fields, dict)
    said = "; ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in fields.items())
    return f"{event['at']}  {event['account']!s:<32} {event['action']!s:<16} {said}"


@runs.command("list")
@click.option("--tenant", "tenant_id", default=None, metavar="ID", help="Only this tenant's runs.")
@click.option("--limit", default=50, show_default=True, help="How many of the newest runs.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the reports.")
@click.pass_obj
def list_runs(app: App, tenant_id: str | None, limit: int, as_json: bool) -> None:
    """List past runs, newest first."""
    from sync.services.delivery import failed_by_run
    from sync.services.views import recent_runs

    if tenant_id is not None:
        app.tenant(tenant_id)
    reports = recent_runs(app.engine, tenant_id, limit)
    failed = failed_by_run(app.engine, tenant_id)
    for r in reports:  # emails a run queued that were given up on since
        r["emails_failed"] = failed.get(r["tenant"], {}).get(r["run_id"], 0)
    if as_json:
        click.echo(json.dumps(reports, ensure_ascii=False, indent=1))
        return
    if reports:
        click.echo(f"{'RUN':<8}  {'STARTED':<32}  {'TENANT':<16} {'STATUS':<10} COUNTS")
    for r in reports:
        counts = " ".join(f"{k}={v}" for k, v in (*r["counts"].items(), _failed(r)) if v)
        click.echo(
            f"{short_id(r['run_id']):<8}  {r['started_at']:<32}  {r['tenant']:<16} "
            f"{r['status']:<10} {counts or '-'}" + (f"  error: {r['error']}" if r["error"] else "")
        )
    click.echo(plural(len(reports), "run"))
    for tenant, by_run in sorted(failed.items()):
        click.echo(
            f"! {tenant}: {plural(sum(by_run.values()), 'email')} failed for good "
            "(`deliver --json` lists them)"
        )


def _failed(report: dict[str, Any]) -> tuple[str, int]:
    return "emails_failed", report["emails_failed"]


@click.group("config")
def config_group() -> None:
    """The configuration file."""


@config_group.command("check")
@click.pass_obj
def check_config(app: App) -> None:
    """Validate the configuration and say every problem at once.

    Besides the keys, every secret variable and file named (and every CA file) must be readable;
    no value is ever printed."""
    from sync.config.settings import check_settings

    settings, problems = check_settings(app.config)
    if problems or settings is None:
        raise ConfigError(problems)
    click.echo(f"{app.config}: OK ({plural(len(settings.tenants), 'tenant')})")


@click.group("db")
def db() -> None:
    """The account store."""


@db.command("upgrade")
@click.pass_obj
def upgrade_db(app: App) -> None:
    """Migrate the store's schema to the newest revision."""
    from sync.services.storage import migrate

    migrate(app.file_settings.database.url)
    click.echo("the store's schema is up to date")
