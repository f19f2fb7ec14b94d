"""`accounts list|show|edit|set-password|reset-password|reset-mfa`: the account screen (SPEC §1,
§7, §19).

Nothing here prints a password hash or a token. A refused request exits 2 and changes nothing.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from typing import Any

import click

from sync.entry.cli import EXIT_FAILED, App, plural
from sync.errors import UsageError
from sync.services.policy import ROLES

DELIVER_WAIT_SECONDS = 10  # how long a reset waits for another worker's delivery to finish


@click.group("accounts")
def accounts() -> None:
    """View and edit CLOMO accounts."""


tenant_option = click.option(
    "--tenant", "tenant_id", required=True, metavar="ID", help="The tenant of the account(s)."
)


@accounts.command("list")
@tenant_option
@click.option(
    "--status",
    type=click.Choice(["active", "pending", "disabled"]),
    help="Only accounts in this status (pending: before the person's start date).",
)
@click.option("--role", type=click.Choice(ROLES), help="Only accounts with this privilege.")
@click.option(
    "--search",
    metavar="TEXT",
    help="Only accounts whose name, an email address or display name contains TEXT (any case).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def list_accounts(
    app: App,
    tenant_id: str,
    status: str | None,
    role: str | None,
    search: str | None,
    as_json: bool,
) -> None:
    """List a tenant's accounts, by name."""
    from sync.services.views import account_rows

    app.tenant(tenant_id)
    every = account_rows(app.engine, tenant_id)
    rows = [row for row in every if _matches(row, status, role, search)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if rows:
        click.echo(f"{'NAME':<40} {'STATUS':<9} {'ROLE':<16} EMAIL")
    for row in rows:
        locked = " [locked]" if row["name_locked"] else ""
        click.echo(
            f"{row['name']:<40} {row['status']:<9} {row['role']:<16} "
            f"{row['primary_email'] or '-'}{locked}"
        )
    filtered = len(rows) != len(every)
    click.echo(plural(len(rows), "account") + (f" (of {len(every)})" if filtered else ""))


def _matches(row: dict[str, Any], status: str | None, role: str | None, text: str | None) -> bool:
    if status is not None and row["status"] != status:
        return False
    if role is not None and row["role"] != role:
        return False
    if not text:
        return True
    needle = text.casefold()
    fields = [row["name"], row["primary_email"], row["display_name"], *row["emails"]]
    return any(needle in value.casefold() for value in fields if value)


@accounts.command("show")
@tenant_option
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_obj
def show_account(app: App, tenant_id: str, name: str, as_json: bool) -> None:
    """Show one account."""
    row = find_account(app, tenant_id, name)
    if as_json:
        click.echo(json.dumps(row, ensure_ascii=False, indent=1))
        return
    for key, value in row.items():
        click.echo(f"{key:<14} {_plain(value)}")


@accounts.command("edit")
@tenant_option
@click.argument("name")
@click.option("--rename", "new_name", metavar="NEW", help="A new name, set by hand; it is locked.")
@click.option("--role", type=click.Choice(ROLES), help="Administrator privilege.")
@click.option("--scheme", metavar="NAME", help="The permission scheme of a custom_admin.")
@click.option("--memo", metavar="TEXT", help='Free text (line feeds, tabs allowed); "" clears it.')
@click.option(
    "--lock-name/--unlock-name",
    "lock_name",
    default=None,
    help="Keep the name as it is / let syncs rename the account again.",
)
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for a sync of the tenant that is running.",
)
@click.pass_obj
def edit_command(
    app: App,
    tenant_id: str,
    name: str,
    new_name: str | None,
    role: str | None,
    scheme: str | None,
    memo: str | None,
    lock_name: bool | None,
    wait_seconds: float,
) -> None:
    """Edit an account as on the account screen."""
    from sync.services.accounts import Edit
    from sync.services.editing import EditRequest, edit_now
    from sync.timeutil import utc_now

    app.tenant(tenant_id)
    edit = Edit(new_name, role, scheme, memo, lock_name)
    request = EditRequest(
        tenant_id,
        name,
        edit,
        app.operator,
        utc_now(),
        wait_seconds=wait_seconds,
        deliver_wait_seconds=DELIVER_WAIT_SECONDS,
    )
    edited = edit_now(app.settings, app.engine, request)
    click.echo(f"{tenant_id}: {edited.name}: " + "; ".join(edited.said))


