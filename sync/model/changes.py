"""What a run plans for the accounts it finds: the store's view of an account, one account's
change, and the plan of a whole run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from sync.model.enums import AccountStatus, Action
from sync.model.grants import NO_GRANT_KEY, RoleChange
from sync.model.issues import UserIssue
from sync.model.profile import Profile, ProfileValues
from sync.model.record import record

# why an account is disabled
INACTIVE = "inactive in the source"
GONE = "gone from the source"
OUT_OF_SCOPE = "outside the tenant's group scope"
ENDED = "past its end date"  # SPEC §16: disabled from the day after the end date


class Dates(NamedTuple):
    """A person's first and last day of employment (SPEC §16); None where unknown."""

    start: date | None = None
    end: date | None = None


NO_DATES = Dates()


@record
class AccountState:
    """What the plan needs to know of a stored account."""

    id: int
    name: str
    composed_name: str | None
    active: bool
    name_locked: bool
    profile_digest: str
    # SPEC §10 "everyone gets a way in": whether a password was ever set, whether an invitation
    # (account_created) is on its way or was delivered, and where the last one failed
    password_set: bool = False
    invited: bool = False
    invite_failed_to: str | None = None
    # sync.planning.groups.Grant.key() of the stored privilege: role, scheme, matched group,
    # set by hand
    grant_key: str = NO_GRANT_KEY
    # SPEC §16: pending until its start date; the stored dates a date sweep acts on; and, for an
    # account still owed an invitation that waits for its day, the profile to send it to
    pending: bool = False
    dates: Dates = NO_DATES
    invite_profile: Profile | None = None

    @property
    def status(self) -> AccountStatus:
        if self.active:
            return AccountStatus.ACTIVE
        return AccountStatus.PENDING if self.pending else AccountStatus.DISABLED


@record
class Change:
    """What happens to one account. `actions` may hold several (renamed and updated, say);
    an empty set with a new `composed_name` only records what the rule now yields."""

    source_id: str
    actions: frozenset[Action]
    name: str
    account_id: int | None = None
    old_name: str | None = None
    composed_name: str | None = None
    profile: Profile | None = None
    why: str = ""
    invite: bool = False  # send account_created to an existing account (SPEC §10)
    grant: RoleChange | None = None  # a privilege the group rules change (SPEC §13)
    # SPEC §16: the status before and after when it is not plain active/disabled (a pending
    # account, or one becoming pending); the new dates when they changed (before, after); and
    # a new account whose invitation waits for its day (the date sweep sends it)
    status: tuple[str, str] | None = None
    dates: tuple[Dates, Dates] | None = None
    invite_later: bool = False

    def status_change(self) -> tuple[str, str]:
        """(before, after) of the status this change sets; for a create, before is None."""
        if self.status is not None:
            return self.status
        active, disabled = AccountStatus.ACTIVE.value, AccountStatus.DISABLED.value
        if Action.DISABLE in self.actions:
            return active, disabled
        if Action.ENABLE in self.actions:
            return disabled, active
        return "", active

    def date_fields(self) -> dict[str, tuple[str | None, str | None]]:
        """{start_date/end_date: (before, after)} of the dates this change moves, ISO text."""
        if self.dates is None:
            return {}
        before, after = self.dates
        found = {}
        for name, old, new in zip(("start_date", "end_date"), before, after, strict=True):
            if old != new:
                found[name] = (_iso(old), _iso(new))
        return found


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


@dataclass(slots=True)
class Plan:
    changes: list[Change] = field(default_factory=list)
    issues: list[UserIssue] = field(default_factory=list)
    unchanged: int = 0

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if action in change.actions)


def sends_invitation(change: Change, profile: ProfileValues | None = None) -> bool:
    """Whether the change sends account_created (to a password tenant's person): a new account
    or an invitation owed, with an address to send it to. `profile`: the change's profile,
    when the caller has already unpacked it."""
    if profile is None and change.profile is not None:
        profile = change.profile.values()
    has_address = profile is not None and bool(profile.primary_email)
    created = Action.CREATE in change.actions and not change.invite_later
    return has_address and (created or change.invite)
