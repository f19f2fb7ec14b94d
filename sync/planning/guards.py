"""SPEC §10's guards: a run holds back a kind of change when the plan has more of it than the
tenant allows. Pure: a plan, the stored values it would overwrite and the tenant's bounds in; the
plan to apply and what it held back out.

- disable: an account disabled (gone from the source, or inactive there);
- rename: an account's name changed by the naming rule;
- clear: a stored primary_email, employee_code, given_name, family_name or display_name becoming
  empty. Holding a clear back keeps the stored value; the rest of that update goes through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from sync.model import INACTIVE, Action, Change, Plan, Profile, ProfileValues

CLEARABLE = ("primary_email", "employee_code", "given_name", "family_name", "display_name")
PERCENT_FROM = 20  # a percent bound applies only from this many active accounts on


class GuardKind(StrEnum):
    DISABLE = "disable"
    RENAME = "rename"
    CLEAR = "clear"


@dataclass(frozen=True, slots=True)
class Bound:
    key: str  # the count key's name: max_disable, max_rename, max_clear
    count: int  # 0: no count bound
    percent: float  # of the tenant's active accounts; 0: no percent bound

    def exceeded_by(self, planned: int, active: int) -> str | None:
        """Why `planned` changes are too many, or None when they are allowed."""
        if self.count and planned > self.count:
            return f"more than {self.key} = {self.count}"
        if self.percent and active >= PERCENT_FROM and planned * 100 > self.percent * active:
            return (
                f"more than {self.key}_percent = {self.percent:g} % of the {active} active accounts"
            )
        return None


@dataclass(frozen=True, slots=True)
class Limits:
    bounds: Mapping[GuardKind, Bound]


@dataclass(frozen=True, slots=True)
class Allowance:
    """What a run may do beyond its bounds: a whole kind (--allow-mass-disable), or the changes of
    an approved change set (its kind, for these source ids only)."""

    kinds: frozenset[GuardKind] = frozenset()
    approved: Mapping[GuardKind, frozenset[str]] = field(default_factory=dict)

    def lets(self, kind: GuardKind, change: Change) -> bool:
        return kind in self.kinds or change.source_id in self.approved.get(kind, frozenset())


@dataclass(frozen=True, slots=True)
class Held:
    """The changes of one kind a run held back, and why."""

    kind: GuardKind
    changes: tuple[Change, ...]
    reason: str  # e.g. "more than max_rename = 100"

    @property
    def count(self) -> int:
        return len(self.changes)


@dataclass(slots=True)
class Guarded:
    plan: Plan
    held: list[Held]
    # how many changes of an approved change set the plan still has (and so applies): an
    # approval whose run applies none of them says so (SPEC §14)
    approved: int = 0


def cleared_fields(change: Change, before: ProfileValues | None) -> tuple[str, ...]:
    """The stored fields this change's update would leave empty."""
    if Action.UPDATE not in change.actions or change.profile is None or before is None:
        return ()
    after = change.profile.values()
    return tuple(f for f in CLEARABLE if getattr(before, f) and not getattr(after, f))


def guard(
    plan: Plan,
    before: Mapping[int, ProfileValues],
    active: int,
    limits: Limits,
    allowance: Allowance | None = None,
    forced: Mapping[GuardKind, str] | None = None,
) -> Guarded:
    """The plan with every kind that exceeds its bound held back (an allowed change always
    passes and does not count towards the bound). `forced` holds a kind back whatever its
    count, for the reason given (a full read that returned nobody)."""
    allowance = allowance or Allowance()
    held: list[Held] = []
    for kind in GuardKind:
        candidates = [
            c for c in plan.changes if _is(kind, c, before) and not allowance.lets(kind, c)
        ]
        reason = (forced or {}).get(kind) or limits.bounds[kind].exceeded_by(
            len(candidates), active
        )
        if candidates and reason is not None:
            held.append(Held(kind, tuple(candidates), reason))
    approved = sum(
        1
        for kind, ids in allowance.approved.items()
        for c in plan.changes
        if c.source_id in ids and _is(kind, c, before)
    )
    if not held:
        return Guarded(plan, [], approved)
    return Guarded(_without(plan, held, before), held, approved)


def _is(kind: GuardKind, change: Change, before: Mapping[int, ProfileValues]) -> bool:
    if kind is GuardKind.DISABLE:
        return Action.DISABLE in change.actions
    if kind is GuardKind.RENAME:
        return Action.RENAME in change.actions
    stored = before.get(change.account_id) if change.account_id is not None else None
    return bool(cleared_fields(change, stored))


def _without(plan: Plan, held: list[Held], before: Mapping[int, ProfileValues]) -> Plan:
    kinds_of: dict[str, set[GuardKind]] = {}
    for h in held:
        for change in h.changes:
            kinds_of.setdefault(change.source_id, set()).add(h.kind)
    kept = Plan(issues=list(plan.issues), unchanged=plan.unchanged)
    for change in plan.changes:
        kinds = kinds_of.get(change.source_id)
        if not kinds:
            kept.changes.append(change)
            continue
        rest: Change | None = change
        for kind in kinds:
            rest = _hold(kind, rest, before) if rest is not None else None
        if rest is None:  # a disable of someone gone: nothing else was planned for them
            continue
        if rest.actions or rest.composed_name:
            kept.changes.append(rest)
        kept.unchanged += not rest.actions
    return kept


def _hold(kind: GuardKind, change: Change, before: Mapping[int, ProfileValues]) -> Change | None:
    """The change without its part of `kind`; None when nothing else is left of it."""
    if kind is GuardKind.DISABLE:
        if change.why != INACTIVE:
            return None
        return replace(change, actions=change.actions - {Action.DISABLE}, why="")
    if kind is GuardKind.RENAME:
        # the stored composed name stays too, so the next run plans the rename again
        assert change.old_name is not None
        actions = change.actions - {Action.RENAME}
        profile = change.profile if Action.UPDATE in actions else None
        return replace(change, actions=actions, name=change.old_name, old_name=None,
                       composed_name=None, profile=profile)  # fmt: skip
    assert change.account_id is not None and change.profile is not None
    stored = before[change.account_id]
    after = change.profile.values()
    kept = after._replace(**{f: getattr(stored, f) for f in cleared_fields(change, stored)})
    profile = Profile(**kept._asdict())
    if kept != stored:
        return replace(change, profile=profile)
    actions = change.actions - {Action.UPDATE}
    return replace(change, actions=actions, profile=profile if Action.RENAME in actions else None)
