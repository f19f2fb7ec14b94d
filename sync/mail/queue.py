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

from sqlalchemy import Connection, update

from sync.mail.tokens import new_token
from sync.store.bulk import insert_rows, to_json
from sync.store.schema import outbox, reset_tokens

if TYPE_CHECKING:
    from sync.config import Settings, TenantSettings

BATCH = 2000


@dataclass(frozen=True, slots=True)
class Notice:
    """One email to queue for one account."""

    account_id: int
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
) -> None:
    """Queues one email of an administrator's action (a rename, a reset link)."""
    ttl = timedelta(hours=tenant.token_ttl_hours)
    queue_notices(conn, tenant.id, [notice], now=now, token_ttl=ttl, domain=domain)


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
        _supersede_tokens(conn, batch, now)
        token_rows: list[dict[str, Any]] = []
        outbox_rows: list[dict[str, Any]] = []
        for notice in batch:
            token = None
            if notice.with_token:
                token, digest = new_token()
                token_rows.append(
                    {
                        "tenant_id": tenant_id,
                        "account_id": notice.account_id,
                        "token_hash": digest,
                        "created_at": now,
                        "expires_at": expires,
                    }
                )
            outbox_rows.append(
                {
                    "tenant_id": tenant_id,
                    "account_id": notice.account_id,
                    "run_id": run_id,
                    "kind": notice.kind,
                    "to_address": notice.to_address,
                    "message_id": f"<{os.urandom(16).hex()}@{domain}>",
                    "params": to_json(notice.params),
                    "token": token,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
        insert_rows(conn, reset_tokens, token_rows)
        insert_rows(conn, outbox, outbox_rows)
        queued += len(batch)
    return queued


def _supersede_tokens(conn: Connection, batch: list[Notice], now: datetime) -> None:
    # a just-created account has no older token to supersede; skipping it keeps the IN list small
    tokened = [n.account_id for n in batch if n.with_token and n.kind != "account_created"]
    if tokened:
        conn.execute(
            update(reset_tokens)
            .where(
                reset_tokens.c.account_id.in_(tokened),
                reset_tokens.c.used_at.is_(None),
                reset_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
