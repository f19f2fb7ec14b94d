"""`scheduler` and `health`: running the worker as a service (docs/operations.md)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import click

from sync.entry.cli import EXIT_FAILED, App
from sync.ops import progress


@click.command("scheduler")
@click.pass_obj
def scheduler_command(app: App) -> None:
    """Run each tenant on its schedule and deliver email, until SIGTERM or SIGINT (one process;
    SQLite or PostgreSQL). SIGHUP reloads the configuration and the store's tenants."""
    from sync.entry.scheduler import Scheduler

    root = logging.getLogger()
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    progress.enable(False)
    from sync.services.audit_stream import streaming

    with streaming(app.settings, app.engine):
        code = Scheduler(app.config, app.settings, app.engine, app.metrics_file).serve()
    raise SystemExit(code)


@click.command("health")
@click.option(
    "--min-workers",
    type=int,
    default=0,
    show_default=True,
    help="Fleet: require at least this many workers with a fresh heartbeat.",
)
@click.option(
    "--max-lag",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Fleet: fail when the oldest due tenant's run is later than this.",
)
@click.option(
    "--fail-on-overdue",
    is_flag=True,
    help="Fail when a tenant is overdue: no run ended for two ticks and the run time limit.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_obj
def health_command(
    app: App, min_workers: int, max_lag: float | None, fail_on_overdue: bool, as_json: bool
) -> None:
    """Exit 0 when the store answers (and the fleet's checks pass); else 1. On PostgreSQL with
    workers: also the workers seen, the queue depth and the oldest due tenant's lag."""
    from sync.ops.health import check_health
    from sync.services.storage import pool

    settings = app.file_settings
    stalled = timedelta(seconds=settings.fleet.stalled_after_seconds)
    engine = pool(settings.database.url)  # no migration: a health check only looks
    try:
        health = check_health(engine, stalled, min_workers, max_lag, fail_on_overdue)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(health.as_json()))
    else:
        for check in health.checks:
            click.echo(f"{check['check']}: {'ok' if check['ok'] else 'FAIL'}: {check['detail']}")
    if not health.healthy:
        raise SystemExit(EXIT_FAILED)
