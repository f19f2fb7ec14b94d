"""Queueing email in the outbox, in the caller's transaction (SPEC §6).

The token travels in the outbox row until delivery; only its hash is kept in reset_tokens.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from sync.mail.tokens import new_token
from sync.model.enums import OutboxStatus
from sync.store.bulk import to_json
from sync.store.outbox import insert_message, insert_messages
from sync.store.tokens import revoke_tokens

if TYPE_CHECKING:
    from sync.config.settings import Settings, TenantSettings

BATCH = 2000


@dataclass(frozen=True, slots=True)
class Notice:
    """One email to queue for one account."""

    account_id: int | None  # None: a message to the tenant's administrators (an alert)
    kind: str  # account_created | password_reset | account_renamed
    to_address: str
    params: dict[str, Any]
    with_token: bool


def sender_domain(from_address: str) -> str:
    _name, address = parseaddr(from_address)
    return address.rpartition("@")[2] or "clomo-sync.invalid"


def message_domain(settings: Settings, tenant: TenantSettings) -> str:
    """The right-hand side of the tenant's Message-IDs: its sender's domain."""
    return sender_domain(tenant.from_address or settings.mail.from_address)


def queue_notice(
    conn: Connection, tenant: TenantSettings, notice: Notice, *, now: datetime, domain: str
) -> int:
    """Queues one email of an administrator's action (a rename, a reset link); its outbox id."""
    if notice.with_token and notice.account_id is not None:
        revoke_tokens(conn, [notice.account_id], now)
    expires = now + timedelta(hours=tenant.token_ttl_hours)
    token, message = _rows(tenant.id, notice, now, expires, domain, run_id=None)
    return insert_message(conn, token, message)


def queue_notices(
    conn: Connection,
    tenant_id: str,
    notices: Iterable[Notice],
    *,
    now: datetime,
    token_ttl: timedelta,
    domain: str,
    run_id: str | None = None,
) -> int:
    """Writes tokens and outbox rows for every notice, in batches (the notices may come from a
    generator: memory stays bounded); a new token supersedes older ones."""
    queued = 0
    expires = now + token_ttl
    iterator = iter(notices)
    while batch := list(islice(iterator, BATCH)):
        # a just-created account has no older token to supersede: a shorter IN list
        superseded = [
            n.account_id
            for n in batch
            if n.with_token and n.account_id is not None and n.kind != "account_created"
        ]
        revoke_tokens(conn, superseded, now)
        token_rows: list[dict[str, Any]] = []
        outbox_rows: list[dict[str, Any]] = []
        for notice in batch:
            token, message = _rows(tenant_id, notice, now, expires, domain, run_id)
            if token is not None:
                token_rows.append(token)
            outbox_rows.append(message)
        insert_messages(conn, token_rows, outbox_rows)
        queued += len(batch)
    return queued


def _rows(
    tenant_id: str,
    notice: Notice,
    now: datetime,
    expires: datetime,
    domain: str,
    run_id: str | None,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The notice's token row (when it carries a link) and outbox row."""
    token = token_row = None
    if notice.with_token:
        token, digest = new_token()
        token_row = {
            "tenant_id": tenant_id,
            "account_id": notice.account_id,
            "token_hash": digest,
            "created_at": now,
            "expires_at": expires,
        }
    message = {
        "tenant_id": tenant_id,
        "account_id": notice.account_id,
        "run_id": run_id,
        "kind": notice.kind,
        "to_address": notice.to_address,
        "message_id": f"<{os.urandom(16).hex()}@{domain}>",
        "params": to_json(notice.params),
        "token": token,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    return token_row, message
