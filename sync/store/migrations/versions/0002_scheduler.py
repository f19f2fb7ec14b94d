"""The scheduler's tables: heartbeats for `health`, tick claims so replicas run each tick once.

Revision ID: 0002_scheduler
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_scheduler"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scheduler_heartbeats",
        sa.Column("worker", sa.String(255), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("beat_at", TZ, nullable=False),
    )
    op.create_index("ix_scheduler_heartbeats_host", "scheduler_heartbeats", ["host"])
    op.create_table(
        "schedule_ticks",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("tick_at", TZ, primary_key=True),
        sa.Column("worker", sa.String(255), nullable=False),
        sa.Column("claimed_at", TZ, nullable=False),
        sa.Column("run_id", sa.String(36)),
        sa.Column("status", sa.String(16)),
    )
    op.create_index("ix_schedule_ticks_claimed", "schedule_ticks", ["claimed_at"])


def downgrade() -> None:
    op.drop_table("schedule_ticks")
    op.drop_table("scheduler_heartbeats")