@accounts.command("history")
@tenant_option
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def history_command(app: App, tenant_id: str, name: str, as_json: bool) -> None:
    """Every recorded change to an account, oldest first (the audit)."""
    from sync.entry.cli.maintenance import event_text
    from sync.services.views import account_history

    app.tenant(tenant_id)
    events = account_history(app.engine, tenant_id, name)
    if as_json:
        click.echo(json.dumps(events, ensure_ascii=False, indent=1))
        return
    for event in events:
        by = event["actor"] + (f" {event['run_id']}" if event["run_id"] else "")
        click.echo(f"{event_text(event)}  ({by})")


@accounts.command("set-password")
@tenant_option
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password once from standard input.")
@click.pass_obj
def set_password_command(app: App, tenant_id: str, name: str, password_stdin: bool) -> None:
    """Set a password (asked twice, not shown, on a terminal)."""
    from sync.services.accounts import Edit
    from sync.services.editing import EditRequest, edit_now
    from sync.services.passwords import require_password_account
    from sync.services.views import account as find
    from sync.timeutil import utc_now

    app.tenant(tenant_id)
    account = find(app.engine, tenant_id, name)  # unknown or federated: said before asking
    require_password_account(account)
    password = _read_password(password_stdin)
    request = EditRequest(tenant_id, account.name, Edit(), app.operator, utc_now(),
                          password=password)  # fmt: skip
    edit_now(app.settings, app.engine, request)
    click.echo(f"{tenant_id}: password of {account.name} set")


@accounts.command("reset-password")
@tenant_option
@click.argument("name")
@click.option("--email", "address", metavar="ADDR", help="One of the account's addresses.")
@click.pass_obj
def reset_password_command(app: App, tenant_id: str, name: str, address: str | None) -> None:
    """Send a reset link to the account's primary address, or to ADDR."""
    from sync.model.enums import OutboxStatus
    from sync.services.reset_links import send_reset_link
    from sync.timeutil import utc_now

    tenant = app.tenant(tenant_id)
    sent = send_reset_link(app.settings, app.engine, tenant, name, address, actor=app.operator,
                           now=utc_now(), wait_seconds=DELIVER_WAIT_SECONDS)  # fmt: skip
    queued = sent.queued
    what = f"{tenant_id}: reset link for {queued.account_name} to {queued.to_address}"
    if sent.status == OutboxStatus.SENT:
        click.echo(f"{what}: sent")
    elif sent.status == OutboxStatus.PENDING:
        # the server's refusal of this message, else why the delivery pass ended before it
        click.echo(f"{what}: queued, not sent yet ({sent.error}); `deliver` retries it")
    else:
        click.echo(f"{what}: failed: {sent.error}", err=True)
        raise SystemExit(EXIT_FAILED)


@accounts.command("reset-mfa")
@tenant_option
@click.argument("name")
@click.pass_obj
def reset_mfa_command(app: App, tenant_id: str, name: str) -> None:
    """Remove the account's console second factors and recovery codes and end its console
    sessions: it enrols anew at its next sign-in (SPEC §19)."""
    from sync.services.second_factor import reset_mfa
    from sync.timeutil import utc_now

    app.tenant(tenant_id)
    holder = reset_mfa(app.engine, tenant_id, name, app.operator, utc_now())
    click.echo(f"{tenant_id}: second factors of {holder.name} removed, its sessions ended")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise UsageError(
            "standard input is not a terminal: give the password with --password-stdin"
        )
    return str(
        click.prompt(
            "New password",
            hide_input=True,
            confirmation_prompt="Repeat the new password",
            err=True,
        )
    )


def find_account(app: App, tenant_id: str, name: str) -> dict[str, Any]:
    from sync.services.views import account_rows

    app.tenant(tenant_id)
    rows = account_rows(app.engine, tenant_id, name)
    if not rows:
        raise UsageError(f"tenant {tenant_id!r} has no account named {name!r}")
    return rows[0]


def _plain(value: Any) -> str:
    """One line per field: a value holding a line break or another control character (a memo,
    a name read from a CSV) is shown quoted with its escapes, so it cannot forge a line."""
    if isinstance(value, list):
        return ", ".join(map(_plain, value)) or "-"
    if value is None:
        return "-"
    text = str(value)
    return repr(text) if any(unicodedata.category(c) == "Cc" for c in text) else text
