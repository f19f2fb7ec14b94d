"""Each tenant's watch (SPEC §15): when its last run ended, when it becomes overdue, and since
when it has been (so one alert goes out when it becomes overdue, and one when it recovers).

Revision ID: 0009_tenant_watch
Revises: 0008_change_set_outcome
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_tenant_watch"
down_revision = "0008_change_set_outcome"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_watch",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("last_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overdue_since", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_tenant_watch_overdue_at", "tenant_watch", ["overdue_at"])


def downgrade() -> None:
    op.drop_index("ix_tenant_watch_overdue_at", "tenant_watch")
    op.drop_table("tenant_watch")
