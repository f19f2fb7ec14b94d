"""Reset tokens: only their SHA-256 digests are stored (sync.mail.tokens makes them).

Redeeming one is a single conditional UPDATE: of two redemptions at the same moment exactly one
gets its row. PostgreSQL evaluates the condition again under the row lock, SQLite under its write
lock. The caller opens the transaction with `sync.store.engine.writing` and makes the claim its
first statement: on SQLite that transaction holds the write lock from BEGIN (waiting
`busy_timeout` for it), so it never works from a snapshot that another redemption made stale,
which SQLite answers with "database is locked" at once.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, RowMapping, select, update

from sync.store.schema import accounts, reset_tokens


def revoke_tokens(conn: Connection, account_ids: Collection[int], now: datetime) -> None:
    """Every still-usable token of these accounts stops working: superseded by a newer one,
    a password chosen by an administrator, or the account disabled (SPEC §6)."""
    if not account_ids:
        return
    target = reset_tokens.c.account_id
    conn.execute(
        update(reset_tokens)
        .where(
            target == next(iter(account_ids)) if len(account_ids) == 1 else target.in_(account_ids),
            reset_tokens.c.used_at.is_(None),
            reset_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def token_and_account(conn: Connection, token_hash: str) -> RowMapping | None:
    """The token of that digest with the fields of its account a verdict needs, or None."""
    row = conn.execute(
        select(
            reset_tokens.c.id,
            reset_tokens.c.tenant_id,
            reset_tokens.c.account_id,
            reset_tokens.c.expires_at,
            reset_tokens.c.used_at,
            reset_tokens.c.revoked_at,
            accounts.c.name,
            accounts.c.role,
            accounts.c.status,
        )
        .join(accounts, accounts.c.id == reset_tokens.c.account_id)
        .where(reset_tokens.c.token_hash == token_hash)
    ).first()
    return None if row is None else row._mapping


def claim_token(conn: Connection, token_id: int, now: datetime) -> bool:
    """Marks the token used if it still may be used. The condition is evaluated again under
    the row lock (PostgreSQL) or the write lock (SQLite), so only one claimant gets rowcount 1."""
    result = conn.execute(
        update(reset_tokens)
        .where(
            reset_tokens.c.id == token_id,
            reset_tokens.c.used_at.is_(None),
            reset_tokens.c.revoked_at.is_(None),
            reset_tokens.c.expires_at > now,
        )
        .values(used_at=now)
    )
    return result.rowcount == 1
