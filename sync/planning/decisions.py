"""What the plan decides for one person and their account (SPEC §5.2, §16): pure functions of
the directory's user, the stored account and the tenant's policy, used by sync.planning.plan's
Planner, which adds what needs everyone at once (names, duplicates, the absent)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sync.compose.normalize import name_key, normalize_email, normalize_text
from sync.compose.rules import NameRule
from sync.model import (
    ENDED,
    INACTIVE,
    NO_DATES,
    AccountState,
    AccountStatus,
    Action,
    Change,
    Dates,
    DirectoryUser,
    Profile,
    ProfileValues,
    digest_of,
)
from sync.model.record import record
from sync.planning.dates import Calendar, Phase
from sync.planning.groups import GroupRules


def profile_values(user: DirectoryUser) -> ProfileValues:
    """The user's profile as accounts hold it: normalised, addresses without repeats."""
    primary = normalize_email(user.primary_email)
    if user.emails:
        emails = tuple(dict.fromkeys(e for e in map(normalize_email, user.all_emails()) if e))
    else:  # most people have one address: the primary, already normalised
        emails = (primary,) if primary else ()
    return ProfileValues(
        primary,
        emails,
        normalize_text(user.employee_code),
        normalize_text(user.given_name),
        normalize_text(user.family_name),
        normalize_text(user.display_name),
    )


def profile_of(user: DirectoryUser) -> Profile:
    return Profile(*profile_values(user))


@dataclass(frozen=True, slots=True)
class Policy:
    """The tenant's rules a plan applies to everyone: names, collisions, invitations, groups,
    and the plan's time for people with dates."""

    rule: NameRule
    collision: str = "suffix"
    needs_reset_email: bool = True
    groups: GroupRules = field(default_factory=GroupRules)
    # the plan's moment in the tenant's zone (SPEC §16's dates); needed once anyone has dates
    calendar: Calendar | None = None

    def phase(self, dates: Dates) -> Phase:
        if dates == NO_DATES:
            return Phase.DURING
        return self._calendar().phase(*dates)

    def invite_due(self, dates: Dates) -> bool:
        return dates.start is None or self._calendar().invite_due(dates.start)

    def _calendar(self) -> Calendar:
        if self.calendar is None:
            raise ValueError("a plan of people with dates needs the plan's time (a Calendar)")
        return self.calendar


# every combination of actions, made once: 100,000 new accounts share one {"create"}
_ACTION_SETS: dict[frozenset[Action], frozenset[Action]] = {}


def action_set(names: set[Action] | frozenset[Action]) -> frozenset[Action]:
    key = frozenset(names)
    return _ACTION_SETS.setdefault(key, key)


def wants_rename(account: AccountState, composed: str) -> bool:
    """Only the account's own composed name changing renames it, and never a locked name: a
    suffixed account (`taro-2`) keeps its name while its rule still yields `taro`."""
    return (
        not account.name_locked
        and composed != account.composed_name
        and name_key(composed) != name_key(account.name)
    )


@record
class Target:
    """What the directory says a person's account should be: its status and dates."""

    status: AccountStatus
    dates: Dates = NO_DATES
    why: str = ""  # why it is disabled


ACTIVE_TARGET = Target(AccountStatus.ACTIVE)
INACTIVE_TARGET = Target(AccountStatus.DISABLED, why=INACTIVE)


def target_of(user: DirectoryUser, policy: Policy) -> Target:
    """SPEC §16: active in the source and within its dates is active; before its start date,
    pending; after its end date, disabled whatever the source says."""
    if user.start_date is None and user.end_date is None:  # shared: most people have no dates
        return ACTIVE_TARGET if user.active else INACTIVE_TARGET
    dates = Dates(user.start_date, user.end_date)
    phase = policy.phase(dates)
    if phase is Phase.AFTER:
        return Target(AccountStatus.DISABLED, dates, ENDED)
    if not user.active:
        return Target(AccountStatus.DISABLED, dates, INACTIVE)
    status = AccountStatus.PENDING if phase is Phase.BEFORE else AccountStatus.ACTIVE
    return Target(status, dates)


def disabled_change(source_id: str, account: AccountState, why: str) -> Change:
    status = (account.status.value, AccountStatus.DISABLED.value) if account.pending else None
    actions = action_set({Action.DISABLE})
    return Change(source_id, actions, account.name, account_id=account.id, why=why, status=status)


def new_change(
    source_id: str, profile: Profile, name: str, composed: str, target: Target, later: bool
) -> Change:
    pending = target.status == AccountStatus.PENDING
    return Change(
        source_id,
        action_set({Action.CREATE}),
        name,
        composed_name=composed,
        profile=profile,
        status=("", AccountStatus.PENDING.value) if pending else None,
        dates=(NO_DATES, target.dates) if target.dates != NO_DATES else None,
        invite_later=later,
    )


def existing_change(
    source_id: str,
    profile: ProfileValues,
    target: Target,
    account: AccountState,
    composed: str | None,
    name: str,
) -> Change | None:
    """What changes for an account the directory still has; None when nothing does (most
    people, most runs)."""
    actions: set[Action] = set()
    moved = target.dates != account.dates
    if moved or digest_of(profile) != account.profile_digest:
        actions.add(Action.UPDATE)
    if name != account.name:
        actions.add(Action.RENAME)
    before, after = account.status, target.status
    if after == AccountStatus.PENDING and before == AccountStatus.ACTIVE:
        after = before  # a start date moved later never locks out someone already working
    restate = composed if composed != account.composed_name else None
    if not actions and after == before and restate is None:
        return None
    status = None
    if after != before:
        actions.add(Action.DISABLE if after == AccountStatus.DISABLED else Action.ENABLE)
        if AccountStatus.PENDING in (before, after):
            status = (before.value, after.value)
    return Change(
        source_id,
        action_set(actions),
        name,
        account_id=account.id,
        old_name=account.name if Action.RENAME in actions else None,
        composed_name=restate,
        profile=Profile(*profile) if actions & {Action.UPDATE, Action.RENAME} else None,
        why=target.why if Action.DISABLE in actions else "",
        status=status,
        dates=(account.dates, target.dates) if moved else None,
    )


def unchanged_change(source_id: str, account: AccountState) -> Change:
    """An account's change that changes nothing (an invitation or a privilege may join it)."""
    return Change(source_id, action_set(set()), account.name, account_id=account.id)
