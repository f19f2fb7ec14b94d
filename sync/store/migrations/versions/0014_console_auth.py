"""The administrators' console in the store (SPEC §15, §19): sessions, sign-in attempts (the
per-address limit and the per-name lockout), second factors and recovery codes.

Revision ID: 0014_console_auth
Revises: 0013_audit_stream
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_console_auth"
down_revision = "0013_audit_stream"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("second_factor", sa.String(16), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("challenge", sa.String(128), nullable=True),
    )
    op.create_index("ix_console_sessions_account", "console_sessions", ["tenant_id", "account_id"])
    op.create_index("ix_console_sessions_seen", "console_sessions", ["seen_at"])
    op.create_table(
        "console_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_attempts_key", "console_attempts", ["kind", "key", "at"])
    op.create_index("ix_console_attempts_at", "console_attempts", ["kind", "at"])
    op.create_table(
        "console_factors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("secret", sa.String(256), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.Column("credential_id", sa.String(1024), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("credential_id", name="uq_console_factors_credential"),
    )
    op.create_index("ix_console_factors_account", "console_factors", ["tenant_id", "account_id"])
    op.create_table(
        "console_recovery_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_console_recovery_account", "console_recovery_codes", ["tenant_id", "account_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_console_recovery_account", table_name="console_recovery_codes")
    op.drop_table("console_recovery_codes")
    op.drop_index("ix_console_factors_account", table_name="console_factors")
    op.drop_table("console_factors")
    op.drop_index("ix_console_attempts_at", table_name="console_attempts")
    op.drop_index("ix_console_attempts_key", table_name="console_attempts")
    op.drop_table("console_attempts")
    op.drop_index("ix_console_sessions_seen", table_name="console_sessions")
    op.drop_index("ix_console_sessions_account", table_name="console_sessions")
    op.drop_table("console_sessions")
