"""0010_account_dates on SQLite and PostgreSQL: a store with accounts gains the dates, keeps its
rows, and going back turns a pending account into a disabled one (an older release would let it
sign in as active)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import inspect, text

from sync.store.engine import make_engine, upgrade
from tests.support.migrations import migrate

NOW = datetime(2026, 1, 1, tzinfo=UTC)
INSERT = (
    "INSERT INTO accounts (id, tenant_id, name, name_key, source_id, status, emails, "
    "profile_digest, auth_type, role, name_locked, created_at, updated_at) VALUES (:id, 't', "
    ":name, :name, :name, 'active', '[]', 'd', 'password', 'none', false, :now, :now)"
)


def test_accounts_gain_their_dates_and_pending_ones_go_back_disabled(database_url: str) -> None:
    migrate(database_url, "0009_tenant_watch")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        for account_id in (1, 2):
            conn.execute(text(INSERT), {"id": account_id, "name": f"u{account_id}", "now": NOW})
    upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT start_date, end_date FROM accounts")).all() == [
            (None, None),
            (None, None),
        ]
        conn.execute(
            text("UPDATE accounts SET status = 'pending', start_date = :day WHERE id = 2"),
            {"day": date(2026, 4, 1)},
        )
        stored = conn.execute(text("SELECT start_date FROM accounts WHERE id = 2")).scalar_one()
        assert str(stored) == "2026-04-01"
    engine.dispose()

    migrate(database_url, "0009_tenant_watch", down=True)
    engine = make_engine(database_url)
    columns = {c["name"] for c in inspect(engine).get_columns("accounts")}
    assert not {"start_date", "end_date"} & columns
    with engine.connect() as conn:
        statuses = conn.execute(text("SELECT id, status FROM accounts ORDER BY id")).all()
    assert statuses == [(1, "active"), (2, "disabled")]
    engine.dispose()
