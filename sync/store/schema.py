"""The account store's tables (SQLAlchemy Core). Every row belongs to one tenant.

Migrations under sync/store/migrations/ create these; this module is their description for queries.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(256), nullable=False),
    # casefolded name: uniqueness is case-insensitive (SPEC §3)
    Column("name_key", String(256), nullable=False),
    Column("source_id", String(256), nullable=False),
    # the name the tenant's rule composed last time: a rename happens only when it changes
    Column("composed_name", String(256), nullable=True),
    Column("status", String(16), nullable=False),  # active | disabled | pending
    Column("primary_email", String(320), nullable=True),
    Column("emails", Text, nullable=False, default="[]"),  # JSON array
    Column("employee_code", String(256), nullable=True),
    Column("given_name", String(256), nullable=True),
    Column("family_name", String(256), nullable=True),
    Column("display_name", String(512), nullable=True),
    # Profile.digest() of the fields above: a run compares it instead of every field
    Column("profile_digest", String(32), nullable=False),
    Column("auth_type", String(16), nullable=False),
    Column("role", String(32), nullable=False, default="none"),
    Column("role_scheme", String(256), nullable=True),
    # the group whose [[tenants.roles]] rule matched at the last run (None: none matched), and
    # whether the privilege was then set by hand (kept until the matched group changes)
    Column("role_group", String(512), nullable=True),
    Column("role_by_hand", Boolean, nullable=False, default=False),
    Column("memo", Text, nullable=True),
    Column("name_locked", Boolean, nullable=False, default=False),
    Column("password_hash", String(256), nullable=True),
    # SPEC §10 late invitations: an account_created email was queued and has not failed for
    # good; else the address the last one failed to. Kept here (set when the email is queued,
    # and when its delivery fails for good) so a run reads it with the account, not by grouping
    # the outbox
    Column("invited", Boolean, nullable=False, default=False),
    Column("invite_failed_to", String(320), nullable=True),
    # SPEC §16: the first and last day of employment (tenant calendar days), as the source last
    # gave them: the date sweep acts on them without reading the source
    Column("start_date", Date, nullable=True),
    Column("end_date", Date, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "name_key", name="uq_accounts_tenant_name"),
    UniqueConstraint("tenant_id", "source_id", name="uq_accounts_tenant_source"),
)

released_names = Table(
    "released_names",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name_key", String(256), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("released_at", DateTime(timezone=True), nullable=False),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("watermark", Text, nullable=True),
    Column("last_full_at", DateTime(timezone=True), nullable=True),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("full", Boolean, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("report", Text, nullable=False),  # the JSON of SPEC §7
    Index("ix_runs_tenant_started", "tenant_id", "started_at"),
)

reset_tokens = Table(
    "reset_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    # SHA-256 of a 256-bit random token: a slow hash buys nothing against that much entropy
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_reset_tokens_account", "account_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    # None for a message to the tenant's administrators (an alert, SPEC §10)
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=True),
    Column("run_id", String(36), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("to_address", String(320), nullable=False),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("params", Text, nullable=False),  # JSON: what the template needs, without the token
    # the token in clear until delivery, then NULL: the stored copy holds no usable token
    Column("token", String(128), nullable=True),
    Column("status", String(16), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

# SPEC §10's audit: every change to an account, by a run or an administrator
account_events = Table(
    "account_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    # no foreign key: an event is written beside its account's change and outlives it; the key's
    # check was half the cost of a first run's events (migration 0007)
    Column("account_id", Integer, nullable=False),
    Column("account_name", String(256), nullable=False),  # the name when it happened
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(320), nullable=False),  # "run", "run:on_demand" or "admin:NAME"
    Column("run_id", String(36), nullable=True),
    Column("action", String(32), nullable=False),
    Column("fields", Text, nullable=False),  # JSON: {field: [before, after]}, never a secret
    Index("ix_account_events_account", "tenant_id", "account_id", "id"),
    Index("ix_account_events_run", "run_id"),
    Index("ix_account_events_at", "tenant_id", "at"),
)

# SPEC §10's change sets: the changes of one kind a blocked run held back
change_sets = Table(
    "change_sets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("run_id", String(36), nullable=False),
    Column("kind", String(16), nullable=False),  # disable | rename | clear
    Column("count", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # pending | approved | rejected | superseded | expired
    Column("status", String(16), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decided_by", String(320), nullable=True),
    Column("decided_run_id", String(36), nullable=True),  # the run an approval started
    Column("changes", Text, nullable=False),  # JSON: [{account, source_id, action, fields}]
    Column("outcome", Text, nullable=True),  # why a set ended without a decision (SPEC §14)
    Index("ix_change_sets_tenant", "tenant_id", "status", "kind"),
)

# Tenants as data (SPEC §11): the current settings, and every saved version of them.
tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("origin", String(16), nullable=False),  # file | store
    Column("origin_file", Text, nullable=True),  # the configuration file of a `file` tenant
    Column("enabled", Boolean, nullable=False),  # False: gone from its configuration file
    Column("version", Integer, nullable=False),
    Column("settings", Text, nullable=False),  # JSON: the keys as given (secrets only by name)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

tenant_versions = Table(
    "tenant_versions",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("settings", Text, nullable=False),
    Column("changed", Text, nullable=False),  # JSON array of the dotted keys that changed
    Column("author", String(255), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
)

# The fleet's dispatcher (sync.entry.fleet): each tenant's next scheduled tick and its queued run.
tenant_dispatch = Table(
    "tenant_dispatch",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("next_due_at", DateTime(timezone=True), nullable=False),
    Column("queued_at", DateTime(timezone=True), nullable=True),
    Column("queued_due_at", DateTime(timezone=True), nullable=True),
    # ticks that came due while a run was still queued: merged into it, counted here
    Column("merged_ticks", Integer, nullable=False, default=0),
    # the tenant settings' version and "schedule timezone" the tick was computed from: a pass
    # re-times the tick of a tenant whose schedule changed since (SPEC §14)
    Column("settings_version", Integer, nullable=True),
    Column("schedule", Text, nullable=True),
)

# Each tenant's watch (SPEC §15): when its last run ended (succeeded, blocked or failed), when it
# becomes overdue if none ends before, and since when it has been overdue (one alert each way)
tenant_watch = Table(
    "tenant_watch",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("last_ended_at", DateTime(timezone=True), nullable=True),
    Column("overdue_at", DateTime(timezone=True), nullable=False),
    Column("overdue_since", DateTime(timezone=True), nullable=True),
    Index("ix_tenant_watch_overdue_at", "overdue_at"),
)

# SCIM 2.0 (SPEC §17): the directory identity providers push into, one per tenant. A `scim`
# source reads it like any directory; nothing here is ever an account.
scim_directories = Table(
    "scim_directories",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("token_hash", String(64), nullable=True),  # sha256 hex of the bearer token
    Column("token_created_at", DateTime(timezone=True), nullable=True),
    # the last push that changed the directory, and the last push a run was started (or queued)
    # for: a run is due while pushed_at is later than run_for (it survives a restart of `web`)
    Column("pushed_at", DateTime(timezone=True), nullable=True),
    Column("run_for", DateTime(timezone=True), nullable=True),
)

scim_users = Table(
    "scim_users",
    metadata,
    Column("id", String(36), primary_key=True),  # the resource id we assign: the source id
    Column("tenant_id", String(64), nullable=False),
    Column("user_name", String(512), nullable=False),
    # casefolded userName, unique per tenant; None once the resource is deleted, so the name
    # may be pushed again (as a new resource)
    Column("user_name_key", String(512), nullable=True),
    Column("external_id", String(512), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("resource", Text, nullable=False),  # JSON: the resource as pushed, without meta
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=True),  # DELETE: hidden, disabled
    UniqueConstraint("tenant_id", "user_name_key", name="uq_scim_users_name"),
    Index("ix_scim_users_external", "tenant_id", "external_id"),
)

scim_groups = Table(
    "scim_groups",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("display_name", String(512), nullable=False),
    Column("display_name_key", String(512), nullable=False),  # casefolded, unique per tenant
    Column("external_id", String(512), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "display_name_key", name="uq_scim_groups_name"),
)

scim_members = Table(
    "scim_members",
    metadata,
    Column(
        "group_id", String(36), ForeignKey("scim_groups.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("user_id", String(36), ForeignKey("scim_users.id"), primary_key=True),
    Column("display", String(512), nullable=True),  # as the identity provider gave it
    Index("ix_scim_members_user", "user_id"),
)

# the administrators' console (SPEC §15, §19): sessions, sign-in attempts and second factors in
# the store, so several `web` processes share them and a restart signs nobody out
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # SHA-256 of the cookie's id, never the id
    Column("tenant_id", String(64), nullable=False),
    Column("account_id", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Column("second_factor", String(16), nullable=False),  # done | needed
    Column("via", String(16), nullable=False),  # password | oidc (single sign-on)
    Column("challenge", String(128), nullable=True),  # a pending WebAuthn ceremony's challenge
    Index("ix_console_sessions_account", "tenant_id", "account_id"),
    Index("ix_console_sessions_seen", "seen_at"),
)

console_attempts = Table(
    "console_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # signin (per address) | failed (per name)
    Column("key", String(512), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_console_attempts_key", "kind", "key", "at"),
    Index("ix_console_attempts_at", "kind", "at"),
)

console_factors = Table(
    "console_factors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("account_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # totp | passkey
    Column("secret", String(256), nullable=True),  # totp: sealed (sync.services.sealed)
    Column("last_step", Integer, nullable=True),  # totp: the time-step of the last code used
    Column("credential_id", String(1024), nullable=True),  # passkey: base64url
    Column("public_key", Text, nullable=True),  # passkey: COSE key, base64url
    Column("sign_count", Integer, nullable=False, default=0),  # passkey
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("confirmed_at", DateTime(timezone=True), nullable=True),  # None: enrolment pending
    Column("used_at", DateTime(timezone=True), nullable=True),
    Index("ix_console_factors_account", "tenant_id", "account_id"),
    UniqueConstraint("credential_id", name="uq_console_factors_credential"),
)

console_recovery_codes = Table(
    "console_recovery_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("account_id", Integer, nullable=False),
    Column("code_hash", String(256), nullable=False),  # argon2id
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Index("ix_console_recovery_account", "tenant_id", "account_id"),
)

# SPEC §19's audit stream: the one cursor (the last event id sent) and who holds it, until when
audit_stream = Table(
    "audit_stream",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("sent_id", Integer, nullable=False),  # every event up to this id has been sent
    Column("holder", String(200), nullable=True),  # host:pid:thread of the sending process
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),  # when the cursor last moved
)
