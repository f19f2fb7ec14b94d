"""Plan a run (SPEC §5.2): from the directory and the store's accounts to a list of changes.

Pure: values in, a Plan out. The `Planner` takes users one at a time as the source streams them,
so an unchanged user costs no memory after it has been compared; only new users and renames wait
for the end, where collisions are resolved together. Applying a plan is sync.store.apply's job,
printing it a dry run's (STYLE.md 5).
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from sync.compose.collisions import Assigned, Claim, NameBook, resolve
from sync.compose.normalize import name_key, normalize_email, normalize_text
from sync.compose.rules import Composed, NameRule
from sync.errors import UserIssue
from sync.model import DirectoryUser

INACTIVE = "inactive in the source"
GONE = "gone from the source"


ProfileFields = tuple[str | None, tuple[str, ...], str | None, str | None, str | None, str | None]


class Profile:
    """The account fields a sync keeps equal to the directory's: primary_email, emails,
    employee_code, given_name, family_name, display_name.

    Held as one marshalled blob rather than six objects: a first run keeps 100,000 of them from
    the read to the write (names are settled only when everyone has been read), and as separate
    strings and tuples they took about three times the memory. Reading a field unpacks them all
    (well under a microsecond); hot paths read `fields()` once."""

    __slots__ = ("_packed",)

    def __init__(
        self,
        primary_email: str | None = None,
        emails: tuple[str, ...] = (),
        employee_code: str | None = None,
        given_name: str | None = None,
        family_name: str | None = None,
        display_name: str | None = None,
    ) -> None:
        fields = (primary_email, tuple(emails), employee_code, given_name, family_name,
                  display_name)  # fmt: skip
        self._packed = marshal.dumps(fields)

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

    def fields(self) -> ProfileFields:
        fields: ProfileFields = marshal.loads(self._packed)
        return fields

    @property
    def primary_email(self) -> str | None:
        return self.fields()[0]

    @property
    def emails(self) -> tuple[str, ...]:
        return self.fields()[1]

    @property
    def employee_code(self) -> str | None:
        return self.fields()[2]

    @property
    def given_name(self) -> str | None:
        return self.fields()[3]

    @property
    def family_name(self) -> str | None:
        return self.fields()[4]

    @property
    def display_name(self) -> str | None:
        return self.fields()[5]

    def __eq__(self, other: object) -> bool:
        # not the blobs: marshal's bytes for equal values may differ (shared references)
        return isinstance(other, Profile) and self.fields() == other.fields()

    def __hash__(self) -> int:
        return hash(self.fields())

    def __repr__(self) -> str:
        names = ("primary_email", "emails", "employee_code", "given_name", "family_name",
                 "display_name")  # fmt: skip
        pairs = ", ".join(f"{n}={v!r}" for n, v in zip(names, self.fields(), strict=True))
        return f"Profile({pairs})"

    def digest(self) -> str:
        """A fingerprint stored with the account: comparing it tells whether anything changed
        without keeping every stored profile in memory."""
        return self.digest_of(self.fields())

    @staticmethod
    def digest_of(fields: ProfileFields) -> str:
        primary, emails, code, given, family, display = fields
        parts = (primary, "\x1e".join(emails), code, given, family, display)
        text = "\x1f".join("\x00" if p is None else p for p in parts)
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class AccountState:
    """What the plan needs to know of a stored account."""

    id: int
    name: str
    composed_name: str | None
    active: bool
    name_locked: bool
    profile_digest: str


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
            elif change.why == INACTIVE:  # a present user: it stays unchanged
                rest = replace(change, actions=change.actions - {"disable"}, why="")
                if rest.actions or rest.composed_name:
                    kept.changes.append(rest)
                kept.unchanged += not rest.actions
        return kept


@dataclass(frozen=True, slots=True)
class Policy:
    rule: NameRule
    collision: str = "suffix"
    needs_reset_email: bool = True


# every combination of actions, made once: 100,000 new accounts share one {"create"}
_ACTION_SETS: dict[frozenset[str], frozenset[str]] = {}


def _actions(names: set[str] | frozenset[str]) -> frozenset[str]:
    key = frozenset(names)
    return _ACTION_SETS.setdefault(key, key)


# what became of each source id the planner was given
UNCHANGED, CLAIMING, SKIPPED = -1, -2, -3


class Planner:
    """Builds a Plan from users given one at a time, in any order."""

    def __init__(self, accounts: Mapping[str, AccountState], book: NameBook, policy: Policy):
        self.accounts, self.book, self.policy = accounts, book, policy
        self.plan = Plan()
        self._fate: dict[str, int] = {}  # source id -> index in plan.changes, or a constant
        self._claims: dict[str, tuple[Profile, AccountState | None, str, bool]] = {}
        self._duplicates: set[str] = set()
        self._dropped: set[int] = set()  # indices of changes withdrawn for duplicate ids

    def add(self, user: DirectoryUser) -> None:
        source_id = user.source_id
        if source_id in self._fate:
            self._duplicates.add(source_id)
            return
        account = self.accounts.get(source_id)
        if account is None and not user.active:
            self._fate[source_id] = SKIPPED  # nobody gets an account the directory switched off
            return
        composed = self.policy.rule.compose(user)
        if not isinstance(composed, Composed):
            self._fate[source_id] = SKIPPED
            self.plan.issues.append(
                _not_named(source_id, composed.reason, composed.detail, account)
            )
        elif account is None or _wants_rename(account, composed.name):
            self._fate[source_id] = CLAIMING
            self._claims[source_id] = (Profile.of(user), account, composed.name, user.active)
        else:
            # a locked name keeps the composed name it had, so unlocking can rename it later
            kept = account.composed_name if account.name_locked else composed.name
            self._record(
                _existing(source_id, Profile.of(user), user.active, account, kept, account.name)
            )

    def set_aside(self, issue: UserIssue) -> None:
        """A user the source returned but could not use: reported, and not "gone"."""
        self.plan.issues.append(issue)
        self.set_aside_quietly(issue.source_id)

    def set_aside_quietly(self, source_id: str) -> None:
        """A user that is not to be planned, nor reported, nor taken for gone."""
        if source_id in self._fate:
            self._duplicates.add(source_id)
        self._fate.setdefault(source_id, SKIPPED)

    def remove(self, source_id: str) -> None:
        """A user the directory says was deleted (a delta read's removal): its active account is
        disabled as gone; a disabled one stays as it is; an id without an account is ignored."""
        if source_id in self._fate:
            self._duplicates.add(source_id)
            return
        account = self.accounts.get(source_id)
        if account is None:
            self._fate[source_id] = SKIPPED
        elif account.active:
            self._record(
                Change(source_id, _actions({"disable"}), account.name, account.id, why=GONE)
            )
        else:
            self._record(Change(source_id, frozenset(), account.name, account.id))

    def finish(self, *, full_read: bool) -> Plan:
        """Resolves the claims; on a full read, disables active accounts whose user is absent."""
        self._drop_duplicates()
        self._settle_claims()
        if full_read:
            self._disable_absent()
        # a report reads the same whatever order the source returned users in
        self.plan.issues.sort(key=lambda issue: (issue.source_id, issue.reason))
        if self._dropped:
            kept = enumerate(self.plan.changes)
            self.plan.changes = [c for i, c in kept if i not in self._dropped]
        return self.plan

    def _record(self, change: Change) -> None:
        if change.actions or (change.composed_name and change.account_id is not None):
            self._fate[change.source_id] = len(self.plan.changes)
            self.plan.changes.append(change)
        else:
            self._fate[change.source_id] = UNCHANGED
        self.plan.unchanged += not change.actions

    def _settle_claims(self) -> None:
        claims = [Claim(sid, base) for sid, (_, _, base, _) in self._claims.items()]
        rule = self.policy.rule
        outcome = resolve(
            claims, self.book, self.policy.collision, lambda n: isinstance(rule.check(n), Composed)
        )
        del claims  # 100,000 claims at that size: gone before the changes are made
        for source_id in sorted(self._claims):
            # popped: each claim's memory goes to its change, not to both
            profile, account, base, active = self._claims.pop(source_id)
            decision = outcome.pop(source_id)
            if isinstance(decision, Assigned):
                self._record(
                    _new(source_id, profile, decision.name, base)
                    if account is None
                    else _existing(source_id, profile, active, account, base, decision.name)
                )
                if account is None and self.policy.needs_reset_email and not profile.primary_email:
                    self.plan.issues.append(UserIssue(source_id, "missing_email", "primary_email"))
                continue
            self.plan.issues.append(UserIssue(source_id, "name_conflict", decision.holder))
            if account is not None:  # it keeps its name; its other changes still apply
                self._record(
                    _existing(
                        source_id, profile, active, account, account.composed_name, account.name
                    )
                )

    def _drop_duplicates(self) -> None:
        """Every row of an id the source returned twice is set aside; its account stays."""
        for source_id in sorted(self._duplicates):
            fate = self._fate[source_id]
            if fate >= 0:
                self._dropped.add(fate)
                self.plan.unchanged -= not self.plan.changes[fate].actions
            elif fate == UNCHANGED:
                self.plan.unchanged -= 1
            self._claims.pop(source_id, None)
            self._fate[source_id] = SKIPPED
        if self._duplicates:
            self.plan.issues = [i for i in self.plan.issues if i.source_id not in self._duplicates]
            self.plan.issues += [
                UserIssue(s, "duplicate_source_id", "the source returned this id more than once")
                for s in sorted(self._duplicates)
            ]

    def _disable_absent(self) -> None:
        for source_id in sorted(self.accounts.keys() - self._fate.keys()):
            account = self.accounts[source_id]
            if account.active:
                self.plan.changes.append(
                    Change(source_id, _actions({"disable"}), account.name, account.id, why=GONE)
                )


def make_plan(
    users: Iterable[DirectoryUser],
    accounts: Mapping[str, AccountState],
    book: NameBook,
    policy: Policy,
    *,
    full_read: bool,
) -> Plan:
    """The plan for a whole directory at once."""
    planner = Planner(accounts, book, policy)
    for user in users:
        planner.add(user)
    return planner.finish(full_read=full_read)


def _wants_rename(account: AccountState, composed: str) -> bool:
    """Only the account's own composed name changing renames it, and never a locked name: a
    suffixed account (`taro-2`) keeps its name while its rule still yields `taro`."""
    return (
        not account.name_locked
        and composed != account.composed_name
        and name_key(composed) != name_key(account.name)
    )


def _new(source_id: str, profile: Profile, name: str, composed: str) -> Change:
    return Change(source_id, _actions({"create"}), name, composed_name=composed, profile=profile)


def _existing(
    source_id: str,
    profile: Profile,
    active: bool,
    account: AccountState,
    composed: str | None,
    name: str,
) -> Change:
    actions: set[str] = set()
    if profile.digest() != account.profile_digest:
        actions.add("update")
    if name != account.name:
        actions.add("rename")
    if active != account.active:
        actions.add("enable" if active else "disable")
    restate = composed if composed != account.composed_name else None
    return Change(
        source_id,
        _actions(actions),
        name,
        account.id,
        account.name if "rename" in actions else None,
        restate,
        profile if actions & {"update", "rename"} else None,
        INACTIVE if "disable" in actions else "",
    )


def _not_named(source_id: str, reason: str, detail: str, account: AccountState | None) -> UserIssue:
    if account is not None:  # SPEC §3: the account is left as it is, and the report warns
        detail = f"{detail} (account {account.name} left unchanged)"
    return UserIssue(source_id, reason, detail)
