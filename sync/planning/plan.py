"""Plan a run (SPEC §5.2): from the directory and the store's accounts to a list of changes.

Pure: values in, a Plan out. The `Planner` takes users one at a time as the source streams them,
so an unchanged user costs no memory after it has been compared; only new users and renames wait
for the end, where collisions are resolved together. What one person's account needs is decided
in sync.planning.decisions; this module adds what needs everyone at once. Applying a plan is
sync.store.apply's job, printing it a dry run's (STYLE.md 5).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import date

from sync.compose.collisions import Assigned, Claim, NameBook, contested
from sync.compose.rules import Composed
from sync.compose.steps import name_steps
from sync.errors import UserIssue
from sync.model import (
    ENDED,
    GONE,
    NO_DATES,
    OUT_OF_SCOPE,
    AccountState,
    AccountStatus,
    Action,
    Change,
    Dates,
    DirectoryUser,
    IssueReason,
    Person,
    Plan,
    Profile,
    ProfileValues,
    person_label,
)
from sync.model.grants import NO_GRANT_KEY, RoleChange
from sync.model.trace import Step, StepKind
from sync.planning.dates import Phase
from sync.planning.decisions import (
    Policy,
    Target,
    action_set,
    disabled_change,
    existing_change,
    new_change,
    profile_of,
    profile_values,
    target_of,
    unchanged_change,
    wants_rename,
)
from sync.planning.trace import as_read, claim_text, gone_text, kept_text, role_text, scope_text

__all__ = ["Planner", "Policy", "make_plan", "profile_of", "profile_values"]


# what became of each source id the planner was given
UNCHANGED, CLAIMING, SKIPPED = -1, -2, -3


class Planner:
    """Builds a Plan from users given one at a time, in any order.

    `watch`: source ids whose way through the plan is recorded step by step in `traces`
    (SPEC §18 `explain`): the steps are said where each decision is taken, so they cannot
    disagree with the plan."""

    def __init__(
        self,
        accounts: Mapping[str, AccountState],
        book: NameBook,
        policy: Policy,
        watch: Collection[str] = (),
    ):
        self.accounts, self.book, self.policy = accounts, book, policy
        self.watch = frozenset(watch)
        # each (start, end, active) seen, decided once: an HR source dates everyone, and whole
        # cohorts share their dates
        self._targets: dict[tuple[date | None, date | None, bool], Target] = {}
        self._fresh()

    def _fresh(self) -> None:
        """The state of a read: nothing given yet."""
        self.plan = Plan()
        self.traces: dict[str, list[Step]] = {}
        self.outside: set[str] = set()  # watched people outside the group scope
        self._fate: dict[str, int] = {}  # source id -> index in plan.changes, or a constant
        # a claimant's profile, account, composed name, target (status and dates) and locator
        # (its issues name the person: SPEC §18), packed (_packed)
        self._claims: dict[str, tuple[Profile, AccountState | None, str, Target, Person | str]]
        self._claims = {}
        self._duplicates: set[str] = set()
        self._dropped: set[int] = set()  # indices of changes withdrawn for duplicate ids
        self._grants: dict[str, RoleChange] = {}  # privileges the group rules give or change

    def restart(self) -> None:
        """Forgets every user given so far (the source reads again from the start): as new.
        Nothing given changed the accounts, the name book or the policy; names are claimed
        only when the plan is finished."""
        self._fresh()

    def add(self, user: DirectoryUser) -> None:
        source_id = user.source_id
        watched = source_id in self.watch
        if watched:
            self._note(source_id, StepKind.READ, as_read(user))
        if source_id in self._fate:
            self._duplicates.add(source_id)
            return
        account = self.accounts.get(source_id)
        rules = self.policy.groups
        if not rules.in_scope(user.groups):
            if watched:
                self._note(source_id, StepKind.SCOPE, scope_text(rules.scope, user.groups))
                self.outside.add(source_id)
            self._gone(source_id, account, OUT_OF_SCOPE)
            return
        if watched:
            self._note(source_id, StepKind.SCOPE, scope_text(rules.scope, user.groups))
        key = (user.start_date, user.end_date, user.active)
        target = self._targets.get(key) or self._targets.setdefault(
            key, target_of(user, self.policy)
        )
        if account is None and target.status == AccountStatus.DISABLED:
            if watched:
                self._note(
                    source_id, StepKind.ACTION, "inactive in the source, no account: none made"
                )
            self._fate[source_id] = SKIPPED  # nobody gets an account the directory switched off
            return
        stored = account.grant_key if account is not None else NO_GRANT_KEY
        grant = rules.regrant(user.groups, stored)
        if grant is not None:
            self._grants[source_id] = grant
        if watched and rules.roles:
            self._note(source_id, StepKind.ROLE, role_text(rules.grant(user.groups), stored, grant))
        composed = self.policy.rule.compose(user)
        if watched:
            for text in name_steps(self.policy.rule, user):
                self._note(source_id, StepKind.NAME, text)
        if not isinstance(composed, Composed):
            self._fate[source_id] = SKIPPED
            self._issue(_not_named(source_id, composed.reason, composed.detail, account, user))
        elif account is None or wants_rename(account, composed.name):
            self._fate[source_id] = CLAIMING
            self._claims[source_id] = (
                profile_of(user), account, composed.name, target, _packed(user.locator)
            )  # fmt: skip
        else:
            # a locked name keeps the composed name it had, so unlocking can rename it later
            kept = account.composed_name if account.name_locked else composed.name
            if watched:
                self._note(source_id, StepKind.COLLISION, kept_text(account, composed.name))
            # compared as plain values: an unchanged person's profile is never packed
            values = profile_values(user)
            self._keep(source_id, values, target, account, kept, account.name, user.locator)

    def set_aside(self, issue: UserIssue) -> None:
        """A user the source returned but could not use: reported, and not "gone"."""
        self._issue(issue)
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
        self._gone(source_id, self.accounts.get(source_id), GONE)

    def finish(self, *, full_read: bool, among: Collection[str] | None = None) -> Plan:
        """Resolves the claims; on a full read, disables active accounts whose user is absent
        (only those of `among` when given: a read of those people alone)."""
        self._drop_duplicates()
        self._settle_claims()
        self._unseen(full_read, among)
        # a report reads the same whatever order the source returned users in
        self.plan.issues.sort(key=lambda issue: (issue.source_id, issue.reason))
        if self._dropped:
            kept = enumerate(self.plan.changes)
            self.plan.changes = [c for i, c in kept if i not in self._dropped]
        return self.plan

    def _invited(
        self,
        change: Change,
        account: AccountState,
        profile: ProfileValues,
        dates: Dates,
        locator: Person = (),
    ) -> Change:
        """The change with the invitation the account is owed (SPEC §10: a password account that
        never had a password set is sent account_created as soon as it has an address, and
        again when it is re-enabled; SPEC §16: not before its invitation day), or its
        missing_email issue."""
        moved = change.actions & {Action.ENABLE, Action.DISABLE}
        after = change.status_change()[1] if moved else account.status
        reenabled = Action.ENABLE in change.actions and account.status == AccountStatus.DISABLED
        source_id = change.source_id
        if not self._owes_invitation(account, after, reenabled, dates):
            return change
        address = profile.primary_email
        if address and (address != account.invite_failed_to or reenabled):
            return replace(change, invite=True, profile=change.profile or Profile(*profile))
        detail = "primary_email"
        if address:
            detail = f"primary_email: the invitation to {address} could not be delivered"
        self._issue(UserIssue(source_id, IssueReason.MISSING_EMAIL, detail,
                              _person(profile, locator)))  # fmt: skip
        return change

    def _keep(
        self,
        source_id: str,
        values: ProfileValues,
        target: Target,
        account: AccountState,
        composed: str | None,
        name: str,
        locator: Person,
    ) -> None:
        """Records what becomes of an account the directory still has, with what it is owed."""
        change = existing_change(source_id, values, target, account, composed, name)
        if change is None and self._nothing_owed(source_id, account, target.dates):
            self._fate[source_id] = UNCHANGED  # most people, most runs: nothing built
            self.plan.unchanged += 1
            return
        change = change or unchanged_change(source_id, account)
        self._record(self._invited(change, account, values, target.dates, locator))

    def _nothing_owed(self, source_id: str, account: AccountState, dates: Dates) -> bool:
        """Whether an account whose directory entry changes nothing is owed nothing else either:
        no privilege the group rules change, no invitation."""
        if source_id in self._grants:
            return False
        return not self._owes_invitation(account, account.status, False, dates)

    def _owes_invitation(
        self, account: AccountState, after: str, reenabled: bool, dates: Dates
    ) -> bool:
        """Whether the account is owed account_created now, its status becoming `after`."""
        if not self.policy.needs_reset_email or account.password_set:
            return False
        if after == AccountStatus.DISABLED or (account.invited and not reenabled):
            return False
        return self.policy.invite_due(dates)

    def _note(self, source_id: str, kind: StepKind, text: str) -> None:
        self.traces.setdefault(source_id, []).append(Step(kind, text))

    def _issue(self, issue: UserIssue) -> None:
        self.plan.issues.append(issue)
        if issue.source_id in self.watch:
            self._note(issue.source_id, StepKind.ISSUE, f"{issue.reason}: {issue.detail}")

    def _gone(self, source_id: str, account: AccountState | None, why: str) -> None:
        """A user the directory no longer offers (deleted, or outside the tenant's group scope):
        an active account is disabled (the disable guard applies), a disabled one stays as it
        is, and nobody gets a new account."""
        if source_id in self.watch:
            self._note(source_id, StepKind.ACTION, gone_text(account, why))
        if account is None:
            self._fate[source_id] = SKIPPED
        elif account.status != AccountStatus.DISABLED:
            self._record(disabled_change(source_id, account, why))
        else:
            self._record(unchanged_change(source_id, account))

    def _record(self, change: Change) -> None:
        grant = self._grants.pop(change.source_id, None)
        if grant is not None:
            actions = (
                change.actions if change.account_id is None else change.actions | {Action.UPDATE}
            )
            change = replace(change, actions=action_set(actions), grant=grant)
        if change.invite or change.actions or (change.composed_name and change.account_id):
            self._fate[change.source_id] = len(self.plan.changes)
            self.plan.changes.append(change)
        else:
            self._fate[change.source_id] = UNCHANGED
        self.plan.unchanged += not change.actions

    def _settle_claims(self) -> None:
        # 100,000 claims at that size, held only while the names are settled
        claims = (Claim(sid, base) for sid, (_, _, base, _, _) in self._claims.items())
        rule = self.policy.rule
        outcome = contested(
            claims, self.book, self.policy.collision, lambda n: isinstance(rule.check(n), Composed)
        )
        for source_id in sorted(self._claims):
            # popped: each claim's memory goes to its change, not to both
            profile, account, base, target, packed = self._claims.pop(source_id)
            locator = _unpacked(packed)
            decision = outcome.pop(source_id, None) or Assigned(base)
            if source_id in self.watch:
                self._note(source_id, StepKind.COLLISION, claim_text(base, decision, account))
            if isinstance(decision, Assigned):
                if account is None:
                    later = not self.policy.invite_due(target.dates)
                    self._record(new_change(source_id, profile, decision.name, base, target, later))
                else:
                    values, name = profile.values(), decision.name
                    self._keep(source_id, values, target, account, base, name, locator)
                if account is None and self.policy.needs_reset_email and not profile.primary_email:
                    self._issue(UserIssue(source_id, IssueReason.MISSING_EMAIL, "primary_email",
                                          _person(profile.values(), locator)))  # fmt: skip
                continue
            self._issue(UserIssue(source_id, IssueReason.NAME_CONFLICT, decision.holder,
                                  _person(profile.values(), locator)))  # fmt: skip
            if account is not None:  # it keeps its name; its other changes still apply
                kept, values = account.composed_name, profile.values()
                self._keep(source_id, values, target, account, kept, account.name, locator)

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
                UserIssue(
                    s, IssueReason.DUPLICATE_SOURCE_ID, "the source returned this id more than once"
                )
                for s in sorted(self._duplicates)
            ]

    def _unseen(self, full_read: bool, among: Collection[str] | None = None) -> None:
        """The accounts the read did not return (of `among` only, when given: a read of those
        people alone). A full read disables them as gone; after any other read (a delta, or
        none: the date sweep) their stored dates still act (SPEC §16)."""
        fate = self._fate
        if full_read:
            unseen = self.accounts.keys() - fate.keys()
        else:  # only dated accounts can have anything to do, and most have no dates
            unseen = {s for s, a in self.accounts.items() if a.dates != NO_DATES and s not in fate}
        if among is not None:
            unseen &= set(among)
        for source_id in sorted(unseen):
            account = self.accounts[source_id]
            if full_read and source_id in self.watch:
                self._note(source_id, StepKind.READ, "not in the read: gone from the source")
                self._note(source_id, StepKind.ACTION, gone_text(account, GONE))
            if account.status == AccountStatus.DISABLED:
                continue
            if full_read:
                self.plan.changes.append(disabled_change(source_id, account, GONE))
            else:
                self._sweep(source_id, account)

    def _sweep(self, source_id: str, account: AccountState) -> None:
        """One stored account's dates, without its directory entry: disabled after the end
        date, activated on the start date, invited on its invitation day."""
        phase = self.policy.phase(account.dates)
        change = unchanged_change(source_id, account)
        if phase is Phase.AFTER:
            change = disabled_change(source_id, account, ENDED)
        elif account.pending and phase is Phase.DURING:
            status = (AccountStatus.PENDING.value, AccountStatus.ACTIVE.value)
            actions = action_set({Action.ENABLE})
            change = Change(source_id, actions, account.name, account_id=account.id, status=status)
        if account.invite_profile is not None:
            values = account.invite_profile.values()
            change = self._invited(change, account, values, account.dates)
        if change.actions or change.invite:
            self.plan.changes.append(change)


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


def _not_named(
    source_id: str,
    reason: IssueReason,
    detail: str,
    account: AccountState | None,
    user: DirectoryUser,
) -> UserIssue:
    if account is not None:  # SPEC §3: the account is left as it is, and the report warns
        detail = f"{detail} (account {account.name} left unchanged)"
    return UserIssue(source_id, reason, detail, user.person())


def _packed(locator: Person) -> Person | str:
    """A claimant's locator while the names wait to be settled: an LDAP entry's is its DN alone,
    (("dn", DN),), kept as the string: two tuples fewer for each of 100,000 claimants of a first
    run, about 10 MB at its peak."""
    if len(locator) == 1 and locator[0][0] == "dn":
        return locator[0][1]
    return locator


def _unpacked(packed: Person | str) -> Person:
    return (("dn", packed),) if isinstance(packed, str) else packed


def _person(values: ProfileValues, locator: Person) -> Person:
    return person_label(values.display_name, values.primary_email, values.employee_code, locator)
