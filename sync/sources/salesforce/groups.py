"""Group membership for scope and roles (SPEC §13) from Salesforce public groups, read before the
users: the requested groups are public groups' API names (`Group.DeveloperName`, Type
'Regular'; compared case-insensitively, spelt as configured), found with one query on `Group`;
their members come from `GroupMember` (GroupId, UserOrGroupId), a level at a time: a member whose
id is a group's (prefix 00G) is a nested group, read at the next level, cycles harmless.

Roles and "roles and subordinates" added to a public group are Group records of their own (Type
Role, RoleAndSubordinates…) whose people are not in GroupMember: they are not followed (their
count is in the read's stats, `group_roles_not_followed`).
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_groupmember.htm
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sync.errors import StopRun

GROUP_PREFIX = "00G"  # the key prefix of Group ids
USER_PREFIX = "005"  # and of User ids
BATCH = 200  # ids per `IN (…)`: well inside SOQL's 100,000-character limit

Query = Callable[[str], list[dict[str, Any]]]  # every record of a SOQL query, all pages


class Membership:
    """Each user's requested groups, by the user's Id (the REST API's 18-character form, both in
    GroupMember and in User)."""

    def __init__(self) -> None:
        self._by_user: dict[str, set[str]] = {}
        self._shared: dict[frozenset[str], frozenset[str]] = {}
        self.stats = {"group_members": 0, "group_roles_not_followed": 0}

    def add(self, group: str, user_id: str) -> None:
        self._by_user.setdefault(user_id, set()).add(group)
        self.stats["group_members"] += 1

    def of(self, user_id: object) -> frozenset[str]:
        if not isinstance(user_id, str):
            return frozenset()
        groups = frozenset(self._by_user.get(user_id, ()))
        return self._shared.setdefault(groups, groups)


def read_membership(query: Query, groups: Iterable[str]) -> Membership:
    ids = _group_ids(query, groups)
    membership = Membership()
    regular = set(ids.values())
    for requested, start in ids.items():
        for member in _nested_members(query, start, regular, membership):
            membership.add(requested, member)
    return membership


def _group_ids(query: Query, groups: Iterable[str]) -> dict[str, str]:
    """Requested name -> the public group's Id; a clear stop for a name no public group has."""
    records = query("SELECT Id, DeveloperName FROM Group WHERE Type = 'Regular' ORDER BY Id")
    by_name = {str(r.get("DeveloperName") or "").lower(): str(r["Id"]) for r in records}
    found = {g: by_name.get(g.lower()) for g in sorted(groups)}
    missing = [g for g, group_id in found.items() if group_id is None]
    if missing:
        raise StopRun(
            f"Salesforce public group {', '.join(missing)} does not exist (named in "
            "[tenants.scope] or [[tenants.roles]] by its API name, Group.DeveloperName); "
            "nobody is disabled"
        )
    return {g: group_id for g, group_id in found.items() if group_id}


def _nested_members(
    query: Query, start: str, regular: set[str], membership: Membership
) -> set[str]:
    """The user ids in `start` and in the public groups within it, at any depth."""
    users: set[str] = set()
    seen, level = {start}, [start]
    while level:
        following: list[str] = []
        for batch in range(0, len(level), BATCH):
            listed = ", ".join(f"'{group_id}'" for group_id in level[batch : batch + BATCH])
            soql = (
                "SELECT GroupId, UserOrGroupId FROM GroupMember "
                f"WHERE GroupId IN ({listed}) ORDER BY Id"
            )
            for record in query(soql):
                member = str(record.get("UserOrGroupId") or "")
                if not member.isalnum():
                    continue  # never an id: nothing to follow, nothing to put in a query
                if member.startswith(USER_PREFIX):
                    users.add(member)
                elif member.startswith(GROUP_PREFIX) and member not in seen:
                    seen.add(member)
                    following.append(member)
        level = following
    # a nested group that is no public group is a role's (or a territory's): not in GroupMember
    membership.stats["group_roles_not_followed"] += sum(
        1 for group_id in seen if group_id not in regular
    )
    return users
