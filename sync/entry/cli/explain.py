"""`explain`: what the next run would do for one person, and why (SPEC §18)."""

from __future__ import annotations

import json

import click

from sync.entry.cli import App
from sync.ops import progress


@click.command("explain")
@click.option("--tenant", "tenant_id", required=True, metavar="ID", help="The person's tenant.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as a JSON object.")
@click.argument("person", metavar="PERSON")
@click.pass_obj
def explain_command(app: App, tenant_id: str, as_json: bool, person: str) -> None:
    """What the next run would do for PERSON (a source id, email, employee code, account name
    or DN) and why, step by step. Writes nothing."""
    from sync.services.explain import explain

    app.read_only = True  # before the first look at the store: like a dry run, writes nothing
    if as_json:
        progress.enable(False)
    told = explain(app.settings, app.tenant(tenant_id), app.engine, person)
    if as_json:
        click.echo(json.dumps(told.as_json(), ensure_ascii=False))
        return
    click.echo(f"{told.tenant}: {person} (source id {told.source_id})")
    click.echo(f"  read: {told.read}")
    for step in told.steps:
        click.echo(f"  {step['step']:<9} {step['text']}")
    click.echo(f"  => {told.action}")
