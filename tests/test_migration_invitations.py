"""Migrations of a store that holds accounts, email and events, from 0003 (the last release)
to the head and back, on SQLite and PostgreSQL: SQLite's foreign keys refuse a migration that
copies the accounts table. 0006_invitation_state carries each account's invitation state over
from the outbox as the runs read it before (SPEC §10); 0007_audit_unbound drops the audit's key
to accounts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text

from sync.store.engine import make_engine, upgrade
from tests.support.migrations import migrate

NOW = datetime(2026, 1, 1, tzinfo=UTC)
# account id -> its account_created emails (status, address)
OUTBOX = {
    1: [("sent", "a@example.com")],
    2: [("failed", "b@example.com")],
    3: [("failed", "c@old.example.com"), ("pending", "c@example.com")],
    4: [],
}


def test_a_populated_store_upgrades_with_its_invitations_and_goes_back(database_url: str) -> None:
    migrate(database_url, "0003_wide_watermark")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        for account_id, emails in OUTBOX.items():
            conn.execute(
                text(
                    "INSERT INTO accounts (id, tenant_id, name, name_key, source_id, status, "
                    "emails, profile_digest, auth_type, role, name_locked, created_at, "
                    "updated_at) VALUES (:id, 't', :name, :name, :name, 'active', '[]', 'd', "
                    "'password', 'none', false, :now, :now)"
                ),
                {"id": account_id, "name": f"user{account_id}", "now": NOW},
            )
            for number, (status, address) in enumerate(emails):
                conn.execute(
                    text(
                        "INSERT INTO outbox (tenant_id, account_id, kind, to_address, message_id, "
                        "params, status, attempts, next_attempt_at, created_at) VALUES ('t', :id, "
                        "'account_created', :to, :mid, '{}', :status, 0, :now, :now)"
                    ),
                    {
                        "id": account_id,
                        "to": address,
                        "mid": f"<{account_id}.{number}@x>",
                        "status": status,
                        "now": NOW,
                    },
                )
    upgrade(engine)
    with engine.connect() as conn:
        found = {
            account_id: (bool(invited), failed_to)
            for account_id, invited, failed_to in conn.execute(
                text("SELECT id, invited, invite_failed_to FROM accounts ORDER BY id")
            )
        }
    assert found == {
        1: (True, None),
        2: (False, "b@example.com"),
        3: (True, None),  # the later invitation is on its way
        4: (False, None),
    }
    engine.dispose()

    migrate(database_url, "0003_wide_watermark", down=True)
    engine = make_engine(database_url)
    columns = {c["name"] for c in inspect(engine).get_columns("accounts")}
    assert not {"invited", "invite_failed_to", "role_group", "role_by_hand"} & columns
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 4
    engine.dispose()


def test_the_audit_keeps_its_events_when_its_key_goes_and_comes_back(database_url: str) -> None:
    """0007_audit_unbound: SQLite drops the key only by copying account_events."""
    migrate(database_url, "0006_invitation_state")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO accounts (id, tenant_id, name, name_key, source_id, status, emails, "
                "profile_digest, auth_type, role, name_locked, created_at, updated_at) VALUES "
                "(1, 't', 'a', 'a', 'a', 'active', '[]', 'd', 'password', 'none', false, :now, "
                ":now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO account_events (tenant_id, account_id, account_name, at, actor, "
                "action, fields) VALUES ('t', 1, 'a', :now, 'run', 'created', '{}')"
            ),
            {"now": NOW},
        )
    assert inspect(engine).get_foreign_keys("account_events")
    upgrade(engine)
    assert not inspect(engine).get_foreign_keys("account_events")
    indexes = {i["name"] for i in inspect(engine).get_indexes("account_events")}
    assert {"ix_account_events_account", "ix_account_events_run", "ix_account_events_at"} <= indexes
    assert "ix_outbox_account" not in {i["name"] for i in inspect(engine).get_indexes("outbox")}
    engine.dispose()

    migrate(database_url, "0006_invitation_state", down=True)
    engine = make_engine(database_url)
    (key,) = inspect(engine).get_foreign_keys("account_events")
    assert key["referred_table"] == "accounts"
    assert "ix_outbox_account" in {i["name"] for i in inspect(engine).get_indexes("outbox")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT account_name FROM account_events")).scalars().all() == [
            "a"
        ]
    engine.dispose()
