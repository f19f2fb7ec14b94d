"""`runs list`, `config check` and `db upgrade`."""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from sync.cli import App
from sync.config import load_settings
from sync.errors import ConfigError, StopRun
from sync.mail.deliver import failed_counts
from sync.secrets import read_secret
from sync.store.engine import make_engine, upgrade
from sync.store.schema import runs as runs_table


@click.group("runs")
def runs() -> None:
    """Past runs and their reports."""


@runs.command("list")
@click.option("--tenant", "tenant_id", default=None, metavar="ID")
@click.option("--limit", default=50, show_default=True, help="How many of the newest runs.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_runs(app: App, tenant_id: str | None, limit: int, as_json: bool) -> None:
    """List past runs, newest first."""
    query = select(runs_table.c.report).order_by(runs_table.c.started_at.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(runs_table.c.tenant_id == tenant_id)
    with app.engine.connect() as conn:
        reports = [json.loads(text) for (text,) in conn.execute(query)]
    failed = failed_counts(app.engine, tenant_id)
    for r in reports:  # emails a run queued that were given up on since
        r["emails_failed"] = failed.get(r["tenant"], {}).get(r["run_id"], 0)
    if as_json:
        click.echo(json.dumps(reports, ensure_ascii=False, indent=1))
        return
    for r in reports:
        counts = " ".join(f"{k}={v}" for k, v in (*r["counts"].items(), _failed(r)) if v)
        click.echo(
            f"{r['started_at']}  {r['tenant']:<16} {r['status']:<10} {counts}"
            + (f"  error: {r['error']}" if r["error"] else "")
        )
    for tenant, by_run in sorted(failed.items()):
        click.echo(
            f"! {tenant}: {sum(by_run.values())} emails failed for good "
            "(`deliver --json` lists them)"
        )


def _failed(report: dict[str, int]) -> tuple[str, int]:
    return "emails_failed", report["emails_failed"]


@click.group("config")
def config_group() -> None:
    """The configuration file."""


@config_group.command("check")
@click.pass_obj
def check_config(app: App) -> None:
    """Validate the configuration and say every problem at once."""
    settings = load_settings(app.config)
    problems = []
    for tenant in settings.tenants:
        for where, source in [("source", tenant.source)] + [
            (f"lookups[{i}]", lookup) for i, lookup in enumerate(tenant.lookups)
        ]:
            problems += _secret_problems(f"{app.config}: tenants[{tenant.id}].{where}", source)
    problems += _secret_problems(f"{app.config}: mail", settings.mail)
    problems += _secret_problems(f"{app.config}: web", settings.web)
    if problems:
        raise ConfigError(problems)
    click.echo(f"{app.config}: OK ({len(settings.tenants)} tenants)")


def _secret_problems(where: str, section: object) -> list[str]:
    """Every secret a section names must be readable (its value is never shown)."""
    problems = []
    for prefix in ("password", "credentials", "private_key", "security_token", "secret"):
        env_name = getattr(section, f"{prefix}_env", None)
        file_path = getattr(section, f"{prefix}_file", None)
        try:
            read_secret(f"{where}.{prefix}", env_name, file_path)
        except StopRun as exc:
            problems.append(str(exc))
    return problems


@click.group("db")
def db() -> None:
    """The account store."""


@db.command("upgrade")
@click.pass_obj
def upgrade_db(app: App) -> None:
    """Migrate the store's schema to the newest revision."""
    engine = make_engine(app.file_settings.database.url)
    upgrade(engine)
    click.echo("the store's schema is up to date")
