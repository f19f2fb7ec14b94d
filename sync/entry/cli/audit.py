"""`audit export`: a tenant's audit for a SIEM or an auditor (SPEC §19, docs/audit.md)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from sync.entry.cli import App

if TYPE_CHECKING:
    from datetime import datetime


@click.group("audit")
def audit_group() -> None:
    """The audit of account changes, taken outside."""


def _instant(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    from sync.errors import UsageError
    from sync.services.audit_out import parse_instant

    if value is None:
        return None
    try:
        return parse_instant(value, f"--{param.name}")
    except UsageError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[1], ctx, param) from None


@audit_group.command("export")
@click.option("--tenant", "tenant_id", required=True, metavar="ID", help="The tenant.")
@click.option(
    "--since",
    callback=_instant,
    metavar="ISO",
    help="Events at or after this date or time (ISO 8601; UTC without an offset).",
)
@click.option("--until", callback=_instant, metavar="ISO", help="Events before this date or time.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON objects one per line, or CSV with a header (fields as a JSON string).",
)
@click.pass_obj
def export_command(
    app: App, tenant_id: str, since: datetime | None, until: datetime | None, fmt: str
) -> None:
    """Write every audit event of the tenant to standard output, oldest first: id, at, tenant,
    actor, action, account and fields ({name: [before, after]})."""
    from sync.services.audit_out import export_lines

    app.tenant(tenant_id)
    lines = export_lines(app.engine, tenant_id, since, until, "csv" if fmt == "csv" else "jsonl")
    try:
        sys.stdout.writelines(lines)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
