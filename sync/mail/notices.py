"""Which emails a run's changes cause (SPEC §6, §10): a set-password link for each new password
account and each one still owed its invitation, a notice for each renamed one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from sync.mail.queue import Notice
from sync.model import Action, Change, ProfileValues, sends_invitation

if TYPE_CHECKING:
    from sync.config.settings import TenantSettings

CREATED, RENAMED = "account_created", "account_renamed"


def notice_kind(change: Change) -> str | None:
    """The email this change causes, or None (no address: reported as missing_email)."""
    return None if change.profile is None else _kind(change, change.profile.values())


def _kind(change: Change, profile: ProfileValues) -> str | None:
    if not profile.primary_email:
        return None
    if sends_invitation(change, profile):
        return CREATED
    if Action.RENAME in change.actions:
        return RENAMED
    return None


def count_notices(changes: Iterable[Change]) -> int:
    """How many emails these changes would queue (a dry run's count)."""
    return sum(1 for change in changes if notice_kind(change) is not None)


def notices_for(
    tenant: TenantSettings, changes: Iterable[Change], created_ids: Mapping[str, int]
) -> Iterator[Notice]:
    """One at a time, in the changes' order: a run's 100,000 notices are never all in memory.
    `created_ids` holds the new accounts' ids."""
    for change in changes:
        if change.profile is None:
            continue
        profile = change.profile.values()  # unpacked once: 100,000 times in a first run
        kind = _kind(change, profile)
        if kind is None:
            continue
        assert profile.primary_email is not None  # _kind gives no email without an address
        account_id = change.account_id or created_ids[change.source_id]
        params = {"tenant": tenant.id, "account_name": change.name,
                  "display_name": profile.display_name}  # fmt: skip
        if kind == RENAMED:
            params["old_name"] = change.old_name
        yield Notice(account_id, kind, profile.primary_email, params, kind == CREATED)
