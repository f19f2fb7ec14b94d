"""The audit stream's cursor (SPEC §19): the last event id sent and the lease of the process
sending, one row, there from the start so that taking it is a plain UPDATE.

Revision ID: 0013_audit_stream
Revises: 0011_scim_directory
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_audit_stream"
down_revision = "0011_scim_directory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "audit_stream",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("sent_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    # from the first event kept: enabling the stream sends the audit still within retention
    op.bulk_insert(table, [{"name": "default", "sent_id": 0}])


def downgrade() -> None:
    op.drop_table("audit_stream")
