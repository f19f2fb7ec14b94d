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

from sync.model.grants import NO_GRANT, Grant, RoleChange


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
