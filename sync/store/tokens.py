"""Reset tokens in the store: redeeming one is a single conditional UPDATE.

Of two redemptions at the same moment exactly one gets its row: PostgreSQL evaluates the condition
again under the row lock, SQLite under its write lock. The caller opens the transaction with
`sync.store.engine.writing` and makes this its first statement: on SQLite that transaction holds
the write lock from BEGIN (waiting `busy_timeout` for it), so it never works from a snapshot that
another redemption made stale, which SQLite answers with "database is locked" at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update

from sync.store.schema import reset_tokens


def claim_reset_token(conn: Connection, token_id: int, now: datetime) -> bool:
    """Marks the token used if it still may be used (not used, not revoked, not expired)."""
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
