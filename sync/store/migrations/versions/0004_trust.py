"""SPEC §10: the audit's account events, change sets, alerts in the outbox; SPEC §13: the
group a privilege came from.

Revision ID: 0004_trust
Revises: 0003_wide_watermark
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_trust"
down_revision = "0003_wide_watermark"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "account_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("account_name", sa.String(256), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("run_id", sa.String(36)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_account_events_account", "account_events", ["tenant_id", "account_id", "id"]
    )
    op.create_index("ix_account_events_run", "account_events", ["run_id"])
    op.create_index("ix_account_events_at", "account_events", ["tenant_id", "at"])
    op.create_table(
        "change_sets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_at", TZ),
        sa.Column("decided_by", sa.String(320)),
        sa.Column("decided_run_id", sa.String(36)),
        sa.Column("changes", sa.Text, nullable=False),
    )
    op.create_index("ix_change_sets_tenant", "change_sets", ["tenant_id", "status", "kind"])
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("account_id", existing_type=sa.Integer, nullable=True)
    op.create_index("ix_outbox_account", "outbox", ["account_id", "kind"])
    # plain ADD COLUMNs: batch mode copied the table on SQLite, which its foreign keys (from the
    # outbox, the tokens, the released names) refused once accounts had rows
    op.add_column("accounts", sa.Column("role_group", sa.String(512)))
    op.add_column(
        "accounts", sa.Column("role_by_hand", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.execute("ALTER TABLE accounts DROP COLUMN role_by_hand")  # SQLite: since 3.35
    op.execute("ALTER TABLE accounts DROP COLUMN role_group")
    op.drop_index("ix_outbox_account", "outbox")
    op.execute("DELETE FROM outbox WHERE account_id IS NULL")
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("account_id", existing_type=sa.Integer, nullable=False)
    op.drop_table("change_sets")
    op.drop_table("account_events")
