"""Reset links (SPEC §6): issuing one to an address of the account, and redeeming it.

`check_token` and `redeem_link` are what the password page calls. A token works once: redeeming
marks it used with a conditional UPDATE, so of two concurrent redemptions exactly one succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from sync.config.settings import TenantSettings
from sync.mail.queue import Notice, queue_notice
from sync.mail.tokens import hash_token
from sync.model import Account
from sync.model.actor import Actor
from sync.services.accounts import load_account
from sync.services.passwords import (
    check_password,
    hash_password,
    password_event,
    require_password_account,
)
from sync.services.policy import Refused
from sync.store import audit
from sync.store.accounts import set_password_hash
from sync.store.audit import Event
from sync.store.engine import writing
from sync.store.tokens import claim_token, token_and_account
from sync.timeutil import as_utc

SELF = Actor("self")  # the account's own person, through a reset link
MAX_TOKEN_LENGTH = 128  # ours are 43 characters; anything much longer is not one of them


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """A valid token and the account it sets the password of."""

    token_id: int
    tenant_id: str
    account_id: int
    account_name: str
    role: str


@dataclass(frozen=True, slots=True)
class TokenRefused:
    reason: str  # unknown | used | disabled | superseded | expired


@dataclass(frozen=True, slots=True)
class ResetQueued:
    account_name: str
    to_address: str
    outbox_id: int


def request_reset(
    conn: Connection,
    tenant: TenantSettings,
    name: str,
    address: str | None,
    *,
    now: datetime,
    domain: str,
    actor: Actor,
) -> ResetQueued:
    """Queues a password_reset email with a new token (which supersedes older ones) to the
    account's primary address or to `address`, which must be one of the account's own."""
    account = load_account(conn, tenant.id, name)
    require_password_account(account)
    if account.status == "pending":
        raise Refused(
            f"account {account.name!r} is pending until its start date: its invitation is sent "
            "on its invitation day"
        )
    if account.status != "active":
        raise Refused(f"account {account.name!r} is disabled: its reset links would not work")
    if not tenant.reset_url:
        raise Refused(f"tenant {tenant.id!r} has no reset_url to build a link with")
    to_address = _recipient(account, address)
    params = {
        "tenant": tenant.id,
        "account_name": account.name,
        "display_name": account.display_name,
    }
    notice = Notice(account.id, "password_reset", to_address, params, with_token=True)
    outbox_id = queue_notice(conn, tenant, notice, now=now, domain=domain)
    event = Event(
        account.id, account.name, "reset_requested", {"reset_link_to": (None, to_address)}
    )
    audit.record(conn, tenant.id, actor, [event], now)
    return ResetQueued(account.name, to_address, outbox_id)


def _recipient(account: Account, address: str | None) -> str:
    if address is None:
        if not account.primary_email:
            raise Refused(f"account {account.name!r} has no primary address: give --email ADDR")
        return account.primary_email
    wanted = address.strip().casefold()
    for own in account.addresses:
        if own.casefold() == wanted:
            return own
    known = ", ".join(account.addresses) or "none"
    raise Refused(
        f"{address!r} is not an address of account {account.name!r} (its addresses: {known})"
    )


def check_token(conn: Connection, token: str, now: datetime) -> TokenHolder | TokenRefused:
    """Whether the token from a link may set a password now, and for which account."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return TokenRefused("unknown")
    row = token_and_account(conn, hash_token(token))
    if row is None:
        return TokenRefused("unknown")
    return token_verdict(row, now)


def token_verdict(row: Any, now: datetime) -> TokenHolder | TokenRefused:
    """Pure: the first reason a token fails, in the order a person would want to hear it; a
    disabled account's tokens were revoked when it was disabled, so that is said before
    "superseded"."""
    if row["used_at"] is not None:
        return TokenRefused("used")
    if row["status"] == "disabled":  # a pending account's invitation link works (SPEC §16)
        return TokenRefused("disabled")
    if row["revoked_at"] is not None:
        return TokenRefused("superseded")
    if as_utc(row["expires_at"]) <= now:
        return TokenRefused("expired")
    return TokenHolder(row["id"], row["tenant_id"], row["account_id"], row["name"], row["role"])


def redeem_token(
    conn: Connection, token: str, new_password: str, now: datetime
) -> TokenHolder | TokenRefused:
    """Sets the password with the token and marks the token used, both in the caller's
    transaction (open it with `sync.store.engine.writing`). A weak password raises Refused and
    leaves the token usable."""
    verdict = check_token(conn, token, now)
    if isinstance(verdict, TokenRefused):
        return verdict
    check_password(verdict.account_name, verdict.role, new_password)
    return _claim_and_set(conn, verdict, hash_password(new_password), now, token)


def redeem_link(
    engine: Engine, token: str, new_password: str, now: datetime
) -> TokenHolder | TokenRefused:
    """`redeem_token` in a transaction of its own, as the password page wants it: the check and
    the slow hash come first, outside any lock; the transaction then starts with the claim, so a
    second tab redeeming the same link at the same moment is told "used" (never a locked
    database)."""
    with engine.connect() as conn:
        verdict = check_token(conn, token, now)
    if isinstance(verdict, TokenRefused):
        return verdict
    check_password(verdict.account_name, verdict.role, new_password)
    digest = hash_password(new_password)
    with writing(engine) as conn:
        return _claim_and_set(conn, verdict, digest, now, token)


def _claim_and_set(
    conn: Connection, verdict: TokenHolder, digest: str, now: datetime, token: str
) -> TokenHolder | TokenRefused:
    if not claim_token(conn, verdict.token_id, now):
        # someone else redeemed it (or it was revoked or expired) since the check: say which
        again = check_token(conn, token, now)
        return again if isinstance(again, TokenRefused) else TokenRefused("used")
    # disabled since the check: the token is spent, nothing else
    if not set_password_hash(conn, verdict.account_id, digest, now, only_if_active=True):
        return TokenRefused("disabled")
    event = password_event(verdict.account_id, verdict.account_name)
    audit.record(conn, verdict.tenant_id, SELF, [event], now)
    return verdict
