"""The first schema: accounts, released names, sync state, runs, reset tokens, the email outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("name_key", sa.String(256), nullable=False),
        sa.Column("source_id", sa.String(256), nullable=False),
        sa.Column("composed_name", sa.String(256)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("primary_email", sa.String(320)),
        sa.Column("emails", sa.Text, nullable=False),
        sa.Column("employee_code", sa.String(256)),
        sa.Column("given_name", sa.String(256)),
        sa.Column("family_name", sa.String(256)),
        sa.Column("display_name", sa.String(512)),
        sa.Column("profile_digest", sa.String(32), nullable=False),
        sa.Column("auth_type", sa.String(16), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("role_scheme", sa.String(256)),
        sa.Column("memo", sa.Text),
        sa.Column("name_locked", sa.Boolean, nullable=False),
        sa.Column("password_hash", sa.String(256)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint("tenant_id", "name_key", name="uq_accounts_tenant_name"),
        sa.UniqueConstraint("tenant_id", "source_id", name="uq_accounts_tenant_source"),
    )
    op.create_table(
        "released_names",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("name_key", sa.String(256), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("released_at", TZ, nullable=False),
    )
    op.create_table(
        "sync_state",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("watermark", sa.String(64)),
        sa.Column("last_full_at", TZ),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("full", sa.Boolean, nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
    )
    op.create_index("ix_runs_tenant_started", "runs", ["tenant_id", "started_at"])
    op.create_table(
        "reset_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ),
        sa.Column("revoked_at", TZ),
    )
    op.create_index("ix_reset_tokens_account", "reset_tokens", ["account_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("run_id", sa.String(36)),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("token", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
