"""The closed vocabularies of the product (SPEC §1, §7): each a StrEnum, so a value is also the
plain string stored in the database and printed in JSON."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """What a run does to one account."""

    CREATE = "create"
    UPDATE = "update"
    RENAME = "rename"
    DISABLE = "disable"
    ENABLE = "enable"


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"
    SKIPPED_LOCKED = "skipped_locked"
    PLANNED = "planned"  # a dry run


class IssueReason(StrEnum):
    """Why a user got no account, or why its account was left alone (SPEC §7)."""

    MISSING_ATTRIBUTE = "missing_attribute"
    INVALID_NAME = "invalid_name"
    NAME_CONFLICT = "name_conflict"
    NO_LOOKUP_MATCH = "no_lookup_match"
    DUPLICATE_SOURCE_ID = "duplicate_source_id"
    MISSING_EMAIL = "missing_email"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    # listed by the source before their start date: no sign-in, no reset link (SPEC §16)
    PENDING = "pending"


class OutboxStatus(StrEnum):
    """A queued email's state (SPEC §6): waiting (or retrying), delivered, given up on."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Role(StrEnum):
    """An account's administrator privilege (SPEC §1)."""

    NONE = "none"
    SYSTEM_ADMIN = "system_admin"
    DEPARTMENT_ADMIN = "department_admin"
    OPERATOR = "operator"
    CUSTOM_ADMIN = "custom_admin"
