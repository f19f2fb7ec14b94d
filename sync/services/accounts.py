"""Editing an account as on the account screen: rename, privilege, memo, name lock (SPEC §1, §4).

A rename obeys the same rules as a sync: the tenant's name pattern, case-insensitive uniqueness,
reserved names and the quarantine of released names. The old name goes into quarantine, and a name
set by hand is locked so no later sync renames the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from sync.compose.collisions import NameBook
from sync.compose.normalize import name_key, normalize_text
from sync.compose.rules import NotComposed
from sync.config.settings import TenantSettings
from sync.mail.queue import Notice, queue_notice
from sync.model import Account, Action, Change
from sync.model.actor import Actor
from sync.services.policy import Refused, checked_role, clean_memo
from sync.store import audit
from sync.store.accounts import load_account as stored_account
from sync.store.accounts import name_holder, quarantine_start, quarantined_for, update_account
from sync.store.apply import change_accounts
from sync.store.audit import Event


@dataclass(frozen=True, slots=True)
class Edit:
    """What `accounts edit` asks for; None leaves a field as it is."""

    rename: str | None = None
    role: str | None = None
    scheme: str | None = None
    memo: str | None = None
    lock_name: bool | None = None

    def is_empty(self) -> bool:
        fields = (self.rename, self.role, self.scheme, self.memo, self.lock_name)
        return all(value is None for value in fields)


@dataclass(frozen=True, slots=True)
class Edited:
    name: str  # the account's name after the edit
    said: list[str]  # what changed, in words
    queued: bool  # an email was queued


def load_account(conn: Connection, tenant_id: str, name: str) -> Account:
    """The tenant's account of that name (case-insensitive); Refused when there is none."""
    account = stored_account(conn, tenant_id, name)
    if account is None:
        raise Refused(f"tenant {tenant_id!r} has no account named {name!r}")
    return account


def edit_account(
    conn: Connection,
    tenant: TenantSettings,
    name: str,
    edit: Edit,
    *,
    now: datetime,
    domain: str,
    actor: Actor,
) -> Edited:
    """Applies the edit in the caller's transaction; every check comes before the first write."""
    if edit.is_empty():
        raise Refused("nothing to change: give --rename, --role, --scheme, --memo or a name lock")
    if edit.rename is not None and edit.lock_name is False:
        raise Refused("a name set by hand is locked: --rename and --unlock-name contradict")
    account = load_account(conn, tenant.id, name)
    new_name = _checked_rename(conn, tenant, account, edit.rename, now)
    values, said = _field_values(account, edit)
    queued = False
    if new_name is not None:
        values["name_locked"] = True
        said.insert(0, f"renamed {account.name} to {new_name} (name locked)")
        queued = _rename(conn, tenant, account, new_name, now, domain, actor, said)
    fields = {k: (old, v) for k, v in values.items() if (old := _before(account, k)) != v}
    values["updated_at"] = now
    update_account(conn, account.id, values)
    if fields:
        event = Event(account.id, new_name or account.name, "edited", fields)
        audit.record(conn, tenant.id, actor, [event], now)
    return Edited(new_name or account.name, said, queued)


def _before(account: Account, column: str) -> Any:
    """The stored value of an editable column, for the audit."""
    stored = {
        "role": account.role,
        "role_scheme": account.role_scheme,
        "memo": account.memo,
        "name_locked": account.name_locked,
        "role_by_hand": account.role_by_hand,
    }
    return stored[column]


def _field_values(account: Account, edit: Edit) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    said: list[str] = []
    if edit.role is not None or edit.scheme is not None:
        role, scheme = checked_role((account.role, account.role_scheme), edit.role, edit.scheme)
        # set by hand: the tenant's group rules leave it until the account's matched group changes
        values.update(role=role, role_scheme=scheme, role_by_hand=True)
        said.append(f"privilege {role}" + (f" (scheme {scheme})" if scheme else ""))
        if account.role == "none" and role != "none":
            said.append("the administrators' password policy applies from its next password")
    if edit.memo is not None:
        values["memo"] = clean_memo(edit.memo)
        said.append("memo set" if values["memo"] else "memo cleared")
    if edit.lock_name is not None and edit.rename is None:
        values["name_locked"] = edit.lock_name
        said.append("name locked" if edit.lock_name else "name unlocked")
    return values, said


def _checked_rename(
    conn: Connection, tenant: TenantSettings, account: Account, wanted: str | None, now: datetime
) -> str | None:
    """The new name, normalised as composed names are (NFKC, no surrounding space), if it is
    allowed and free for this account; None when no rename was asked for."""
    if wanted is None:
        return None
    new_name = normalize_text(wanted) or ""
    if new_name == account.name:
        raise Refused(f"account {account.name!r} already has that name (--lock-name locks it)")
    verdict = tenant.name_rule().check(new_name)
    if isinstance(verdict, NotComposed):
        raise Refused(f"cannot rename {account.name!r}: {verdict.detail}")
    blocker = _book_for(conn, tenant, new_name, now).blocker(new_name, account.source_id)
    if blocker is not None:
        raise Refused(f"cannot rename {account.name!r} to {new_name!r}: taken by {blocker}")
    return new_name


def _book_for(conn: Connection, tenant: TenantSettings, name: str, now: datetime) -> NameBook:
    """A NameBook holding only what concerns `name`: one query each instead of every account."""
    key = name_key(name)
    book = NameBook(reserved={name_key(r) for r in tenant.reserved_names})
    held = name_holder(conn, tenant.id, name)
    if held is not None:
        book.held[key] = held
    since = quarantine_start(now, tenant.name_quarantine_days)
    released = quarantined_for(conn, tenant.id, name, since)
    if released is not None:
        book.quarantined[key] = released
    return book


def _rename(
    conn: Connection,
    tenant: TenantSettings,
    account: Account,
    new_name: str,
    now: datetime,
    domain: str,
    actor: Actor,
    said: list[str],
) -> bool:
    """The rename as a sync applies it (the old name into quarantine), and the notice to a
    password account's primary address; True when that was queued."""
    change = Change(
        account.source_id, frozenset({Action.RENAME}), new_name, account.id, account.name
    )
    change_accounts(conn, tenant.id, [change], now, actor, before={})
    if account.auth_type != "password" or account.status != "active":
        return False
    if not account.primary_email:
        said.append("no account_renamed email: the account has no primary address")
        return False
    params = {
        "tenant": tenant.id,
        "account_name": new_name,
        "display_name": account.display_name,
        "old_name": account.name,
    }
    notice = Notice(account.id, "account_renamed", account.primary_email, params, False)
    queue_notice(conn, tenant, notice, now=now, domain=domain)
    said.append(f"account_renamed email queued to {account.primary_email}")
    return True
