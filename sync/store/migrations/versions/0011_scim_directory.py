"""The tenants' SCIM directories (SPEC §17): the token's hash and the pending-run marker per
tenant, and the users, groups and memberships identity providers push.

Revision ID: 0011_scim_directory
Revises: 0010_account_dates
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_scim_directory"
down_revision = "0010_account_dates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scim_directories",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("token_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_for", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "scim_users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(512), nullable=False),
        sa.Column("user_name_key", sa.String(512), nullable=True),
        sa.Column("external_id", sa.String(512), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("tenant_id", "user_name_key", name="uq_scim_users_name"),
    )
    op.create_index("ix_scim_users_external", "scim_users", ["tenant_id", "external_id"])
    op.create_table(
        "scim_groups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(512), nullable=False),
        sa.Column("display_name_key", sa.String(512), nullable=False),
        sa.Column("external_id", sa.String(512), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "display_name_key", name="uq_scim_groups_name"),
    )
    op.create_table(
        "scim_members",
        sa.Column(
            "group_id",
            sa.String(36),
            sa.ForeignKey("scim_groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("scim_users.id"), primary_key=True),
        sa.Column("display", sa.String(512), nullable=True),
    )
    op.create_index("ix_scim_members_user", "scim_members", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_scim_members_user", table_name="scim_members")
    op.drop_table("scim_members")
    op.drop_table("scim_groups")
    op.drop_index("ix_scim_users_external", table_name="scim_users")
    op.drop_table("scim_users")
    op.drop_table("scim_directories")
