"""Groups for scope and privileges (SPEC §13). Pure: a user's groups and the tenant's rules in,
a verdict out.

- scope: only members of the scope's groups get (or keep) accounts; someone who leaves the scope
  is disabled like someone gone (the disable guard applies).
- roles: the first rule whose group the user is in gives the CLOMO privilege; no rule matching
  gives `none`. A privilege set by hand is kept until the account's matched group changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sync.model import Role


@dataclass(frozen=True, slots=True)
class Grant:
    """A privilege, and the group whose rule gave it (None: no rule matched)."""

    role: str
    scheme: str | None
    group: str | None

    def key(self, by_hand: bool) -> str:
        """The grant as one string (what a stored account's state keeps: one object, shared
        by every account that holds no privilege)."""
        if self == NO_GRANT and not by_hand:
            return NO_GRANT_KEY
        return "\x1f".join((self.role, self.scheme or "", self.group or "", "1" if by_hand else ""))

    @staticmethod
    def of_key(key: str) -> tuple[Grant, bool]:
        role, scheme, group, hand = key.split("\x1f")
        return Grant(role, scheme or None, group or None), hand == "1"


NO_GRANT = Grant(Role.NONE.value, None, None)
NO_GRANT_KEY = "none\x1f\x1f\x1f"


@dataclass(frozen=True, slots=True)
class RoleChange:
    """A privilege the group rules change: from what (and whether set by hand) to what."""

    before: Grant
    by_hand: bool
    after: Grant

    def fields(self) -> dict[str, tuple[object, object]]:
        """For the audit: what changed, and that a privilege set by hand was replaced."""
        before, after = self.before, self.after
        pairs = (
            ("role", before.role, after.role),
            ("role_scheme", before.scheme, after.scheme),
            ("role_group", before.group, after.group),
        )
        said: dict[str, tuple[object, object]] = {k: (o, n) for k, o, n in pairs if o != n}
        if self.by_hand:
            said["role_by_hand"] = (True, False)
        return said


@dataclass(frozen=True, slots=True)
class GroupRules:
    scope: frozenset[str] | None = None  # None: everyone is in scope
    roles: tuple[Grant, ...] = ()  # in order; empty: privileges are set by hand only

    def in_scope(self, groups: frozenset[str]) -> bool:
        return self.scope is None or not self.scope.isdisjoint(groups)

    def grant(self, groups: frozenset[str]) -> Grant:
        for rule in self.roles:
            if rule.group in groups:
                return rule
        return NO_GRANT

    def regrant(self, groups: frozenset[str], stored_key: str) -> RoleChange | None:
        """The privilege to store now, or None to leave the stored one: roles are not managed
        by groups, nothing changed, or a privilege set by hand whose matched group is the same
        (for an account without one yet, pass NO_GRANT_KEY)."""
        if not self.roles:
            return None
        wanted = self.grant(groups)
        stored, by_hand = Grant.of_key(stored_key)
        if by_hand and stored.group == wanted.group:
            return None
        return None if (wanted == stored and not by_hand) else RoleChange(stored, by_hand, wanted)


def rules_from(
    scope: Sequence[str] | None, roles: Sequence[tuple[str, str, str | None]]
) -> GroupRules:
    """GroupRules from the configuration's values: scope groups, (group, role, scheme) rules."""
    grants = tuple(Grant(role, scheme, group) for group, role, scheme in roles)
    return GroupRules(frozenset(scope) if scope else None, grants)
