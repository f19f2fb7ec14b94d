"""A delta watermark may be a whole URL (Microsoft Graph's opaque `@odata.deltaLink`).

Revision ID: 0003_wide_watermark
Revises: 0002_scheduler
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_wide_watermark"
down_revision = "0002_scheduler"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_state") as batch:
        batch.alter_column("watermark", type_=sa.Text(), existing_type=sa.String(64))


def downgrade() -> None:
    with op.batch_alter_table("sync_state") as batch:
        batch.alter_column("watermark", type_=sa.String(64), existing_type=sa.Text())
