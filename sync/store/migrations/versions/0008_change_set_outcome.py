"""A change set says why it ended (SPEC §14): superseded by which run and why, or expired; and
a tenant's tick remembers the schedule it was computed from, so a changed schedule re-times it
at the next dispatcher pass instead of after the old tick.

Revision ID: 0008_change_set_outcome
Revises: 0007_audit_unbound
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_change_set_outcome"
down_revision = "0007_audit_unbound"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("change_sets") as batch:
        batch.add_column(sa.Column("outcome", sa.Text(), nullable=True))
    with op.batch_alter_table("tenant_dispatch") as batch:
        batch.add_column(sa.Column("settings_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("schedule", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_dispatch") as batch:
        batch.drop_column("schedule")
        batch.drop_column("settings_version")
    with op.batch_alter_table("change_sets") as batch:
        batch.drop_column("outcome")
