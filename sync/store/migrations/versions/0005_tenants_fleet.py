"""Tenants live in the store with every saved version of their settings (SPEC §11); the fleet's
dispatch state replaces the scheduler's tick claims and heartbeats (Procrastinate keeps those).

Revision ID: 0005_tenants_fleet
Revises: 0004_trust
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_tenants_fleet"
down_revision = "0004_trust"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("origin_file", sa.Text),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "tenant_versions",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("changed", sa.Text, nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("saved_at", TZ, nullable=False),
    )
    op.create_table(
        "tenant_dispatch",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("next_due_at", TZ, nullable=False),
        sa.Column("queued_at", TZ),
        sa.Column("queued_due_at", TZ),
        sa.Column("merged_ticks", sa.Integer, nullable=False, server_default="0"),
    )
    op.drop_table("schedule_ticks")
    op.drop_table("scheduler_heartbeats")


def downgrade() -> None:
    op.drop_table("tenant_dispatch")
    op.drop_table("tenant_versions")
    op.drop_table("tenants")
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
