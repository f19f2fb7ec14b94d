"""Queueing email in the outbox, in the caller's transaction (SPEC §6).

The token travels in the outbox row until delivery; only its hash is kept in reset_tokens.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, update

from sync.mail.tokens import new_token
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
    notices: Sequence[Notice],
    *,
    now: datetime,
    token_ttl: timedelta,
    domain: str,
    run_id: str | None = None,
) -> int:
    """Writes tokens and outbox rows for every notice, in batches; a new token supersedes older
    ones."""
    # a just-created account has no older token to supersede; skipping it keeps the IN list small
    tokened = [n.account_id for n in notices if n.with_token and n.kind != "account_created"]
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
    for start in range(0, len(notices), BATCH):
        token_rows, outbox_rows = [], []
        for notice in notices[start : start + BATCH]:
            token = None
            if notice.with_token:
                token, digest = new_token()
                token_rows.append(
                    {
                        "tenant_id": tenant_id,
                        "account_id": notice.account_id,
                        "token_hash": digest,
                        "created_at": now,
                        "expires_at": now + token_ttl,
                    }
                )
            outbox_rows.append(
                {
                    "tenant_id": tenant_id,
                    "account_id": notice.account_id,
                    "run_id": run_id,
                    "kind": notice.kind,
                    "to_address": notice.to_address,
                    "message_id": f"<{uuid.uuid4().hex}@{domain}>",
                    "params": json.dumps(notice.params, ensure_ascii=False),
                    "token": token,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
        if token_rows:
            conn.execute(insert(reset_tokens), token_rows)
        conn.execute(insert(outbox), outbox_rows)
    return len(notices)
