"""The administrators' console in the store (SPEC §15, §19): sessions by the SHA-256 of their
id, sign-in attempts in moving windows, second factors and recovery codes.

Every function works in the caller's transaction; sync.services.console_auth opens them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, text, update

from sync.store.schema import (
    console_attempts,
    console_factors,
    console_recovery_codes,
    console_sessions,
)

# sessions


def add_session(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(console_sessions).values(**row))


def session_row(conn: Connection, id_hash: str) -> RowMapping | None:
    row = conn.execute(select(console_sessions).where(console_sessions.c.id_hash == id_hash))
    found = row.first()
    return None if found is None else found._mapping


def touch_session(conn: Connection, id_hash: str, now: datetime) -> None:
    conn.execute(
        update(console_sessions).where(console_sessions.c.id_hash == id_hash).values(seen_at=now)
    )


def change_session(conn: Connection, id_hash: str, **values: Any) -> None:
    conn.execute(
        update(console_sessions).where(console_sessions.c.id_hash == id_hash).values(**values)
    )


def delete_session(conn: Connection, id_hash: str) -> None:
    conn.execute(delete(console_sessions).where(console_sessions.c.id_hash == id_hash))


def delete_account_sessions(conn: Connection, tenant_id: str, account_id: int) -> int:
    result = conn.execute(
        delete(console_sessions).where(
            console_sessions.c.tenant_id == tenant_id,
            console_sessions.c.account_id == account_id,
        )
    )
    return int(result.rowcount)


def delete_stale_sessions(conn: Connection, seen_before: datetime, started_before: datetime) -> int:
    result = conn.execute(
        delete(console_sessions).where(
            (console_sessions.c.seen_at < seen_before)
            | (console_sessions.c.started_at < started_before)
        )
    )
    return int(result.rowcount)


# attempts: one row per attempt; a window's count is the rows newer than its start


def serialize_attempts(conn: Connection, kind: str, key: str) -> None:
    """Makes the transaction the only one counting `kind` attempts of `key` until it ends, so a
    burst of parallel tries cannot all read the count before any adds to it. PostgreSQL: a
    transaction advisory lock on the pair; SQLite's write transactions are serial already."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:pair, 0))"),
            {"pair": f"console_attempts:{kind}:{key}"},
        )


def add_attempt(conn: Connection, kind: str, key: str, now: datetime) -> int:
    result = conn.execute(
        insert(console_attempts).values(kind=kind, key=key, at=now).returning(console_attempts.c.id)
    )
    return int(result.scalar_one())


def delete_attempt(conn: Connection, attempt_id: int) -> None:
    conn.execute(delete(console_attempts).where(console_attempts.c.id == attempt_id))


def attempts_since(conn: Connection, kind: str, key: str, since: datetime) -> tuple[int, Any]:
    """How many attempts of `kind` for `key` were made after `since`, and the oldest's time."""
    row = conn.execute(
        select(func.count(), func.min(console_attempts.c.at)).where(
            console_attempts.c.kind == kind,
            console_attempts.c.key == key,
            console_attempts.c.at > since,
        )
    ).one()
    return int(row[0]), row[1]


def purge_attempts(conn: Connection, kind: str, before: datetime) -> None:
    conn.execute(
        delete(console_attempts).where(
            console_attempts.c.kind == kind, console_attempts.c.at <= before
        )
    )


# second factors


def factors(conn: Connection, tenant_id: str, account_id: int) -> list[RowMapping]:
    rows = conn.execute(
        select(console_factors)
        .where(console_factors.c.tenant_id == tenant_id, console_factors.c.account_id == account_id)
        .order_by(console_factors.c.id)
    )
    return [r._mapping for r in rows]


def add_factor(conn: Connection, row: dict[str, Any]) -> int:
    inserted = conn.execute(insert(console_factors).values(**row).returning(console_factors.c.id))
    return int(inserted.scalar_one())


def change_factor(conn: Connection, factor_id: int, **values: Any) -> None:
    conn.execute(update(console_factors).where(console_factors.c.id == factor_id).values(**values))


def claim_totp_step(conn: Connection, factor_id: int, step: int, now: datetime) -> bool:
    """Records `step` as the factor's last used time-step unless that step or a later one was
    used already: of two sign-ins with one code at the same moment, exactly one gets the row."""
    column = console_factors.c.last_step
    result = conn.execute(
        update(console_factors)
        .where(console_factors.c.id == factor_id, column.is_(None) | (column < step))
        .values(last_step=step, used_at=now)
    )
    return result.rowcount == 1


def delete_pending_factors(conn: Connection, tenant_id: str, account_id: int, kind: str) -> None:
    conn.execute(
        delete(console_factors).where(
            console_factors.c.tenant_id == tenant_id,
            console_factors.c.account_id == account_id,
            console_factors.c.kind == kind,
            console_factors.c.confirmed_at.is_(None),
        )
    )


def delete_factors(conn: Connection, tenant_id: str, account_id: int) -> int:
    result = conn.execute(
        delete(console_factors).where(
            console_factors.c.tenant_id == tenant_id,
            console_factors.c.account_id == account_id,
        )
    )
    return int(result.rowcount)


# recovery codes


def replace_recovery_codes(
    conn: Connection, tenant_id: str, account_id: int, hashes: list[str], now: datetime
) -> None:
    """The account's recovery codes become these; the old ones stop working."""
    delete_recovery_codes(conn, tenant_id, account_id)
    conn.execute(
        insert(console_recovery_codes),
        [
            {"tenant_id": tenant_id, "account_id": account_id, "code_hash": h, "created_at": now}
            for h in hashes
        ],
    )


def unused_recovery_codes(conn: Connection, tenant_id: str, account_id: int) -> list[RowMapping]:
    rows = conn.execute(
        select(console_recovery_codes.c.id, console_recovery_codes.c.code_hash).where(
            console_recovery_codes.c.tenant_id == tenant_id,
            console_recovery_codes.c.account_id == account_id,
            console_recovery_codes.c.used_at.is_(None),
        )
    )
    return [r._mapping for r in rows]


def claim_recovery_code(conn: Connection, code_id: int, now: datetime) -> bool:
    """Marks the code used if it was not: of two uses at the same moment exactly one wins."""
    result = conn.execute(
        update(console_recovery_codes)
        .where(console_recovery_codes.c.id == code_id, console_recovery_codes.c.used_at.is_(None))
        .values(used_at=now)
    )
    return result.rowcount == 1


def delete_recovery_codes(conn: Connection, tenant_id: str, account_id: int) -> int:
    result = conn.execute(
        delete(console_recovery_codes).where(
            console_recovery_codes.c.tenant_id == tenant_id,
            console_recovery_codes.c.account_id == account_id,
        )
    )
    return int(result.rowcount)
