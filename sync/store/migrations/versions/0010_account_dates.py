"""Each account keeps its person's start and end dates (SPEC §16): a pending account waits for
its start date, and a date sweep disables leavers after their end date without reading the
source. `status` gains the value `pending` (a plain string column: no schema change).

Revision ID: 0010_account_dates
Revises: 0009_tenant_watch
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_account_dates"
down_revision = "0009_tenant_watch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs, as 0006: batch mode would copy the table, which SQLite's foreign keys
    # from the outbox refuse once accounts have rows
    op.add_column("accounts", sa.Column("start_date", sa.Date))
    op.add_column("accounts", sa.Column("end_date", sa.Date))


def downgrade() -> None:
    # an older release knows no pending account: they go back as disabled, never as active
    # (a person before their first day must not sign in)
    op.execute("UPDATE accounts SET status = 'disabled' WHERE status = 'pending'")
    op.execute("ALTER TABLE accounts DROP COLUMN end_date")
    op.execute("ALTER TABLE accounts DROP COLUMN start_date")
