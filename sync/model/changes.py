"""What a run plans for the accounts it finds: the store's view of an account, one account's
change, and the plan of a whole run."""

from __future__ import annotations

from dataclasses import dataclass, field

from sync.model.enums import Action
from sync.model.grants import NO_GRANT_KEY, RoleChange
from sync.model.issues import UserIssue
from sync.model.profile import Profile, ProfileValues

# why an account is disabled
INACTIVE = "inactive in the source"
GONE = "gone from the source"
OUT_OF_SCOPE = "outside the tenant's group scope"


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
    return has_address and (Action.CREATE in change.actions or change.invite)
