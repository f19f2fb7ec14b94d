"""The audit keeps no foreign key to accounts, and the outbox loses an index nothing reads.

An event names its account by id and by the name it had; it is written only beside a change of
that account, in the same transaction, and accounts are never deleted, so the key guarded
nothing, while checking it for every event was half the database's cost of a first run's
100,000 `created` events (0.5 of 1.06 s on PostgreSQL). ix_outbox_account served the runs'
reading of invitations from the outbox, which 0006_invitation_state moved onto the accounts.

Revision ID: 0007_audit_unbound
Revises: 0006_invitation_state
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_audit_unbound"
down_revision = "0006_invitation_state"
branch_labels = None
depends_on = None

POSTGRES_KEY = "account_events_account_id_fkey"  # PostgreSQL's name for 0004's unnamed key


def upgrade() -> None:
    op.drop_index("ix_outbox_account", "outbox")
    if op.get_bind().dialect.name == "sqlite":
        _copy_events(bound=False)  # SQLite drops a key only by copying the table
    else:
        op.drop_constraint(POSTGRES_KEY, "account_events", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _copy_events(bound=True)
    else:
        op.create_foreign_key(POSTGRES_KEY, "account_events", "accounts", ["account_id"], ["id"])
    op.create_index("ix_outbox_account", "outbox", ["account_id", "kind"])


def _copy_events(*, bound: bool) -> None:
    """account_events copied into a new table with or without the key (no table refers to it,
    so SQLite lets the old one go)."""
    account_id = (
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False)
        if bound
        else sa.Column("account_id", sa.Integer, nullable=False)
    )
    events = sa.Table(
        "account_events",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        account_id,
        sa.Column("account_name", sa.String(256), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("run_id", sa.String(36)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Index("ix_account_events_account", "tenant_id", "account_id", "id"),
        sa.Index("ix_account_events_run", "run_id"),
        sa.Index("ix_account_events_at", "tenant_id", "at"),
    )
    with op.batch_alter_table("account_events", copy_from=events, recreate="always"):
        pass
