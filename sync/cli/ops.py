"""`scheduler` and `health`: running the worker as a service (docs/operations.md)."""

from __future__ import annotations

import json
import logging
import socket
from datetime import timedelta

import click

from sync.cli import EXIT_FAILED, App
from sync.ops import progress


@click.command("scheduler")
@click.pass_obj
def scheduler_command(app: App) -> None:
    """Run each tenant on its schedule and deliver email, until SIGTERM or SIGINT.

    SIGHUP reloads the configuration. Logs at INFO level (each tenant's next run at start)."""
    from sync.scheduler import Scheduler

    root = logging.getLogger()
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    progress.enable(False)
    code = Scheduler(app.config, app.settings, app.engine, app.metrics_file).serve()
    raise SystemExit(code)


@click.command("health")
@click.option(
    "--scheduler",
    "expect_scheduler",
    is_flag=True,
    help="Also require a fresh heartbeat from a scheduler on this host.",
)
@click.option(
    "--any-host",
    is_flag=True,
    help="With --scheduler: a scheduler on any host will do (a cluster-wide check).",
)
@click.option(
    "--max-age",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Oldest acceptable heartbeat [default: 4 heartbeats, at least 60 s].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_obj
def health_command(
    app: App, expect_scheduler: bool, any_host: bool, max_age: float | None, as_json: bool
) -> None:
    """Exit 0 when the store answers (and, with --scheduler, the scheduler is alive); else 1."""
    from sync.ops.heartbeat import check_health
    from sync.store.engine import make_engine

    settings = app.settings
    if max_age is None:
        max_age = max(60.0, 4 * settings.scheduler.heartbeat_seconds)
    host = ("*" if any_host else socket.gethostname()) if expect_scheduler else None
    engine = make_engine(settings.database.url)  # no migration: a health check only looks
    try:
        health = check_health(engine, host, timedelta(seconds=max_age))
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(health.as_json()))
    else:
        for check in health.checks:
            click.echo(f"{check['check']}: {'ok' if check['ok'] else 'FAIL'}: {check['detail']}")
    if not health.healthy:
        raise SystemExit(EXIT_FAILED)
