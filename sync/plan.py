"""Plan a run (SPEC §5.2): from the directory and the store's accounts to a list of changes.

Pure: values in, a Plan out. Applying it is sync.store.apply's job, printing it a dry run's
(STYLE.md 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sync.compose.collisions import Assigned, Claim, NameBook, resolve
from sync.compose.normalize import name_key, normalize_email, normalize_text
from sync.compose.rules import Composed, NameRule
from sync.errors import UserIssue
from sync.model import DirectoryUser

ACTIONS = ("create", "update", "rename", "disable", "enable")


@dataclass(frozen=True, slots=True)
class Profile:
    """The account fields a sync keeps equal to the directory's."""

    primary_email: str | None = None
    emails: tuple[str, ...] = ()
    employee_code: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    display_name: str | None = None

    @classmethod
    def of(cls, user: DirectoryUser) -> Profile:
        emails = tuple(dict.fromkeys(e for e in map(normalize_email, user.all_emails()) if e))
        return cls(
            primary_email=normalize_email(user.primary_email),
            emails=emails,
            employee_code=normalize_text(user.employee_code),
            given_name=normalize_text(user.given_name),
            family_name=normalize_text(user.family_name),
            display_name=normalize_text(user.display_name),
        )


@dataclass(frozen=True, slots=True)
class AccountState:
    """What the plan needs to know of a stored account."""

    id: int
    name: str
    source_id: str
    composed_name: str | None
    active: bool
    name_locked: bool
    profile: Profile


@dataclass(frozen=True, slots=True)
class Change:
    """What happens to one account. `actions` may hold several (renamed and updated, say);
    an empty set with a new `composed_name` only records what the rule now yields."""

    source_id: str
    actions: frozenset[str]
    name: str
    account_id: int | None = None
    old_name: str | None = None
    composed_name: str | None = None
    profile: Profile | None = None
    why: str = ""


@dataclass(slots=True)
class Plan:
    changes: list[Change] = field(default_factory=list)
    issues: list[UserIssue] = field(default_factory=list)
    unchanged: int = 0

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if action in change.actions)

    def without_disables(self) -> Plan:
        """The plan a safety threshold leaves (SPEC §5.3): everything but the disables."""
        kept = Plan(issues=list(self.issues), unchanged=self.unchanged)
        for change in self.changes:
            if "disable" not in change.actions:
                kept.changes.append(change)
            elif change.why == "inactive in the source":  # a present user: it stays unchanged
                _record(kept, replace(change, actions=change.actions - {"disable"}, why=""))
        return kept


@dataclass(frozen=True, slots=True)
class Policy:
    rule: NameRule
    collision: str = "suffix"
    needs_reset_email: bool = True


def make_plan(
    users: Mapping[str, DirectoryUser],
    accounts: Mapping[str, AccountState],
    book: NameBook,
    policy: Policy,
    *,
    full_read: bool,
    seen: frozenset[str] = frozenset(),
) -> Plan:
    """`users` by source id (duplicates already removed); `accounts` by source id; `seen` are
    ids the source returned but that could not be used (they are not gone). On a full read,
    an active account whose user is absent is disabled."""
    plan = Plan()
    claims: list[Claim] = []
    pending: dict[str, tuple[DirectoryUser, AccountState | None, str]] = {}
    for source_id in sorted(users):
        user, account = users[source_id], accounts.get(source_id)
        if account is None and not user.active:
            continue  # nobody gets an account for a user the directory has switched off
        composed = policy.rule.compose(user)
        if not isinstance(composed, Composed):
            plan.issues.append(_not_named(source_id, composed.reason, composed.detail, account))
            continue
        if account is None or _wants_rename(account, composed.name):
            claims.append(Claim(source_id, composed.name))
            pending[source_id] = (user, account, composed.name)
        else:
            # a locked name keeps the composed name it had, so unlocking can rename it later
            kept = account.composed_name if account.name_locked else composed.name
            _record(plan, _existing(user, account, kept, account.name))
    outcome = resolve(claims, book, policy.collision, lambda n: policy.rule.check(n) == Composed(n))
    for source_id, (user, account, base) in sorted(pending.items()):
        decision = outcome[source_id]
        if isinstance(decision, Assigned):
            change = (
                _new(user, decision.name, base)
                if account is None
                else _existing(user, account, base, decision.name)
            )
            _record(plan, change)
            if account is None and policy.needs_reset_email and not user.primary_email:
                plan.issues.append(UserIssue(source_id, "missing_email", "primary_email"))
            continue
        plan.issues.append(UserIssue(source_id, "name_conflict", decision.holder))
        if account is not None:  # it keeps its name; its other changes still apply
            _record(plan, _existing(user, account, account.composed_name, account.name))
    if full_read:
        _disable_absent(plan, users, accounts, seen)
    return plan


def _wants_rename(account: AccountState, composed: str) -> bool:
    """Only the account's own composed name changing renames it, and never a locked name: a
    suffixed account (`taro-2`) keeps its name while its rule still yields `taro`."""
    return (
        not account.name_locked
        and composed != account.composed_name
        and name_key(composed) != name_key(account.name)
    )


def _new(user: DirectoryUser, name: str, composed: str) -> Change:
    return Change(
        user.source_id, frozenset({"create"}), name, None, None, composed, Profile.of(user)
    )


def _existing(
    user: DirectoryUser, account: AccountState, composed: str | None, name: str
) -> Change:
    actions: set[str] = set()
    profile = Profile.of(user)
    if profile != account.profile:
        actions.add("update")
    if name != account.name:
        actions.add("rename")
    if user.active != account.active:
        actions.add("enable" if user.active else "disable")
    why = "inactive in the source" if "disable" in actions else ""
    restate = composed if composed != account.composed_name else None
    return Change(
        user.source_id,
        frozenset(actions),
        name,
        account.id,
        account.name if "rename" in actions else None,
        restate,
        profile,
        why,
    )


def _record(plan: Plan, change: Change) -> None:
    if change.actions or (change.composed_name and change.account_id is not None):
        plan.changes.append(change)
    if not change.actions:
        plan.unchanged += 1


def _not_named(source_id: str, reason: str, detail: str, account: AccountState | None) -> UserIssue:
    if account is not None:  # SPEC §3: the account is left as it is, and the report warns
        detail = f"{detail} (account {account.name} left unchanged)"
    return UserIssue(source_id, reason, detail)


def _disable_absent(
    plan: Plan,
    users: Mapping[str, DirectoryUser],
    accounts: Mapping[str, AccountState],
    seen: frozenset[str],
) -> None:
    for source_id in sorted(accounts):
        account = accounts[source_id]
        if account.active and source_id not in users and source_id not in seen:
            plan.changes.append(
                Change(
                    source_id,
                    frozenset({"disable"}),
                    account.name,
                    account.id,
                    why="gone from the source",
                )
            )
