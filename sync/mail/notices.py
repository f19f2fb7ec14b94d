"""Which emails a run's changes cause (SPEC §6): a set-password link for each new password
account, a notice for each renamed one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from sync.mail.queue import Notice
from sync.model import Action, Change

if TYPE_CHECKING:
    from sync.config import TenantSettings


def notices_for(
    tenant: TenantSettings, changes: Iterable[Change], created_ids: Mapping[str, int]
) -> Iterator[Notice]:
    """One at a time, in the changes' order: a run's 100,000 notices are never all in memory.
    `created_ids` holds the new accounts' ids."""
    for change in changes:
        profile = change.profile.values() if change.profile else None
        address = profile.primary_email if profile else None
        display = profile.display_name if profile else None
        if not address:
            continue  # reported as missing_email by the plan
        if Action.CREATE in change.actions:
            params = _params(tenant, change, display)
            yield Notice(created_ids[change.source_id], "account_created", address, params, True)
        elif Action.RENAME in change.actions and change.account_id is not None:
            params = {**_params(tenant, change, display), "old_name": change.old_name}
            yield Notice(change.account_id, "account_renamed", address, params, False)


def _params(tenant: TenantSettings, change: Change, display: str | None) -> dict[str, str | None]:
    return {"tenant": tenant.id, "account_name": change.name, "display_name": display}
