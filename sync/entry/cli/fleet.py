"""`worker`: a fleet worker on PostgreSQL (SPEC §11, docs/operations.md)."""

from __future__ import annotations

import logging

import click

from sync.entry.cli import App
from sync.ops import progress


@click.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Runs this worker makes at once (each holds up to two store connections).",
)
@click.pass_obj
def worker_command(app: App, concurrency: int) -> None:
    """Run tenants from the fleet's queue until SIGTERM (PostgreSQL only; any number of workers
    on any hosts). Each minute one dispatcher pass queues every tenant that is due."""
    from sync.entry.fleet.worker import serve

    root = logging.getLogger()
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    progress.enable(False)
    app.engine.dispose()  # migrated and provisioned; the worker's own pool fits its concurrency
    from sync.services.fence import session_name
    from sync.services.storage import pool

    name = session_name()  # every session of this process says so: it can be fenced
    engine = pool(app.settings.database.url, pool_size=2 * concurrency + 2, session_name=name)
    raise SystemExit(serve(app.settings, engine, concurrency, name))


def enqueue(app: App, tenant_ids: list[str]) -> list[str]:
    """`sync --tenant ID --enqueue`: asks the fleet for runs ahead of scheduled ones."""
    from sync.entry.fleet.app import REQUESTED, make_app, run_job

    fleet = make_app(app.settings, app.engine)
    lines = []
    with fleet.app.open():
        for tenant_id in tenant_ids:
            app.settings.tenant(tenant_id)
            new = run_job(fleet, tenant_id, None, REQUESTED)
            lines.append(
                f"{tenant_id}: run queued"
                if new
                else f"{tenant_id}: a run was already queued; it now goes first"
            )
    return lines
