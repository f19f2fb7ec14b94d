"""Each account carries its invitation state (SPEC §10 late invitations): whether an
account_created email is on its way or was delivered, and where the last one failed. A run read
it by grouping the outbox for every account, a quarter of a 100,000-account delta run.

Revision ID: 0006_invitation_state
Revises: 0005_tenants_fleet
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_invitation_state"
down_revision = "0005_tenants_fleet"
branch_labels = None
depends_on = None

# what the runs computed before, from the outbox: one that is pending or sent, else a failed one
LIVE = """EXISTS (SELECT 1 FROM outbox o WHERE o.account_id = accounts.id
                  AND o.kind = 'account_created' AND o.status IN ('pending', 'sent'))"""
FAILED_TO = """(SELECT max(o.to_address) FROM outbox o WHERE o.account_id = accounts.id
                AND o.kind = 'account_created' AND o.status = 'failed')"""


def upgrade() -> None:
    # plain ADD COLUMNs: batch mode would copy the table on SQLite, which its foreign keys from
    # the outbox and the audit refuse once accounts have rows
    op.add_column(
        "accounts", sa.Column("invited", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column("accounts", sa.Column("invite_failed_to", sa.String(320)))
    op.execute(f"UPDATE accounts SET invited = {LIVE}")
    op.execute(f"UPDATE accounts SET invite_failed_to = {FAILED_TO} WHERE NOT invited")


def downgrade() -> None:
    # plain DROP COLUMNs (SQLite has them since 3.35), for the same reason
    op.execute("ALTER TABLE accounts DROP COLUMN invite_failed_to")
    op.execute("ALTER TABLE accounts DROP COLUMN invited")
